"""The oracle subgoal: what an expert would do next, as a Baby Language hint, from the full state.

The hint names the next object to deal with, in the full form "the <colour> <type>":
"go to the red ball", "pick up the blue key", "open the yellow door", "put the green box next to
the red ball", or "drop" when the object in hand is in the way. The mission's first unfinished
clause decides the kind of hint; among the objects it allows, the nearest (Manhattan distance,
ties to the first in [x, y] order) is named. A locked door needs its key first: a closed door of
a colour whose key the agent does not hold turns "open" into "pick up the <colour> key".

This is the yard stick for the teacher's hints and the target of its pretraining corpus. A bot
that follows it, reading "the <colour> <type>" as the nearest such object (tests/test_oracle.py),
solves every level. One known imprecision: when the mission picks an object by its place
("pick up the key on your left") and a nearer twin of the same colour stands elsewhere, the hint
names the right object but the nearest-object reading finds the twin (about 1 PickupLoc episode
in 20).
"""

import jax
import jax.numpy as jnp
import numpy as np

from . import constants as C
from . import language as L
from .grid import member, positions_of
from .state import State

HINT_LENGTH = 10  # tokens; the longest hint: put the purple ball next to the yellow key (9)


def _nearest(cells: jnp.ndarray, agent_pos) -> jnp.ndarray:
    """i32[2]: the True cell of bool[W, H] closest to `agent_pos` (Manhattan)."""
    w, h = cells.shape
    x, y = np.meshgrid(np.arange(w), np.arange(h), indexing="ij")
    dist = jnp.abs(x - agent_pos[0]) + jnp.abs(y - agent_pos[1])
    idx = jnp.argmin(jnp.where(cells, dist, w + h).reshape(-1))
    return jnp.stack([idx // h, idx % h])


def _the(cell) -> jnp.ndarray:
    """i32[3]: "the <colour> <type>" of a grid cell u8[3]."""
    return jnp.stack(
        [
            jnp.int32(L.VOCAB["the"]),
            jnp.asarray(L.COLOUR_WORD)[cell[1]],
            jnp.asarray(L.TYPE_WORD)[cell[0]],
        ]
    )


def subgoal(state: State, length: int = HINT_LENGTH) -> jnp.ndarray:
    """i32[length]: the oracle's hint for `state` (pads after the last word)."""
    instr, grid = state.instruction, state.grid
    c = jnp.where(instr.done[0], 1, 0)  # the first unfinished clause (the one to do first)
    kind, objs = instr.kind[c], instr.objs[c]
    holding = state.carrying_id > 0
    near = lambda cells: grid[tuple(_nearest(cells, state.agent_pos))]  # noqa: E731

    targets = positions_of(state.ids, objs)
    target = near(targets)
    # a locked door whose key is not in hand: fetch the key (or free the hand first)
    door_key = (grid[..., 0] == C.KEY) & (grid[..., 1] == target[1])
    has_key = holding & (state.carrying[0] == C.KEY) & (state.carrying[1] == target[1])
    needs_key = (kind == L.OPEN_DOOR) & (target[2] == C.LOCKED) & ~has_key

    go_to = jnp.concatenate([L.ids("go", "to"), _the(target)])
    pick_up = jnp.concatenate(
        [L.ids("pick", "up"), _the(jnp.where(needs_key, near(door_key), target))]
    )
    open_ = jnp.concatenate([L.ids("open"), _the(target)])
    put_next = jnp.concatenate(
        [
            L.ids("put"),
            _the(state.carrying),
            L.ids("next", "to"),
            _the(near(positions_of(state.ids, instr.fixed[c]))),
        ]
    )
    drop = L.ids("drop")

    fetch = (kind == L.PICKUP) | (kind == L.PUTNEXT) | needs_key
    choice = jnp.select(
        [
            (kind == L.GOTO) & targets.any(),
            kind == L.GOTO,  # the object to go to is in hand
            (kind == L.PUTNEXT) & member(state.carrying_id, objs),
            holding & fetch,
            fetch,
        ],
        [0, 2, 1, 2, 3],
        default=4,
    )
    hints = [go_to, put_next, drop, pick_up, open_]
    table = jnp.stack([jnp.pad(h, (0, 9 - h.shape[0])) for h in hints])
    return L.compact(table[choice], length)


_NAMEABLE = np.array([C.DOOR, C.KEY, C.BALL, C.BOX])


def other_object(state: State, hint: jnp.ndarray, key) -> jnp.ndarray:
    """i32[K]: `hint` with the object it names last ("the <colour> <type>") swapped for another
    object present in `state`, drawn at random among those of another colour or type: a wrong
    hint that a student can follow, to the wrong place. Unchanged when the hint names no object
    ("drop") or nothing else is there."""
    grid = state.grid
    colour_word, type_word = jnp.asarray(L.COLOUR_WORD), jnp.asarray(L.TYPE_WORD)
    index = jnp.arange(hint.shape[0])
    at_type = jnp.argmax(jnp.where(jnp.isin(hint, type_word[_NAMEABLE]), index, -1))
    at_colour = jnp.argmax(jnp.where(jnp.isin(hint, colour_word), index, -1))
    cell_type, cell_colour = type_word[grid[..., 0]], colour_word[grid[..., 1]]
    other = jnp.isin(grid[..., 0], _NAMEABLE) & (
        (cell_type != hint[at_type]) | (cell_colour != hint[at_colour])
    )
    pick = jnp.argmax(jnp.where(other, jax.random.uniform(key, other.shape), -1.0).ravel())
    x, y = pick // grid.shape[1], pick % grid.shape[1]
    swapped = hint.at[at_type].set(cell_type[x, y]).at[at_colour].set(cell_colour[x, y])
    names_one = jnp.isin(hint, type_word[_NAMEABLE]).any() & jnp.isin(hint, colour_word).any()
    return jnp.where(names_one & other.any(), swapped, hint)
