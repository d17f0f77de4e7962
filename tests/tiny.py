"""The tiny training run the tests share: 8 environments x 16 steps, 8 updates, 2 hint segments
per rollout. One shape for every test, so the persistent compilation cache (conftest.py)
compiles each mode's program once per session; a test adds only what it is about. And the
levels the per-level tests that cost most run on, and the jit they compile a level's programs
with."""

import functools

import jax

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


# The levels every per-level test checks in `make test`: the paper's, and PutNextLocal (two
# objects to a mission, pick up and drop), whose generators compile in seconds (the mixed levels'
# take 10 s); on the others, the mixed ones included, they run in `make test-slow`.
QUICK_LEVELS = ("BabyAI-GoToRedBallNoDists-v0", "BabyAI-PutNextLocal-v0")


def per_level(env_ids) -> list:
    """`env_ids` as pytest parameters, those outside QUICK_LEVELS marked slow."""
    import pytest

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


# `jax.jit` with XLA's backend (LLVM) optimizations off. A level's step holds its whole generator
# (for the auto-reset), which takes tens of seconds to compile and microseconds to run in a
# test: compiled this way ~40% faster (the executor on MixedTrainLocal: 23 s -> 14 s), and run
# the same, a few times slower. For the per-level tests, not for a run that learns.
quick_jit = functools.partial(jax.jit, compiler_options={"xla_backend_optimization_level": 0})
