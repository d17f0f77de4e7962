"""The hint executor: the action that carries out a Baby Language hint next, from the full state,
inside JAX (what the `action_prior` hint channel distils into the student; LLM4Teach's scripted
controller, arXiv 2311.13373).

A hint names one object, "the <colour> <type>" (the last one in "put X next to Y"), read as the
nearest such object (Manhattan distance, ties to the first in [x, y] order), as the oracle names
it (`oracle.py`). What the hint asks decides the goal and the last action:

    go to the C T         face the object            then done
    pick up the C T       face the object            then pickup
    open the C T          face the door              then toggle
    put X next to the C T face an empty cell beside  then drop
    drop                  face an empty cell         then drop

Until the goal is in front, the action is the first of a shortest left/right/forward path to a
pose (position, direction) whose front cell is a goal: distances to the goal over all poses by
repeated relaxation (a breadth-first search as array operations, `lax.while_loop` until nothing
changes), then the move whose successor is nearest. Empty cells and open doors can be walked on.
A hint that names no object type, or no object that is there, or a goal that cannot be reached,
has no action (`known` False): the executor then says nothing rather than guess.

`completed` is the same reading turned into a check of one step (what the `subgoal_bonus` hint
channel rewards): the hint's last action done on an object it names, or for "go to" the agent
now facing one, as minigrid's non-strict verifiers read the same words.
"""

import jax
import jax.numpy as jnp
import numpy as np

from . import constants as C
from . import language as L
from .dynamics import front_pos
from .grid import adjacent
from .observation import view_cells, visibility
from .oracle import _nearest
from .state import State

_FAR = 1 << 20  # a distance no path reaches: no path
_GOAL_KINDS = ("go", "pick", "open", "put", "drop")
_LAST_ACTION = np.array([C.DONE, C.PICKUP, C.TOGGLE, C.DROP, C.DROP], np.int32)
_KIND_OF_WORD = np.full(L.VOCAB_SIZE, -1, np.int32)
for _kind, _word in enumerate(_GOAL_KINDS):
    _KIND_OF_WORD[L.VOCAB[_word]] = _kind
_COLOUR_OF_WORD = np.full(L.VOCAB_SIZE, -1, np.int32)
_COLOUR_OF_WORD[L.COLOUR_WORD] = np.arange(len(L.COLOUR_WORD))
_TYPE_OF_WORD = np.full(L.VOCAB_SIZE, -1, np.int32)
for _code in (C.DOOR, C.KEY, C.BALL, C.BOX):
    _TYPE_OF_WORD[L.TYPE_WORD[_code]] = _code


def _last(codes: jnp.ndarray) -> jnp.ndarray:
    """The last entry of i32[K] that is not -1 (-1 when none)."""
    index = jnp.arange(codes.shape[0])
    return codes[jnp.argmax(jnp.where(codes >= 0, index, -1))]


def _shifted(cells: jnp.ndarray, dx: int, dy: int, fill) -> jnp.ndarray:
    """[W, H]: at (x, y) the value of `cells` at (x + dx, y + dy); `fill` outside the grid."""
    pad = jnp.pad(cells, 1, constant_values=fill)
    w, h = cells.shape
    return pad[1 + dx : 1 + dx + w, 1 + dy : 1 + dy + h]


def distances(goal: jnp.ndarray, walkable: jnp.ndarray) -> jnp.ndarray:
    """i32[W, H, 4]: the fewest left/right/forward actions from each pose (x, y, direction) to
    one whose front cell is in `goal` bool[W, H], moving only onto `walkable` cells (`_FAR`:
    none)."""
    fronts = [(int(dx), int(dy)) for dx, dy in C.DIR_TO_VEC]
    at_goal = jnp.stack([_shifted(goal, dx, dy, False) for dx, dy in fronts], -1)
    can_step = jnp.stack([_shifted(walkable, dx, dy, False) for dx, dy in fronts], -1)
    start = jnp.where(at_goal, 0, _FAR)

    def relax(carry):
        dist, _ = carry
        turned = jnp.minimum(jnp.roll(dist, 1, -1), jnp.roll(dist, -1, -1))  # left, right
        ahead = jnp.stack(
            [_shifted(dist[..., d], dx, dy, _FAR) for d, (dx, dy) in enumerate(fronts)], -1
        )
        step = jnp.minimum(turned, jnp.where(can_step, ahead, _FAR))
        new = jnp.minimum(dist, jnp.minimum(step, _FAR - 1) + 1)
        return new, jnp.any(new != dist)

    dist, _ = jax.lax.while_loop(lambda c: c[1], relax, (start, jnp.bool_(True)))
    return dist


def in_view(state: State) -> jnp.ndarray:
    """bool[W, H]: the cells the agent sees now (its 7x7 view, minigrid's visibility)."""
    cells, pos = view_cells(state)
    w, h = state.grid.shape[:2]
    inside = (pos[..., 0] >= 0) & (pos[..., 0] < w) & (pos[..., 1] >= 0) & (pos[..., 1] < h)
    seen = visibility(cells) & inside
    x, y = jnp.clip(pos[..., 0], 0, w - 1), jnp.clip(pos[..., 1], 0, h - 1)
    return jnp.zeros((w, h), bool).at[x, y].max(seen)


def _read(hint: jnp.ndarray):
    """What `hint` i32[K] asks -> (kind i32: its index in `_GOAL_KINDS`, -1 none; parsed bool:
    it asks something the executor knows; names(cells u8[..., 3]) -> bool[...]: the cells
    holding an object it names, its last "the <colour> <type>")."""
    kind = jnp.asarray(_KIND_OF_WORD)[hint[0]]
    colour = _last(jnp.asarray(_COLOUR_OF_WORD)[hint])
    type_ = _last(jnp.asarray(_TYPE_OF_WORD)[hint])
    parsed = (kind >= 0) & ((kind == 4) | (type_ >= 0))

    def names(cells):
        return (cells[..., 0] == type_) & ((colour < 0) | (cells[..., 1] == colour))

    return kind, parsed, names


def completed(before: State, after: State, action, hint: jnp.ndarray) -> jnp.ndarray:
    """bool: the step `action` from `before` to `after` carried out `hint` i32[K]: "go to" now
    facing an object it names; "pick up" picking one up; "open" opening a door it names;
    "put ... next to" dropping the carried object beside one it names; "drop" dropping."""
    kind, parsed, names = _read(hint)
    fx, fy = front_pos(after)
    front = after.grid[fx, fy]
    dropped = (action == C.DROP) & (before.carrying_id != 0) & (after.carrying_id == 0)
    done = jnp.stack(
        [
            names(front),
            (action == C.PICKUP) & (before.carrying_id == 0) & names(after.carrying),
            (action == C.TOGGLE) & names(front) & (front[0] == C.DOOR) & (front[2] == C.OPEN),
            dropped & adjacent(names(after.grid))[fx, fy],
            dropped,
        ]
    )
    return parsed & done[jnp.maximum(kind, 0)]


def act(state: State, hint: jnp.ndarray, seen_only: bool = False) -> tuple[jax.Array, jax.Array]:
    """The action that carries out `hint` i32[K] next in `state` -> (action i32, known bool):
    the first of `options` (left before right before forward); 0 where not `known`."""
    good, known = options(state, hint, seen_only)
    return jnp.argmax(good).astype(jnp.int32), known


def options(
    state: State, hint: jnp.ndarray, seen_only: bool = False
) -> tuple[jax.Array, jax.Array]:
    """Every action that carries out `hint` i32[K] next in `state`, the first step of some
    shortest path or the last action -> (good bool[7], known bool); `known` False where the
    hint names nothing the executor can reach (then nothing is good). With `seen_only`, only an
    object the agent sees now counts as named: what the executor does is then what its view
    shows (a student without memory could learn it), and a hint whose object is out of sight has
    no action."""
    grid, pos, direction = state.grid, state.agent_pos, state.agent_dir
    kind, parsed, names = _read(hint)
    named = names(grid)
    if seen_only:
        named = named & in_view(state)
    target = jnp.zeros_like(named).at[tuple(_nearest(named, pos))].set(True) & named
    empty = grid[..., 0] == C.EMPTY
    beside = empty & adjacent(target)
    goal = jnp.select([kind == 3, kind == 4], [beside, empty], target)
    walkable = empty | ((grid[..., 0] == C.DOOR) & (grid[..., 2] == C.OPEN))
    dist = distances(goal, walkable)

    x, y = pos[0], pos[1]
    dx, dy = jnp.asarray(C.DIR_TO_VEC)[direction]
    fx, fy = x + dx, y + dy
    left, right = dist[x, y, (direction - 1) % 4], dist[x, y, (direction + 1) % 4]
    forward = jnp.where(walkable[fx, fy], dist[fx, fy, direction], _FAR)
    moves = jnp.stack([left, right, forward])  # C.LEFT, C.RIGHT, C.FORWARD
    shortest = jnp.zeros(C.NUM_ACTIONS, bool).at[:3].set(moves == moves.min())
    at_goal = dist[x, y, direction] == 0
    last = jnp.arange(C.NUM_ACTIONS) == jnp.asarray(_LAST_ACTION)[jnp.maximum(kind, 0)]
    known = parsed & (dist[x, y, direction] < _FAR)
    return jnp.where(at_goal, last, shortest) & known, known
