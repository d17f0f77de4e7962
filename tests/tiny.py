"""The tiny training run the tests share: 8 environments x 16 steps, 8 updates, 2 hint segments
per rollout. One shape for every test, so the persistent compilation cache (conftest.py)
compiles each mode's program once per session; a test adds only what it is about. And the
levels the per-level tests that cost most run on."""

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


def levels_but_most_small_ones() -> list[str]:
    """Every registered level, BabyAI's small GoToLocal variants only by their two extremes
    (S5N2: the smallest room; S8N7: the most objects): the variants share GoToLocal's generator,
    with the room size and the object count as parameters. For the tests that cost tens of
    seconds a level (mission mix, the oracle's bot, the executor); the step parity covers all."""
    from jaxbidir import envs

    small = [envs.levels.small_goto_local_id(s, n) for s, n in envs.levels.SMALL_GOTO_LOCAL]
    kept = {small[0], small[-1]}
    return [env_id for env_id in envs.registry() if env_id not in small or env_id in kept]
