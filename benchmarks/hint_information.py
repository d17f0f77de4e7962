"""What a perfect hint can add on each level: how often the oracle's subgoal only restates the
mission. Where it always does (GoToRedBallNoDists, GoToLocal), even `oracle` hints tell the student
nothing it does not read already, so no mode can beat `student_only` through its hints there.

    python benchmarks/hint_information.py [--envs 1024] [--steps 24] [levels ...]

States are those met by `--envs` episodes under random actions (turn left, turn right, forward)
over `--steps` steps, every state counted. A hint "restates" the mission when it has the same
words once the mission's "a" reads "the" ("go to a red key" -> "go to the red key"); it "adds a
word" when it has a word the mission lacks (a colour the mission left out, "pick up" on the way
to "put ... next to ..."). The last line is one JSON object with the figures.
"""

import argparse
import json

import jax
import numpy as np

from jaxbidir import envs

LEVELS = [
    "BabyAI-GoToRedBallNoDists-v0",
    "BabyAI-GoToLocal-v0",
    "BabyAI-PickupLoc-v0",
    "BabyAI-PutNextLocal-v0",
    "BabyAI-MixedTrainLocal-v0",
]


def hint_information(env_id: str, num_envs: int, steps: int, seed: int = 0) -> dict:
    """{"restates": fraction, "adds_word": fraction, "states": count} over the visited states."""
    env = envs.make(env_id)
    step = jax.jit(jax.vmap(env.step))
    subgoal = jax.jit(jax.vmap(envs.subgoal))
    key, reset_key = jax.random.split(jax.random.PRNGKey(seed))
    timestep = jax.vmap(env.reset)(jax.random.split(reset_key, num_envs))
    restates = adds = 0
    for _ in range(steps):
        hints, missions = np.asarray(subgoal(timestep.state)), np.asarray(timestep.state.mission)
        for hint, mission in zip(hints, missions, strict=True):
            hint = envs.decode(hint).split()
            mission = ["the" if w == "a" else w for w in envs.decode(mission).split()]
            restates += hint == mission
            adds += not set(hint) <= set(mission)
        key, action_key = jax.random.split(key)
        timestep = step(timestep, jax.random.randint(action_key, (num_envs,), 0, 3))
    states = num_envs * steps
    return {"restates": restates / states, "adds_word": adds / states, "states": states}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("levels", nargs="*", default=LEVELS)
    parser.add_argument("--envs", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=24)
    args = parser.parse_args()
    results = {}
    print(f"{'level':<32} {'restates':>9} {'adds a word':>12}")
    for level in args.levels:
        results[level] = r = hint_information(level, args.envs, args.steps)
        print(f"{level:<32} {r['restates']:>9.3f} {r['adds_word']:>12.3f}", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
