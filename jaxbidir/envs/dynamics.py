"""minigrid's `MiniGridEnv.step` on the dense grid: one pure function per action, then a select."""

import jax.numpy as jnp

from . import constants as C
from .state import State

_DIR = jnp.asarray(C.DIR_TO_VEC)


def front_pos(state: State) -> jnp.ndarray:
    """i32[2] the cell the agent faces (always inside the grid: levels are walled)."""
    w, h = state.ids.shape
    pos = state.agent_pos + _DIR[state.agent_dir]
    return jnp.clip(pos, 0, jnp.array([w - 1, h - 1]))


def _set(state: State, pos, cell, obj_id) -> State:
    return state.replace(
        grid=state.grid.at[pos[0], pos[1]].set(cell), ids=state.ids.at[pos[0], pos[1]].set(obj_id)
    )


def transition(state: State, action: jnp.ndarray) -> State:
    """Apply one of minigrid's 7 actions (`done` does nothing)."""
    fwd = front_pos(state)
    cell = state.grid[fwd[0], fwd[1]]
    cell_id = state.ids[fwd[0], fwd[1]].astype(jnp.int32)
    kind, colour, door_state = cell[0], cell[1], cell[2]
    is_empty = kind == C.EMPTY
    is_door = kind == C.DOOR
    carrying = state.carrying_id > 0
    empty = jnp.asarray(C.EMPTY_CELL)

    turn = jnp.where(action == C.LEFT, -1, jnp.where(action == C.RIGHT, 1, 0))
    agent_dir = (state.agent_dir + turn) % 4

    can_overlap = (
        is_empty
        | (is_door & (door_state == C.OPEN))
        | (kind == C.FLOOR)
        | (kind == C.GOAL)
        | (kind == C.LAVA)
    )
    agent_pos = jnp.where((action == C.FORWARD) & can_overlap, fwd, state.agent_pos)

    can_pickup = (kind == C.KEY) | (kind == C.BALL) | (kind == C.BOX)
    picks = (action == C.PICKUP) & can_pickup & ~carrying
    drops = (action == C.DROP) & is_empty & carrying

    # toggle: a locked door opens with a key of its colour; an unlocked one flips; a box is
    # replaced by its (always empty, in BabyAI) contents.
    has_key = (state.carrying[0] == C.KEY) & (state.carrying[1] == colour) & carrying
    door_next = jnp.where(
        door_state == C.LOCKED,
        jnp.where(has_key, C.OPEN, C.LOCKED),
        jnp.where(door_state == C.OPEN, C.CLOSED, C.OPEN),
    ).astype(jnp.uint8)
    toggles = action == C.TOGGLE
    opens_door = toggles & is_door
    opens_box = toggles & (kind == C.BOX)

    new_cell = jnp.where(
        picks | opens_box,
        empty,
        jnp.where(drops, state.carrying, jnp.where(opens_door, cell.at[2].set(door_next), cell)),
    )
    new_id = jnp.where(picks | opens_box, 0, jnp.where(drops, state.carrying_id, cell_id))
    state = _set(state, fwd, new_cell.astype(jnp.uint8), new_id.astype(jnp.uint8))
    return state.replace(
        agent_dir=agent_dir,
        agent_pos=agent_pos,
        carrying=jnp.where(picks, cell, jnp.where(drops, jnp.zeros(3, jnp.uint8), state.carrying)),
        carrying_id=jnp.where(picks, cell_id, jnp.where(drops, 0, state.carrying_id)),
    )
