"""`from_minigrid`: our state from a live minigrid BabyAI environment (grid, agent, mission and
the verifier's memory), so the two can be stepped side by side. Reads attributes only; minigrid
itself is needed only to have such an environment."""

import jax
import jax.numpy as jnp
import numpy as np

from . import constants as C
from . import language as L
from .environment import Environment, observe
from .state import Instruction, State, StepType, Timestep

_CLAUSES = {
    "GoToInstr": L.GOTO,
    "PickupInstr": L.PICKUP,
    "OpenInstr": L.OPEN_DOOR,
    "PutNextInstr": L.PUTNEXT,
}


def _clauses(instrs):
    """(order, [clause, clause|None], [done, done]) in our storage order."""
    name = type(instrs).__name__
    if name in _CLAUSES:
        return 0, [instrs, None], [False, False]
    parts = [getattr(instrs, "instr_a", None), getattr(instrs, "instr_b", None)]
    if any(type(p).__name__ not in _CLAUSES for p in parts):
        raise NotImplementedError(
            f"instruction {instrs.surface(instrs.env)!r}: only one or two action clauses "
            "(go to / pick up / open / put next, joined by then / after you / and) are supported"
        )
    done = [instrs.a_done == "success", instrs.b_done == "success"]
    if name == "BeforeInstr":
        return 1, parts, done
    if name == "AfterInstr":
        return 1, parts[::-1], done[::-1]
    if name == "AndInstr":
        return 2, parts, done
    raise NotImplementedError(f"minigrid instruction type {name} is not supported")


def _instruction(instrs, id_of: dict, width: int, height: int) -> Instruction:
    """Our `Instruction` for minigrid's `instrs`; `id_of`: our id of each object (by `id()`)."""

    def mask(objs):
        return np.uint32(sum(1 << int(id_of[id(o)]) for o in objs if id(o) in id_of))

    def where(poss):
        out = np.zeros((width, height), bool)
        for x, y in poss:
            out[x, y] = True
        return out

    order, clauses, done = _clauses(instrs)
    empty = np.zeros((width, height), bool)
    kind, objs, fixed, poss, fixed_poss, pre = [], [], [], [], [], []
    for c in clauses:
        c = c if c is not None else clauses[0]
        move = getattr(c, "desc_move", None) or c.desc
        put = getattr(c, "desc_fixed", None)
        kind.append(_CLAUSES[type(c).__name__])
        objs.append(mask(move.obj_set))
        poss.append(where(move.obj_poss))
        fixed.append(mask(put.obj_set) if put else np.uint32(0))
        fixed_poss.append(where(put.obj_poss) if put else empty)
        carried = getattr(c, "preCarrying", None)
        pre.append(int(id_of.get(id(carried), 0)) if carried is not None else 0)

    return Instruction(
        order=jnp.asarray(order, jnp.int32),
        kind=jnp.asarray(kind, jnp.int32),
        objs=jnp.asarray(np.array(objs, np.uint32)),
        fixed=jnp.asarray(np.array(fixed, np.uint32)),
        poss=jnp.asarray(np.stack(poss)),
        fixed_poss=jnp.asarray(np.stack(fixed_poss)),
        pre_carrying=jnp.asarray(pre, jnp.int32),
        done=jnp.asarray(done, bool),
    )


def from_minigrid(gym_env, env: Environment | None = None, key=None) -> Timestep:
    """Our `Timestep` for the current state of a minigrid BabyAI environment.

    Args:
      gym_env: a reset minigrid `RoomGridLevel` (wrappers are looked through).
      env: the matching `make(env_id)` environment; its grid size (smaller minigrid grids are
        padded with walls, which the agent sees as minigrid's out-of-grid cells) and mission
        length are used. Without it, the minigrid grid's size and a mission length of 24.
      key: PRNG key for the episodes after this one.
    """
    mg = gym_env.unwrapped
    width, height = (env.level.width, env.level.height) if env else (mg.width, mg.height)
    length = env.mission_length if env else 24
    if mg.width > width or mg.height > height:
        raise ValueError(f"minigrid grid {mg.width}x{mg.height} is larger than {width}x{height}")

    grid = np.tile(C.WALL_CELL, (width, height, 1))
    grid[: mg.width, : mg.height] = mg.grid.encode()
    ids = np.zeros((width, height), np.uint8)
    id_of = {}
    for x in range(mg.width):
        for y in range(mg.height):
            obj = mg.grid.get(x, y)
            if obj is not None and obj.type != "wall":
                id_of[id(obj)] = ids[x, y] = len(id_of) + 1
    carrying = np.zeros(3, np.uint8)
    if mg.carrying is not None:
        id_of[id(mg.carrying)] = len(id_of) + 1
        carrying = np.array(mg.carrying.encode(), np.uint8)
    if len(id_of) > 31:
        raise ValueError(f"{len(id_of)} objects: at most 31 are supported (ids fit a u32 mask)")

    instruction = _instruction(mg.instrs, id_of, width, height)
    state = State(
        grid=jnp.asarray(grid),
        ids=jnp.asarray(ids),
        agent_pos=jnp.asarray(mg.agent_pos, jnp.int32),
        agent_dir=jnp.asarray(mg.agent_dir, jnp.int32),
        carrying=jnp.asarray(carrying),
        carrying_id=jnp.asarray(id_of.get(id(mg.carrying), 0), jnp.int32),
        instruction=instruction,
        mission=jnp.asarray(L.encode(mg.mission, length)),
        max_steps=jnp.asarray(mg.max_steps, jnp.int32),
        key=key if key is not None else jax.random.PRNGKey(0),
    )
    return Timestep(
        t=jnp.asarray(mg.step_count, jnp.int32),
        observation=observe(state),
        action=jnp.zeros((), jnp.int32),
        reward=jnp.zeros((), jnp.float32),
        step_type=StepType.TRANSITION,
        state=state,
    )
