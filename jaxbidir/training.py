"""The training run users start: seeds side by side, jitted chunks of updates, a progress bar,
metrics to JSON lines and TensorBoard, orbax checkpoints, exact resume.

    run(config, out_dir, resume=False) -> summary dict

Layout of `out_dir`: `config.json`, `metrics.jsonl` (one line per update: means over seeds and
each seed's success rate and return), `eval.jsonl` (one line per evaluation on the fixed
episodes, every `run.eval_every` updates from update 0: means and each seed's figures),
`tb/` (TensorBoard), `checkpoints/<update>/` (orbax:
every seed's student, optimizer, environments, RNG and update count, with the config), and
`summary.json` at the end. A run killed at any point resumes from its last checkpoint with
`resume=True` and writes the same metrics as a run never interrupted; a checkpoint damaged on
disk is reported in one line, set aside and skipped for the one before it
(`restore_newest_good`), and a metrics line cut by the kill is dropped (`read_metrics`).

On several processes (`jaxbidir.distributed`) every process runs this with the same config and
`out_dir` (a file system they share): the seeds are sharded over all their devices, each process
runs its own, process 0 gathers the per-seed metrics and alone writes the files above (the
same content as one process's) and shows the progress; the checkpoints are one for the whole run,
written by all. A run resumes on any number of processes whose devices divide its seeds.
"""

import functools
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxbidir import distributed, feedback, glam, nonfinite
from jaxbidir.checkpoints import (
    checkpoint_manager,
    restore_newest_good,
    save,
    saved_config,
    updates_done,
)
from jaxbidir.config import Config, flatten, from_dict
from jaxbidir.runner import Trainer

PER_SEED = (
    "success_rate",
    "episode_return",
    "episodes",
    "hint_accuracy",
    "hint_score_gap",
    "hint_score_auc",
)


def make_train(config: Config) -> Trainer:
    """The trainer of `config.mode`: GLAM's (`jaxbidir.glam`) or the fused step of the feedback
    modes (`jaxbidir.feedback`), both `jaxbidir.runner.Trainer`s."""
    return (glam.make_train if config.mode == "glam" else feedback.make_train)(config)


def seed_sharding(num_seeds: int):
    """Shard the seed axis over all devices (all processes' after `jax.distributed.initialize`)
    when it divides evenly; None (one device) otherwise, which several processes cannot do."""
    devices = jax.devices()
    if num_seeds % len(devices) and jax.process_count() > 1:
        raise ValueError(
            f"run.num_seeds={num_seeds} does not divide over the {len(devices)} devices of the "
            f"{jax.process_count()} processes: choose a multiple of {len(devices)}"
        )
    if len(devices) == 1 or num_seeds % len(devices):
        return None
    return NamedSharding(Mesh(np.array(devices), ("seeds",)), PartitionSpec("seeds"))


def init_seeds(trainer, config: Config):
    """RunnerState with a leading seed axis, placed on the devices. Like a state restored from a
    checkpoint or returned by a chunk, it is committed to them and has no weak types: a resumed
    run then runs the very program of a fresh one (also found in the persistent compilation
    cache, not compiled again)."""
    # with JAX's partitionable threefry (its default), split(key, n)[i] does not depend on n
    first, n = config.run.first_seed, config.run.num_seeds
    if first and not jax.config.jax_threefry_partitionable:
        raise ValueError("run.first_seed needs jax_threefry_partitionable (JAX's default) on: "
                         "without it a seed's key depends on how many seeds are drawn")  # fmt: skip
    keys = jax.random.split(jax.random.PRNGKey(config.run.seed), first + n)[first:]
    sharding = seed_sharding(config.run.num_seeds)
    placed = sharding or jax.sharding.SingleDeviceSharding(jax.local_devices()[0])

    def init(keys):
        return _strongly_typed(vmap_seeds(trainer.init)(keys))

    return jax.jit(init, out_shardings=placed)(keys), sharding


def _strongly_typed(tree):
    """`tree` without weak types (convert_element_type drops a weak type, and is a no-op
    otherwise). The state then has the same types from `init_seeds`, a chunk or a checkpoint,
    and the first chunk's program serves every chunk: a step that leaves a weak type (the
    environments' `step_type`) would otherwise make the second chunk compile again, which a
    process other than process 0 cannot find in the persistent compilation cache."""
    return jax.tree.map(lambda x: jax.lax.convert_element_type(x, x.dtype), tree)


def vmap_seeds(fn):
    """`jax.vmap(fn)` over the seed axis of its one argument, but with one seed `fn` itself, the
    axis taken off and put back: not batching the program halves the time to trace and lower
    it, which is most of a second run's start once the persistent cache has its programs."""

    def seeds(state):
        if _num_seeds(state) != 1:
            return jax.vmap(fn)(state)
        out = fn(jax.tree.map(lambda x: x[0], state))
        return jax.tree.map(lambda x: x[None], out)

    return seeds


def _num_seeds(state) -> int:
    return jax.tree.leaves(state)[0].shape[0]


def over_seeds(fn, sharding=None, seed_batch: int = 0):
    """jit(`fn` of one seed's state (and arguments shared by all seeds), over a leading seed
    axis of the state).

    On one device, `seed_batch` > 0 vmaps that many seeds at a time and runs the groups one
    after another (`lax.map`): the working set stays that of `seed_batch` seeds, which keeps
    the per-frame cost of 1024 seeds at that of 64 on a CPU, in a sixth of the memory. Sharded
    seeds are all vmapped (each device holds its share)."""

    def seeds(state, *shared):
        one = lambda s: fn(s, *shared)  # noqa: E731
        if sharding is None and seed_batch and _num_seeds(state) > 1:
            return jax.lax.map(one, state, batch_size=seed_batch)
        return vmap_seeds(one)(state)

    return jax.jit(seeds, **({"out_shardings": sharding} if sharding is not None else {}))


def make_chunk(trainer: Trainer, length: int, sharding, seed_batch: int = 0):
    """jit(over seeds, `length` updates in a scan) -> (state, metrics [seeds, length]), called
    as chunk(state, first): `first`, the number of the chunk's first update (all seeds')."""

    def chunk(state, first):
        state, metrics = jax.lax.scan(trainer.update, state, first + jnp.arange(length))
        return _strongly_typed(state), metrics

    return over_seeds(chunk, sharding, seed_batch)


def read_metrics(path) -> list[dict]:
    """The records of a run's `metrics.jsonl` ([] when there is none). A line is whole when it
    ends in a newline: a run killed while writing leaves its last line cut, which is dropped
    (a resumed run writes that update again)."""
    path = Path(path)
    if not path.exists():
        return []
    *whole, _cut = path.read_text().split("\n")
    records = []
    for number, line in enumerate(whole, 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}, line {number}: not a JSON record ({error})") from None
    return records


def _lines(metrics: dict, first_update: int) -> list[dict]:
    """Per-update JSON records from chunk metrics `{name: numpy [seeds, length]}`."""
    length = next(iter(metrics.values())).shape[1]
    out = []
    for i in range(length):
        line = {"update": first_update + i + 1}
        for name, value in metrics.items():
            line[name] = float(np.mean(value[:, i]))
        line["frames"] = int(metrics["frames"][0, i])
        for name in (n for n in PER_SEED if n in metrics):
            line[f"{name}_per_seed"] = _per_seed(metrics[name][:, i])
        out.append(line)
    return out


def _per_seed(values) -> list[float]:
    return [round(float(v), 6) for v in values]


def _eval_line(figures: dict, update: int, frames: int) -> dict:
    """The JSON record of one evaluation `{name: numpy [seeds]}`: means and each seed's figure."""
    line = {"update": update, "frames": frames}
    line.update({name: float(np.mean(value)) for name, value in figures.items()})
    line.update({f"{name}_per_seed": _per_seed(value) for name, value in figures.items()})
    return line


def _keep_until(path: Path, done: int) -> list[dict]:
    """Rewrite the JSON lines file `path` without the records after update `done` (written
    again, identically, by a resumed run); -> the records kept."""
    kept = [line for line in read_metrics(path) if line["update"] <= done]
    path.write_text("".join(json.dumps(line) + "\n" for line in kept))
    return kept


def _append(path: Path, writer, lines: list[dict], not_scalars=("update",)):
    """Append JSON `lines` to `path`, and their scalars (but `not_scalars`) to TensorBoard
    against frames; a NaN (a figure not defined at that update, e.g. the score gap of an update
    without wrong hints) goes to the JSON only."""
    with path.open("a") as log:
        for line in lines:
            log.write(json.dumps(line) + "\n")
            for name, value in line.items():
                if not isinstance(value, list) and name not in not_scalars and value == value:
                    writer.add_scalar(name, value, line["frames"])


def run(
    config: Config, out_dir, resume: bool = False, progress: bool = True, stop_after=None
) -> dict:
    """Train (or, with `resume`, continue) the run in `out_dir`; returns the summary.
    `stop_after`: stop after that many updates without a final checkpoint, as a killed run
    would (for tests of resume). On several processes each calls it alike (module docstring)."""
    from tensorboardX import SummaryWriter

    # STAGE 1: the seeds' first state, or the one the last checkpoint holds
    out_dir = Path(out_dir)
    main = distributed.is_main()  # writes the files; the others only run their seeds
    manager = checkpoint_manager(out_dir)
    if manager.latest_step() is not None and not resume:
        raise FileExistsError(
            f"{out_dir} already holds checkpoints (update {manager.latest_step()}): pass "
            f"--resume to continue that run, or choose another --out"
        )
    trainer = make_train(config)
    start = time.perf_counter()
    state, sharding = init_seeds(trainer, config)
    state, done, evaluated = _starting_point(manager, config, state, out_dir, resume)
    metrics_path, eval_path = out_dir / "metrics.jsonl", out_dir / "eval.jsonl"

    # STAGE 2: chunks of updates, each logged; evaluations and checkpoints when due
    run_cfg, total = config.run, config.num_updates
    # one program by length: log_every, and what is left at the end
    chunk = functools.cache(lambda n: make_chunk(trainer, n, sharding, run_cfg.seed_batch))
    evaluate = over_seeds(trainer.evaluate, sharding, run_cfg.seed_batch)
    writer = SummaryWriter(str(out_dir / "tb")) if main else None

    def evaluate_if_due(done):
        """An evaluation at update 0, every eval_every updates and at the end (once each)."""
        due = run_cfg.eval_every and (done % run_cfg.eval_every == 0 or done >= total)
        if due and done not in evaluated:
            figures = distributed.to_host(evaluate(state))
            line = _eval_line(figures, done, done * config.frames_per_update)
            if main:
                _append(eval_path, writer, [line], not_scalars=("update", "frames"))
            evaluated.add(done)

    bar = _progress_bar(config, done, show=progress and main)
    compile_s, last = None, {}
    try:
        evaluate_if_due(done)
        while done < total:
            t0 = time.perf_counter()
            length = min(run_cfg.log_every, total - done)
            # `state` stays the last state whose metrics are all written (what Ctrl-C saves)
            new_state, metrics = chunk(length)(state, np.int32(done))
            metrics = distributed.to_host(metrics)  # waits for the chunk; every seed's
            if "nonfinite" in metrics:  # raised before this chunk's state can be saved
                nonfinite.check(metrics.pop("nonfinite"), done, out_dir)
            lines = _lines(metrics, done)
            compile_s = compile_s if compile_s is not None else time.perf_counter() - t0
            if main:
                _append(metrics_path, writer, lines)
            last = lines[-1]
            state, done = new_state, done + length
            bar.update(length * config.frames_per_update)
            if stop_after is not None and done >= stop_after:
                return {"stopped_after": done}
            bar.set_postfix(
                success=f"{last['success_rate']:.3f}", ret=f"{last['episode_return']:.3f}"
            )
            evaluate_if_due(done)
            if done % run_cfg.checkpoint_every == 0 or done >= total:
                save(manager, state, config)
    except KeyboardInterrupt:
        save(manager, state, config)  # the last whole chunk: --resume continues from it
        raise
    finally:
        bar.close()
        if writer is not None:
            writer.close()

    # STAGE 3: the summary
    summary = _summary(config, last, time.perf_counter() - start, compile_s, eval_path)
    if main:
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _progress_bar(config: Config, done: int, show: bool):
    """tqdm over the run's frames per seed, from the `done` updates of a resumed run."""
    from tqdm import tqdm

    return tqdm(
        total=config.num_updates * config.frames_per_update,
        initial=done * config.frames_per_update,
        unit="frame",
        unit_scale=True,
        disable=not show,
        desc=f"{config.env.id} {config.mode}",
    )


def _starting_point(manager, config: Config, state, out_dir: Path, resume: bool):
    """-> (state, updates done, the updates whose evaluation is written): of the newest
    checkpoint that restores with `resume` (its metrics and evaluations after it dropped, to be
    written again), else `state` at update 0 (with fresh metrics files). Writes config.json once
    the config is known to fit."""
    main = distributed.is_main()
    metrics_path, eval_path = out_dir / "metrics.jsonl", out_dir / "eval.jsonl"
    done, evaluated = 0, set()
    if resume and manager.latest_step() is not None:
        # the config first: a state of other shapes would not restore, and look damaged
        saved = saved_config(manager)
        if "env.id" not in flatten(saved):
            raise ValueError(
                f"{out_dir} was saved by an earlier jaxbidir, whose config had no tables: this "
                f"version cannot resume it; train it again in another --out"
            )
        # as this version reads it: a field added since is at its default, as the run ran
        saved, now = flatten(from_dict(saved).to_dict()), flatten(config.to_dict())
        if saved != now:
            diff = {k: (saved.get(k), v) for k, v in now.items() if saved.get(k) != v}
            raise ValueError(f"--resume with a different config (saved, now): {diff}")
        state, _, _ = restore_newest_good(manager, state, set_aside=True)
        done = updates_done(state)
        if main:
            _keep_until(metrics_path, done)
            evaluated = {line["update"] for line in _keep_until(eval_path, done)}
        # whether the evaluation at `done` is written: every process must know (it is collective)
        evaluated = {done} if distributed.from_main(done in evaluated) else set()
    elif main:
        metrics_path.unlink(missing_ok=True)
        eval_path.unlink(missing_ok=True)
    if main:
        (out_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    return state, done, evaluated


def _summary(config: Config, last: dict, wall: float, compile_s, eval_path: Path) -> dict:
    """The run's summary (`summary.json`): `last`, the last update's metrics line; the final
    evaluation from `eval_path` (which process 0 alone writes: None on the others)."""
    evaluations = read_metrics(eval_path) if distributed.is_main() else []
    return {
        "env_id": config.env.id,
        "mode": config.mode,
        "num_seeds": config.run.num_seeds,
        "updates": config.num_updates,
        "frames_per_seed": config.num_updates * config.frames_per_update,
        "wall_clock_s": round(wall, 2),
        "first_chunk_s (compile)": round(compile_s or 0.0, 2),
        "final": {k: v for k, v in last.items() if not isinstance(v, list)},
        "final_success_per_seed": last.get("success_rate_per_seed"),
        "final_evaluation": evaluations[-1] if evaluations else None,
        "eval_episodes": config.run.eval_episodes,
    }
