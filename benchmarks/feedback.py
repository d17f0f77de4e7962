"""What the teacher costs: frames/s of the fused step in `bidirectional` mode against
`student_only` on the same config and batch (goal: at most 2x the time), in one process, timings
interleaved; then the same with many seeds vmapped.

    python benchmarks/feedback.py [--config NAME] [--seeds 1 256] [--seed-batch 8]
                                  [--repeats 3] [table.key=value ...]

Many seeds run `--seed-batch` at a time (`lax.map`), as training does with `run.seed_batch`: the
teacher's update holds about 0.5 GB of activations per seed (64 hints of ~128 tokens, forward
and backward), so 64 seeds at once do not fit in 24 GB.

Prints a table; the last line is one JSON object with the figures.
"""

import argparse
import json
import statistics
import time

import jax

MODES = ("student_only", "teacher_frozen", "bidirectional")


def make_update(cfg, seeds, seed_batch):
    """(jitted update of `seeds` seeds, their initial state)."""
    from jaxbidir.training import make_train, over_seeds

    trainer = make_train(cfg)
    state = jax.jit(jax.vmap(trainer.init))(jax.random.split(jax.random.PRNGKey(0), seeds))
    update = over_seeds(trainer.update, seed_batch=seed_batch if seeds > seed_batch else 0)
    state = jax.block_until_ready(update(state)[0])  # compile and warm up
    return update, state


def rates(base, seeds, repeats, seed_batch, modes=MODES):
    """{mode: median frames/s} with the modes' timings interleaved."""
    from jaxbidir.config import replace

    runs = {m: make_update(replace(base, mode=m), seeds, seed_batch) for m in modes}
    times = {m: [] for m in modes}
    for _ in range(repeats):
        for mode, (update, state) in runs.items():
            start = time.perf_counter()
            state = jax.block_until_ready(update(state)[0])
            times[mode].append(time.perf_counter() - start)
            runs[mode] = (update, state)
            print(f"  {seeds} seeds, {mode}: {times[mode][-1]:.1f} s", flush=True)
    frames = seeds * base.frames_per_update
    return {m: frames / statistics.median(t) for m, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 256])
    parser.add_argument("--seed-batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("overrides", nargs="*", metavar="table.key=value")
    args = parser.parse_args()

    from jaxbidir import config

    cfg = config.load(args.config, args.overrides)
    print("measuring ...", flush=True)
    rows = []
    for seeds in args.seeds:
        fps = rates(cfg, seeds, args.repeats, args.seed_batch)
        row = {"seeds": seeds, **{f"{m}_frames_per_s": round(v) for m, v in fps.items()}}
        row["bidirectional_cost"] = round(fps["student_only"] / fps["bidirectional"], 3)
        row["teacher_frozen_cost"] = round(fps["student_only"] / fps["teacher_frozen"], 3)
        rows.append(row)
        print(row, flush=True)
    print(f"{'seeds':>6} {'student_only':>13} {'frozen':>9} {'bidirect.':>10} {'cost':>6}")
    for r in rows:
        print(
            f"{r['seeds']:>6} {r['student_only_frames_per_s']:>13,}"
            f" {r['teacher_frozen_frames_per_s']:>9,} {r['bidirectional_frames_per_s']:>10,}"
            f" {r['bidirectional_cost']:>6.2f}x"
        )
    result = {
        "device": jax.devices()[0].device_kind,
        "env_id": cfg.env.id,
        "num_envs": cfg.env.num_envs,
        "num_steps": cfg.student.num_steps,
        "hint_every": cfg.feedback.hint_every,
        "teacher_batch": cfg.teacher.batch,
        "seed_batch": args.seed_batch,
        "rows": rows,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
