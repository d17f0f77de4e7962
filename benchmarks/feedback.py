"""What the teacher costs: frames/s of the fused step in each arm (`student_only`,
`teacher_frozen`, `bidirectional` with the full update and with LoRA adapters, and learning
every k-th update only) on the same config and batch, in one process, timings interleaved; and
the memory each needs per seed.

    python benchmarks/feedback.py [--config NAME] [--seeds 1 256] [--seed-batch 8]
                                  [--repeats 3] [--arms a,b] [--memory-seeds 1024]
                                  [table.key=value ...]

Many seeds run `--seed-batch` at a time (`lax.map`), as training does with `run.seed_batch`.
Memory is XLA's analysis of the compiled update (its arguments, the seeds' whole state; its
temporaries, the working set of one group of seeds; its outputs, the new state), per seed;
`--memory-seeds` compiles (and does not run) the update for those many seeds as well, to tell
whether they fit in one process.
With `teacher.path=DIR` the teacher is another one (`python benchmarks/teacher.py
--write-smollm DIR` writes a SmolLM2-135M-shaped one).

Prints a table; the last line is one JSON object with the figures.
"""

import argparse
import json
import statistics
import time

import jax
import numpy as np

ARMS = {
    "student_only": {"mode": "student_only"},
    "teacher_frozen": {"mode": "teacher_frozen"},
    "bidirectional": {"mode": "bidirectional"},
    "bidirectional_lora": {"mode": "bidirectional", "teacher.update": "lora"},
    # the teacher learns every k-th student update (feedback.teacher_every)
    "bidirectional_every4": {"mode": "bidirectional", "feedback.teacher_every": 4},
    **{f"bidirectional_lora_every{k}": {
        "mode": "bidirectional", "teacher.update": "lora", "feedback.teacher_every": k,
    } for k in (4, 8)},
    # the hint channels (feedback.channel) on the oracle's hints: text only, the action prior,
    # the subgoal bonus
    "oracle": {"mode": "oracle"},
    "oracle_prior": {"mode": "oracle", "feedback.channel": "action_prior"},
    "oracle_bonus": {"mode": "oracle", "feedback.channel": "subgoal_bonus"},
    # the recurrent student (a GRU core of 64 units, BabyAI's memory at our width)
    "student_recurrent": {"mode": "student_only", "student.memory": 64},
    "oracle_recurrent": {"mode": "oracle", "student.memory": 64},
    # the GLAM baseline: the language model as the policy (benchmarks/glam.py)
    "glam": {"mode": "glam"},
}  # fmt: skip
# timed by default; the others on demand (--arms)
DEFAULT_ARMS = (
    "student_only",
    "teacher_frozen",
    "bidirectional",
    "bidirectional_lora",
    "bidirectional_lora_every4",
)


def make_update(cfg, seeds, seed_batch, run=True):
    """(jitted update of `seeds` seeds, their initial state (None unless `run`), its memory
    {arguments, temporaries, outputs} in bytes)."""
    from jaxbidir.training import make_train, over_seeds

    trainer = make_train(cfg)
    init = jax.jit(jax.vmap(trainer.init))
    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    update = over_seeds(trainer.update, seed_batch=seed_batch if seeds > seed_batch else 0)
    stats = update.lower(jax.eval_shape(init, keys), np.int32(0)).compile().memory_analysis()
    memory = dict(
        arguments=stats.argument_size_in_bytes,
        temporaries=stats.temp_size_in_bytes,
        outputs=stats.output_size_in_bytes - stats.alias_size_in_bytes,  # the new state
    )
    if not run:
        return update, None, memory
    state = jax.block_until_ready(update(init(keys), np.int32(0))[0])  # compile, warm up
    return update, state, memory


def measure(base, seeds, repeats, seed_batch, arms):
    """{arm: (median frames/s, memory per seed in MiB, {learning_s, skipping_s}: the median
    seconds of an update that learns and of one that skips)}, the arms' timings interleaved.
    An arm whose teacher learns every k-th update (`feedback.teacher_every`) times one update
    that learns and one that skips in each repeat; its time per update is their mean over a
    cycle, (learning + (k - 1) skipping) / k, from the medians."""
    from jaxbidir.config import replace

    cfgs = {a: replace(base, **ARMS[a]) for a in arms}
    runs = {a: make_update(cfgs[a], seeds, seed_batch) for a in arms}
    times = {a: {"learning": [], "skipping": []} for a in arms}
    for _ in range(repeats):
        for arm, (update, state, memory) in runs.items():
            every = cfgs[arm].feedback.teacher_every
            kinds = {"learning": every} | ({"skipping": every + 1} if every > 1 else {})
            for kind, index in kinds.items():  # the update's number, one for all seeds
                start = time.perf_counter()
                state = jax.block_until_ready(update(state, np.int32(index))[0])
                times[arm][kind].append(time.perf_counter() - start)
                print(f"  {seeds} seeds, {arm}, {kind}: {times[arm][kind][-1]:.1f} s", flush=True)
            runs[arm] = (update, state, memory)
    frames = seeds * base.frames_per_update
    out = {}
    for arm in arms:
        every, t = cfgs[arm].feedback.teacher_every, times[arm]
        skipping = statistics.median(t["skipping"]) if every > 1 else 0.0
        per_update = (statistics.median(t["learning"]) + (every - 1) * skipping) / every
        seconds = {f"{kind}_s": round(statistics.median(t[kind]), 2) for kind in t if t[kind]}
        out[arm] = (frames / per_update, _per_seed_mib(runs[arm][2], seeds), seconds)
    return out


def _per_seed_mib(memory: dict, seeds: int) -> float:
    return round(sum(memory.values()) / seeds / 2**20, 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=None)
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 256])
    parser.add_argument("--seed-batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--arms", default=",".join(DEFAULT_ARMS), help=f"among {', '.join(ARMS)}")
    parser.add_argument("--memory-seeds", type=int, nargs="*", default=[])
    parser.add_argument("overrides", nargs="*", metavar="table.key=value")
    args = parser.parse_args()
    arms = [a for a in args.arms.split(",") if a]
    unknown = set(arms) - set(ARMS)
    if unknown or "student_only" not in arms:
        parser.error(f"--arms: {sorted(unknown)} unknown, or student_only missing (the baseline)")

    from jaxbidir import config

    cfg = config.load(args.config, args.overrides)
    print("measuring ...", flush=True)
    rows = []
    for seeds in args.seeds:
        figures = measure(cfg, seeds, args.repeats, args.seed_batch, arms)
        row = {"seeds": seeds}
        for arm, (fps, mib, seconds) in figures.items():
            row[arm] = dict(frames_per_s=round(fps), memory_per_seed_mib=mib,
                            cost=round(figures["student_only"][0] / fps, 3), **seconds)  # fmt: skip
        rows.append(row)
        print(row, flush=True)
    memory = []
    for seeds in args.memory_seeds:
        row = {"seeds": seeds}
        for arm in arms:
            bytes_ = make_update(config.replace(cfg, **ARMS[arm]), seeds, args.seed_batch,
                                 run=False)[2]  # fmt: skip
            row[arm] = {k: round(v / 2**30, 2) for k, v in bytes_.items()} | {
                "total_gib": round(sum(bytes_.values()) / 2**30, 2)
            }
        memory.append(row)
        print(row, flush=True)

    print(f"{'seeds':>6} " + " ".join(f"{a:>26}" for a in arms))
    for r in rows:
        cells = [f"{r[a]['frames_per_s']:,} f/s {r[a]['cost']:.2f}x "
                 f"{r[a]['memory_per_seed_mib']:.1f}M" for a in arms]  # fmt: skip
        print(f"{r['seeds']:>6} " + " ".join(f"{c:>26}" for c in cells))
    result = {
        "device": jax.devices()[0].device_kind,
        "env_id": cfg.env.id,
        "num_envs": cfg.env.num_envs,
        "num_steps": cfg.student.num_steps,
        "hint_every": cfg.feedback.hint_every,
        "teacher": cfg.teacher.path or "shipped",
        "teacher_batch": cfg.teacher.batch,
        "lora_rank": cfg.teacher.lora_rank,
        "seed_batch": args.seed_batch,
        "rows": rows,
        "memory": memory,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
