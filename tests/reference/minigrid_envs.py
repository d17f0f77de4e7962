"""Real minigrid environments for each of our level ids (GLAM's mixed levels via glam_levels)."""

import random

import gymnasium as gym
import minigrid  # noqa: F401  (registers the BabyAI ids)

from .glam_levels import TASKS, MixedLocal


def make_minigrid(env_id: str, seed: int, random_task: bool = False):
    """A reset minigrid environment for `env_id`. For the mixed levels the task cycles with the
    seed, or is drawn uniformly (`random_task`, as over many GLAM environment instances)."""
    if "Mixed" in env_id:
        test = "Test" in env_id
        tasks = TASKS if test else TASKS[:5]
        pick = random.Random(seed).randrange(len(tasks)) if random_task else seed % len(tasks)
        env = MixedLocal(tasks[pick], test=test)
    else:
        env = gym.make(env_id).unwrapped
    env.reset(seed=seed)
    return env
