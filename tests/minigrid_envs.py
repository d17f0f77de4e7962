"""Real minigrid environments for each of our level ids (GLAM's mixed levels via glam_levels)."""

import gymnasium as gym
import minigrid  # noqa: F401  (registers the BabyAI ids)

from glam_levels import TASKS, MixedLocal


def make_minigrid(env_id: str, seed: int):
    """A reset minigrid environment for `env_id`; for the mixed levels the task cycles with seed."""
    if "Mixed" in env_id:
        test = "Test" in env_id
        tasks = TASKS if test else TASKS[:5]
        env = MixedLocal(tasks[seed % len(tasks)], test=test)
    else:
        env = gym.make(env_id).unwrapped
    env.reset(seed=seed)
    return env
