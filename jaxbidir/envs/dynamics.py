"""minigrid's `MiniGridEnv.step` on the dense grid: one pure function per action, composed.

Each step changes something only when its action is the one taken, so `transition` can apply
them all in turn. The agent's steps (`turn`, `forward`) act on its pose; the others act on the
cell it faces and what it carries, each a `(cell u8[3], id i32)` pair, so the grid is read and
written once per transition.
"""

import jax.numpy as jnp

from . import constants as C
from .state import State

_DIR = jnp.asarray(C.DIR_TO_VEC)
Thing = tuple[jnp.ndarray, jnp.ndarray]  # an object as (cell u8[3], id i32); id 0 is nothing


def front_pos(state: State) -> jnp.ndarray:
    """i32[2] the cell the agent faces (always inside the grid: levels are walled)."""
    w, h = state.ids.shape
    pos = state.agent_pos + _DIR[state.agent_dir]
    return jnp.clip(pos, 0, jnp.array([w - 1, h - 1]))


def _set(state: State, pos, cell, obj_id) -> State:
    return state.replace(
        grid=state.grid.at[pos[0], pos[1]].set(cell), ids=state.ids.at[pos[0], pos[1]].set(obj_id)
    )


def turn(agent_dir, action) -> jnp.ndarray:
    """i32: the direction after `left` (a quarter turn anticlockwise) or `right` (clockwise)."""
    spin = jnp.where(action == C.LEFT, -1, jnp.where(action == C.RIGHT, 1, 0))
    return (agent_dir + spin) % 4


def forward(agent_pos, fwd, front: Thing, action) -> jnp.ndarray:
    """i32[2]: the position after `forward`: onto the front cell `fwd` if the agent can stand on
    what is there (minigrid's `can_overlap`: nothing, an open door, floor, goal or lava)."""
    kind, door_state = front[0][0], front[0][2]
    can_overlap = (
        (kind == C.EMPTY)
        | ((kind == C.DOOR) & (door_state == C.OPEN))
        | (kind == C.FLOOR)
        | (kind == C.GOAL)
        | (kind == C.LAVA)
    )
    return jnp.where((action == C.FORWARD) & can_overlap, fwd, agent_pos)


def pickup(front: Thing, hand: Thing, action) -> tuple[Thing, Thing]:
    """`pickup`: a key, ball or box in front goes into an empty hand. Returns (front, hand)."""
    (cell, cell_id), (held, held_id) = front, hand
    kind = cell[0]
    can_pickup = (kind == C.KEY) | (kind == C.BALL) | (kind == C.BOX)
    picks = (action == C.PICKUP) & can_pickup & (held_id <= 0)
    front = jnp.where(picks, jnp.asarray(C.EMPTY_CELL), cell), jnp.where(picks, 0, cell_id)
    return front, (jnp.where(picks, cell, held), jnp.where(picks, cell_id, held_id))


def drop(front: Thing, hand: Thing, action) -> tuple[Thing, Thing]:
    """`drop`: what is carried goes onto an empty front cell. Returns (front, hand)."""
    (cell, cell_id), (held, held_id) = front, hand
    drops = (action == C.DROP) & (cell[0] == C.EMPTY) & (held_id > 0)
    front = jnp.where(drops, held, cell), jnp.where(drops, held_id, cell_id)
    return front, (jnp.where(drops, jnp.zeros(3, jnp.uint8), held), jnp.where(drops, 0, held_id))


def toggle(front: Thing, hand: Thing, action) -> Thing:
    """`toggle` the front object: a locked door opens with a key of its colour in hand; an unlocked
    one flips; a box is replaced by its (always empty, in BabyAI) contents. Returns the front."""
    (cell, cell_id), (held, held_id) = front, hand
    kind, colour, door_state = cell[0], cell[1], cell[2]
    has_key = (held[0] == C.KEY) & (held[1] == colour) & (held_id > 0)
    door_next = jnp.where(
        door_state == C.LOCKED,
        jnp.where(has_key, C.OPEN, C.LOCKED),
        jnp.where(door_state == C.OPEN, C.CLOSED, C.OPEN),
    ).astype(jnp.uint8)
    toggles = action == C.TOGGLE
    opens_door = toggles & (kind == C.DOOR)
    opens_box = toggles & (kind == C.BOX)
    cell = jnp.where(
        opens_box, jnp.asarray(C.EMPTY_CELL), jnp.where(opens_door, cell.at[2].set(door_next), cell)
    )
    return cell, jnp.where(opens_box, 0, cell_id)


def transition(state: State, action: jnp.ndarray) -> State:
    """Apply one of minigrid's 7 actions (`done` does nothing)."""
    fwd = front_pos(state)
    front = state.grid[fwd[0], fwd[1]], state.ids[fwd[0], fwd[1]].astype(jnp.int32)
    hand = state.carrying, state.carrying_id
    agent_dir = turn(state.agent_dir, action)
    agent_pos = forward(state.agent_pos, fwd, front, action)
    front, hand = pickup(front, hand, action)
    front, hand = drop(front, hand, action)
    front = toggle(front, hand, action)
    state = _set(state, fwd, front[0].astype(jnp.uint8), front[1].astype(jnp.uint8))
    return state.replace(
        agent_dir=agent_dir, agent_pos=agent_pos, carrying=hand[0], carrying_id=hand[1]
    )
