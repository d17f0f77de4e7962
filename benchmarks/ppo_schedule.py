"""Does a cheaper PPO schedule learn as fast per update? Updates to 0.95 success on the paper's
level (`make train`'s default config) for each schedule, on the same seeds, paired against the
first one.

    python benchmarks/ppo_schedule.py [--seeds 8] [--updates 24] [SCHEDULE ...]

A schedule is overrides joined by `+` (`student.update_epochs=2+student.num_minibatches=8`);
`default` is the config as it is; without schedules, `default` against the schedule before
(`experiments.RECORDED_SCHEDULE`). The PPO epochs cost per update in proportion to
`update_epochs` (every epoch passes over every frame), so a schedule with fewer epochs is that
much cheaper per frame, and is worth keeping only if it learns as fast per update. A seed reaches
0.95 at the first of two consecutive updates whose training success rate is at least 0.95 (as
`student.py --solve`). Prints one line per schedule; the last line is one JSON object.
"""

import argparse
import json

import jax
import numpy as np

from jaxbidir import config
from jaxbidir.curves import interval
from jaxbidir.experiments import RECORDED_SCHEDULE
from jaxbidir.feedback import make_train


def updates_to(success: np.ndarray, target: float) -> list:
    """success f32[seeds, updates] -> the update (1-based) at which each seed first holds
    `target` for two updates running, or None."""
    held = (success[:, :-1] >= target) & (success[:, 1:] >= target)
    return [int(row.argmax()) + 1 if row.any() else None for row in held]


def learn(overrides: list[str], seeds: int, updates: int) -> np.ndarray:
    """Training success rate f32[seeds, updates] of `seeds` seeds vmapped."""
    trainer = make_train(config.load(None, overrides))
    state = jax.jit(jax.vmap(trainer.init))(jax.random.split(jax.random.PRNGKey(0), seeds))
    update = jax.jit(jax.vmap(trainer.update))
    success = []
    for _ in range(updates):
        state, metrics = update(state)
        success.append(np.asarray(metrics["success_rate"]))
    return np.stack(success, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--updates", type=int, default=24)
    parser.add_argument("--target", type=float, default=0.95)
    # by default: the schedule now against the one before (that the experiments keep)
    before = "+".join(RECORDED_SCHEDULE)
    parser.add_argument("schedules", nargs="*", default=["default", before])
    args = parser.parse_args()
    result, base = {}, None
    for schedule in args.schedules:
        overrides = [] if schedule == "default" else schedule.split("+")
        success = learn(overrides, args.seeds, args.updates)
        reached = updates_to(success, args.target)
        auc = success.mean(1)
        base = auc if base is None else base
        row = result[schedule] = {
            "updates_to_target": reached,
            "median_updates": float(np.median([r or args.updates + 1 for r in reached])),
            "auc": float(auc.mean()),
            "auc_minus_first": interval(auc - base),
        }
        print(schedule, json.dumps(row), flush=True)
    print(json.dumps({"seeds": args.seeds, "updates": args.updates, "target": args.target,
                      "schedules": result}))  # fmt: skip


if __name__ == "__main__":
    main()
