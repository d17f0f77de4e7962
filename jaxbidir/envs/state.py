"""The pytrees of an environment: the world (`State`), its instruction, and the `Timestep`.

The world is a dense grid of minigrid cells, as xland-minigrid keeps it, rather than navix's
per-entity containers: every step then costs the same few gathers however many objects a level
has (see docs/levels.md, "Representation"). Arrays are indexed `[x, y]` like minigrid's
`Grid.encode()`.
Every object (doors too) carries a small integer id in `ids`, so the verifier can follow
"this very object" as minigrid does with Python object identity.
"""

import jax.numpy as jnp
import numpy as np
from flax import struct

__all__ = ["Instruction", "State", "Observation", "Timestep", "StepType"]


class StepType:
    """The kinds of timestep, with navix's values (`navix.environments.environment.StepType`;
    tests/test_envs_api.py checks they agree). Defined here because importing anything of navix
    imports all of it (its agents, distrax, TensorFlow Probability): seconds at every start."""

    TRANSITION = np.int32(0)
    TRUNCATION = np.int32(1)  # the time limit: bootstrap through it
    TERMINATION = np.int32(2)  # the mission accomplished: do not


@struct.dataclass
class Instruction:
    """A Baby Language instruction of one or two clauses, with its verifier's memory.

    `order`: 0 a single clause, 1 "first, then second" (minigrid's Before/After, stored in the
    order they must be done), 2 "both in any order" (minigrid's And).
    Per clause `c` (leading axis 2): `kind` (GOTO/PICKUP/OPEN_DOOR/PUTNEXT), `objs` u32 bitmask of
    the ids the description matched at reset (the moved object for PUTNEXT), `fixed` the same for
    PUTNEXT's other object, `poss`/`fixed_poss` bool[2, W, H] the positions the verifier tests
    (minigrid's `obj_poss`, refreshed only on `drop`), `pre_carrying` the id carried when the clause
    was last verified (0 = nothing) and `done` whether the clause has succeeded.
    """

    order: jnp.ndarray  # i32[]
    kind: jnp.ndarray  # i32[2]
    objs: jnp.ndarray  # u32[2]
    fixed: jnp.ndarray  # u32[2]
    poss: jnp.ndarray  # bool[2, W, H]
    fixed_poss: jnp.ndarray  # bool[2, W, H]
    pre_carrying: jnp.ndarray  # i32[2]
    done: jnp.ndarray  # bool[2]


@struct.dataclass
class State:
    """The full world. `grid` u8[W, H, 3] minigrid cells; `ids` u8[W, H] object ids (0 none);
    `agent_pos` i32[2] (x, y); `agent_dir` i32 (0 east, 1 south, 2 west, 3 north); `carrying`
    u8[3] the carried cell (zeros when nothing) and `carrying_id` i32; `mission` i32[L] tokens;
    `max_steps` i32 (minigrid sets it per mission); `key` the PRNG key of the next reset."""

    grid: jnp.ndarray
    ids: jnp.ndarray
    agent_pos: jnp.ndarray
    agent_dir: jnp.ndarray
    carrying: jnp.ndarray
    carrying_id: jnp.ndarray
    instruction: Instruction
    mission: jnp.ndarray
    max_steps: jnp.ndarray
    key: jnp.ndarray


@struct.dataclass
class Observation:
    """What the agent sees: `image` u8[7, 7, 3] (minigrid's egocentric encoding, `[x, y]`, the agent
    at (3, 6) looking up), `direction` i32, `mission` i32[L] tokens."""

    image: jnp.ndarray
    direction: jnp.ndarray
    mission: jnp.ndarray


@struct.dataclass
class Timestep:
    """navix's timestep: read it as the result of the transition that produced it.

    `t` steps since reset; `action` the action that led here; `reward` f32; `step_type`
    0 transition, 1 truncation (time limit: bootstrap through it), 2 termination (mission
    accomplished: do not). Like navix, `step` on a finished timestep starts a new episode."""

    t: jnp.ndarray
    observation: Observation
    action: jnp.ndarray
    reward: jnp.ndarray
    step_type: jnp.ndarray
    state: State

    def is_termination(self):
        return self.step_type == StepType.TERMINATION

    def is_truncation(self):
        return self.step_type == StepType.TRUNCATION

    def is_done(self):
        return self.step_type != StepType.TRANSITION

    def is_start(self):
        return self.t == 0
