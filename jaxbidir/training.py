"""The training run users start: seeds side by side, jitted chunks of updates, a progress bar,
metrics to JSON lines and TensorBoard, orbax checkpoints, exact resume.

    run(config, out_dir, resume=False) -> summary dict

Layout of `out_dir`: `config.json`, `metrics.jsonl` (one line per update: means over seeds and
each seed's success rate and return), `tb/` (TensorBoard), `checkpoints/<update>/` (orbax:
every seed's student, optimizer, environments, RNG and update count, with the config), and
`summary.json` at the end. A run killed at any point resumes from its last checkpoint with
`resume=True` and writes the same metrics as a run never interrupted.
"""

import json
import time
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxbidir.config import Config

PER_SEED = ("success_rate", "episode_return", "hint_accuracy")


def make_train(config: Config):
    """The trainer of `config.mode`: GLAM's (`jaxbidir.glam`) or the fused step of the other
    modes (`jaxbidir.feedback`), with the same interface."""
    if config.mode == "glam":
        from jaxbidir.glam import make_train
    else:
        from jaxbidir.feedback import make_train
    return make_train(config)


def seed_sharding(num_seeds: int):
    """Shard the seed axis over all devices (all hosts' after `jax.distributed.initialize`) when
    it divides evenly; None (one device) otherwise."""
    devices = jax.devices()
    if len(devices) == 1 or num_seeds % len(devices):
        return None
    return NamedSharding(Mesh(np.array(devices), ("seeds",)), PartitionSpec("seeds"))


def init_seeds(trainer, config: Config):
    """RunnerState with a leading seed axis, placed on the devices."""
    keys = jax.random.split(jax.random.PRNGKey(config.seed), config.num_seeds)
    sharding = seed_sharding(config.num_seeds)
    init = jax.jit(jax.vmap(trainer.init), out_shardings=sharding)
    return init(keys), sharding


def make_chunk(trainer, length: int, sharding, seed_batch: int = 0):
    """jit(vmap over seeds of `length` updates in a scan) -> (state, metrics [seeds, length]).

    On one device, `seed_batch` > 0 vmaps that many seeds at a time and runs the groups one
    after another (`lax.map`): the working set stays that of `seed_batch` seeds, which keeps
    the per-frame cost of 1024 seeds at that of 64 on a CPU, in a sixth of the memory. Sharded
    seeds are all vmapped (each device holds its share)."""

    def chunk(state):
        return jax.lax.scan(lambda s, _: trainer.update(s), state, None, length=length)

    if sharding is None and seed_batch:
        return jax.jit(lambda state: jax.lax.map(chunk, state, batch_size=seed_batch))
    return jax.jit(jax.vmap(chunk), out_shardings=(sharding, sharding) if sharding else None)


def checkpoint_manager(out_dir: Path) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(max_to_keep=2, create=True)
    return ocp.CheckpointManager((out_dir / "checkpoints").resolve(), options=options)


def save(manager, state, config: Config):
    """Atomic: orbax writes into a temporary directory and renames it when complete."""
    update = int(np.asarray(state.update).ravel()[0])
    manager.save(
        update,
        args=ocp.args.Composite(
            state=ocp.args.StandardSave(state), config=ocp.args.JsonSave(config.to_dict())
        ),
    )
    manager.wait_until_finished()


def saved_config(manager, step=None) -> dict:
    """The config saved with checkpoint `step` (default: the latest), without the state."""
    step = manager.latest_step() if step is None else step
    return manager.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore())).config


def restore(manager, abstract_state, step=None):
    """(state, saved config dict) of checkpoint `step` (default: the latest)."""
    step = manager.latest_step() if step is None else step
    out = manager.restore(
        step,
        args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state), config=ocp.args.JsonRestore()
        ),
    )
    return out.state, out.config


def _lines(metrics: dict, first_update: int) -> list[dict]:
    """Per-update JSON records from chunk metrics `{name: [seeds, length]}`."""
    metrics = jax.device_get(metrics)
    length = next(iter(metrics.values())).shape[1]
    out = []
    for i in range(length):
        line = {"update": first_update + i + 1}
        for name, value in metrics.items():
            line[name] = float(np.mean(value[:, i]))
        line["frames"] = int(metrics["frames"][0, i])
        for name in (n for n in PER_SEED if n in metrics):
            line[f"{name}_per_seed"] = [round(float(v), 6) for v in metrics[name][:, i]]
        out.append(line)
    return out


def run(
    config: Config, out_dir, resume: bool = False, progress: bool = True, stop_after=None
) -> dict:
    """Train (or, with `resume`, continue) the run in `out_dir`; returns the summary.
    `stop_after`: stop after that many updates without a final checkpoint, as a killed run
    would (for tests of resume)."""
    from tensorboardX import SummaryWriter
    from tqdm import tqdm

    out_dir = Path(out_dir)
    manager = checkpoint_manager(out_dir)
    if manager.latest_step() is not None and not resume:
        raise FileExistsError(
            f"{out_dir} already holds checkpoints (update {manager.latest_step()}): pass "
            f"--resume to continue that run, or choose another --out"
        )
    trainer = make_train(config)
    start = time.perf_counter()
    state, sharding = init_seeds(trainer, config)
    done = 0
    metrics_path = out_dir / "metrics.jsonl"
    if resume and manager.latest_step() is not None:
        state, saved = restore(manager, state)
        if saved != config.to_dict():
            diff = {k: (saved.get(k), v) for k, v in config.to_dict().items() if saved.get(k) != v}
            raise ValueError(f"--resume with a different config (saved, now): {diff}")
        done = int(np.asarray(state.update).ravel()[0])
        # lines written after the checkpoint are written again, identically
        kept = [
            line
            for line in (metrics_path.read_text().splitlines() if metrics_path.exists() else [])
            if json.loads(line)["update"] <= done
        ]
        metrics_path.write_text("".join(line + "\n" for line in kept))
    elif metrics_path.exists():
        metrics_path.unlink()
    (out_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2))

    chunks = {}  # by length: log_every, and what is left at the end
    total = config.num_updates
    writer = SummaryWriter(str(out_dir / "tb"))
    bar = tqdm(
        total=total * config.frames_per_update,
        initial=done * config.frames_per_update,
        unit="frame",
        unit_scale=True,
        disable=not progress,
        desc=config.env_id,
    )
    compile_s, last = None, {}
    try:
        with metrics_path.open("a") as log:
            while done < total:
                t0 = time.perf_counter()
                length = min(config.log_every, total - done)
                if length not in chunks:
                    chunks[length] = make_chunk(trainer, length, sharding, config.seed_batch)
                state, metrics = chunks[length](state)
                lines = _lines(metrics, done)  # waits for the chunk
                compile_s = compile_s if compile_s is not None else time.perf_counter() - t0
                for line in lines:
                    log.write(json.dumps(line) + "\n")
                    for name, value in line.items():
                        if not isinstance(value, list) and name != "update":
                            writer.add_scalar(name, value, line["frames"])
                    last = line
                log.flush()
                done += length
                bar.update(length * config.frames_per_update)
                if stop_after is not None and done >= stop_after:
                    return {"stopped_after": done}
                bar.set_postfix(
                    success=f"{last['success_rate']:.3f}", ret=f"{last['episode_return']:.3f}"
                )
                if done % config.checkpoint_every == 0 or done >= total:
                    save(manager, state, config)
    except KeyboardInterrupt:
        save(manager, state, config)  # the last whole chunk: --resume continues from it
        raise
    finally:
        bar.close()
        writer.close()
    wall = time.perf_counter() - start
    summary = {
        "env_id": config.env_id,
        "num_seeds": config.num_seeds,
        "updates": total,
        "frames_per_seed": total * config.frames_per_update,
        "wall_clock_s": round(wall, 2),
        "first_chunk_s (compile)": round(compile_s or 0.0, 2),
        "final": {k: v for k, v in last.items() if not isinstance(v, list)},
        "final_success_per_seed": last.get("success_rate_per_seed"),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
