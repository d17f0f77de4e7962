"""The tiny training run the tests share: 8 environments x 16 steps, 8 updates, 2 hint segments
per rollout. One shape for every test, so the persistent compilation cache (conftest.py)
compiles each mode's program once per session; a test adds only what it is about."""

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
