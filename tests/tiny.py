"""The tiny training run the tests share: 8 environments x 16 steps, 8 updates, 2 hint segments
per rollout. One shape for every test, so the persistent compilation cache (conftest.py)
compiles each mode's program once per session; a test adds only what it is about. And the
levels the per-level tests that cost most run on."""

import pytest

TINY = {
    "env.num_envs": 8,
    "student.num_steps": 16,
    "feedback.hint_every": 8,
    "teacher.batch": 16,
    "run.total_frames": 8 * 16 * 8,
    "run.log_every": 2,
    "run.checkpoint_every": 4,
    "run.eval_every": 0,  # the tests of the evaluation turn it on
}
# ... evaluated, as `jaxbidir reproduce` and the notebook run it (tests/test_experiments.py and
# tests/test_notebook.py: the compilation cache serves both), as `key=value` overrides
EVALUATED = tuple(
    f"{k}={v}" for k, v in {**TINY, "run.eval_every": 4, "run.eval_episodes": 8}.items()
)


def whole_and_resumed(config, out) -> tuple[list, list]:
    """`config` trained whole in `out/whole`, and killed after update 6 then resumed in
    `out/cut` -> the metrics of both runs (what exact resume makes equal)."""
    from jaxbidir import training

    training.run(config, out / "whole", progress=False)
    training.run(config, out / "cut", progress=False, stop_after=6)
    training.run(config, out / "cut", progress=False, resume=True)
    return [training.read_metrics(out / d / "metrics.jsonl") for d in ("whole", "cut")]


# The levels every per-level test checks in `make test`: the paper's, and PutNextLocal (two
# objects to a mission, pick up and drop), whose generators compile in seconds (the mixed levels'
# take 10 s); on the others, the mixed ones included, they run in `make test-slow`.
QUICK_LEVELS = ("BabyAI-GoToRedBallNoDists-v0", "BabyAI-PutNextLocal-v0")


def per_level(env_ids) -> list:
    """`env_ids` as pytest parameters, those outside QUICK_LEVELS marked slow."""
    slow = (pytest.mark.slow,)
    return [pytest.param(e, marks=() if e in QUICK_LEVELS else slow) for e in env_ids]


def levels_but_most_small_ones() -> list[str]:
    """Every registered level, BabyAI's small GoToLocal variants only by their two extremes
    (S5N2: the smallest room; S8N7: the most objects): the variants share GoToLocal's generator,
    with the room size and the object count as parameters. For the tests that cost tens of
    seconds a level (mission mix, the oracle's bot, the executor); the step parity covers all."""
    from jaxbidir import envs

    small = [envs.levels.small_goto_local_id(s, n) for s, n in envs.levels.SMALL_GOTO_LOCAL]
    kept = {small[0], small[-1]}
    return [env_id for env_id in envs.registry() if env_id not in small or env_id in kept]
