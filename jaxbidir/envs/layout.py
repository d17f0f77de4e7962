"""Pure, vmappable building blocks of level generators: minigrid's `RoomGrid` placement rules.

minigrid places things by rejection sampling (try random cells until one fits). Every such loop
draws uniformly among the cells that fit, so here each draw is one uniform pick among the cells
that fit (`choose`): the same distribution, in a fixed number of operations.
"""

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from . import constants as C
from .grid import adjacent


@struct.dataclass
class Layout:
    """A level under construction: `grid` u8[W,H,3], `ids` u8[W,H], the agent (`agent_pos` i32[2],
    `agent_dir` i32; (-1, -1) before it is placed, as in minigrid) and the next free object id."""

    grid: jnp.ndarray
    ids: jnp.ndarray
    agent_pos: jnp.ndarray
    agent_dir: jnp.ndarray
    next_id: jnp.ndarray


def rooms_grid(room_size: int, num_cols: int, num_rows: int, width: int, height: int) -> np.ndarray:
    """u8[W,H,3]: minigrid's `RoomGrid` walls (rooms share walls), padded with walls to W x H."""
    grid = np.tile(C.EMPTY_CELL, (width, height, 1))
    grid[...] = C.WALL_CELL
    for j in range(num_rows):
        for i in range(num_cols):
            x0, y0 = i * (room_size - 1), j * (room_size - 1)
            grid[x0 + 1 : x0 + room_size - 1, y0 + 1 : y0 + room_size - 1] = C.EMPTY_CELL
    return grid


def room_interior(room, width: int, height: int) -> np.ndarray:
    """bool[W,H] of a room `(x0, y0, size)`'s inside cells."""
    x0, y0, size = room
    mask = np.zeros((width, height), bool)
    mask[x0 + 1 : x0 + size - 1, y0 + 1 : y0 + size - 1] = True
    return mask


def empty_layout(grid: np.ndarray) -> Layout:
    w, h, _ = grid.shape
    return Layout(
        grid=jnp.asarray(grid, jnp.uint8),
        ids=jnp.zeros((w, h), jnp.uint8),
        agent_pos=jnp.array([-1, -1], jnp.int32),
        agent_dir=jnp.zeros((), jnp.int32),
        next_id=jnp.ones((), jnp.int32),
    )


def choose(key, allowed: jnp.ndarray) -> jnp.ndarray:
    """Index of one uniformly drawn True entry of the flat bool array `allowed`.

    One uniform number picks the k-th allowed entry (random bits are the costly part on CPU)."""
    counts = jnp.cumsum(allowed)
    k = jnp.floor(jax.random.uniform(key) * counts[-1])
    return jnp.argmax(counts > k)


def free_cells(layout: Layout, interior: np.ndarray) -> jnp.ndarray:
    """bool[W,H]: empty cells of `interior` not under the agent (minigrid's `place_obj` test)."""
    w, h = layout.ids.shape
    free = (layout.grid[..., 0] == C.EMPTY) & jnp.asarray(interior)
    agent = (
        jnp.zeros((w, h), bool)
        .at[layout.agent_pos[0], layout.agent_pos[1]]
        .set(layout.agent_pos[0] >= 0)
    )
    return free & ~agent


def put(layout: Layout, pos, cell) -> Layout:
    """Put object `cell` (u8[3]) at `pos` with a fresh id."""
    return layout.replace(
        grid=layout.grid.at[pos[0], pos[1]].set(jnp.asarray(cell, jnp.uint8)),
        ids=layout.ids.at[pos[0], pos[1]].set(layout.next_id.astype(jnp.uint8)),
        next_id=layout.next_id + 1,
    )


def _placeable(layout: Layout, interior: np.ndarray) -> jnp.ndarray:
    """bool[W,H]: where `place_in_room` may put an object: a free cell of the room, not within
    Manhattan distance 1 of the agent (when the agent is already placed)."""
    w, h = layout.ids.shape
    xs, ys = np.meshgrid(np.arange(w), np.arange(h), indexing="ij")
    far = jnp.abs(xs - layout.agent_pos[0]) + jnp.abs(ys - layout.agent_pos[1]) >= 2
    return free_cells(layout, interior) & far


def add_object(key, layout: Layout, interior: np.ndarray, cell) -> tuple[Layout, jnp.ndarray]:
    """minigrid's `RoomGrid.add_object`/`place_in_room`: a uniform placeable cell of the room."""
    h = layout.ids.shape[1]
    idx = choose(key, _placeable(layout, interior).reshape(-1))
    pos = jnp.stack([idx // h, idx % h]).astype(jnp.int32)
    return put(layout, pos, cell), pos


def random_kind(key) -> jnp.ndarray:
    """u8[3]: a random key/ball/box of a random colour (RoomGrid.add_distractors)."""
    k1, k2 = jax.random.split(key)
    colour = jax.random.randint(k1, (), 0, 6)
    kind = jnp.asarray(C.DISTRACTOR_TYPES)[jax.random.randint(k2, (), 0, 3)]
    return jnp.stack([kind, colour, 0]).astype(jnp.uint8)


def unique_kinds(key, n: int) -> jnp.ndarray:
    """u8[n,3]: n distinct (type, colour) kinds in random order (add_distractors(all_unique))."""
    perm = jax.random.permutation(key, 18)[:n]
    kind = jnp.asarray(C.DISTRACTOR_TYPES)[perm // 6]
    return jnp.stack([kind, perm % 6, jnp.zeros_like(perm)], -1).astype(jnp.uint8)


def add_objects(key, layout: Layout, interior: np.ndarray, cells) -> Layout:
    """Place each of `cells` (u8[n,3]) in turn, as `add_object` would.

    Placing objects one after another, each uniformly among the cells still free, draws a uniform
    random ordered set of distinct cells: here, the `n` smallest of one uniform number per cell."""
    n, h = cells.shape[0], layout.ids.shape[1]
    allowed = _placeable(layout, interior).reshape(-1)
    score = jnp.where(allowed, jax.random.uniform(key, allowed.shape), 2.0)
    idx = jax.lax.top_k(-score, n)[1]
    xs, ys = idx // h, idx % h
    new_ids = (layout.next_id + jnp.arange(n)).astype(jnp.uint8)
    return layout.replace(
        grid=layout.grid.at[xs, ys].set(jnp.asarray(cells, jnp.uint8)),
        ids=layout.ids.at[xs, ys].set(new_ids),
        next_id=layout.next_id + n,
    )


def place_agent(key, layout: Layout, interior: np.ndarray) -> Layout:
    """minigrid's `RoomGrid.place_agent`: a uniform free cell and direction of the room such that
    the agent does not face an object (an empty cell or a wall is fine)."""
    w, h = layout.ids.shape
    free = free_cells(layout, interior)
    ok = []
    for dx, dy in C.DIR_TO_VEC:
        front = jnp.roll(layout.grid[..., 0], (-dx, -dy), axis=(0, 1))
        ok.append(free & ((front == C.EMPTY) | (front == C.WALL)))
    idx = choose(key, jnp.stack(ok, -1).reshape(-1))
    cell, direction = idx // 4, idx % 4
    return layout.replace(
        agent_pos=jnp.stack([cell // h, cell % h]).astype(jnp.int32), agent_dir=direction
    )


def all_reachable(layout: Layout) -> jnp.ndarray:
    """minigrid's `check_objs_reachable`: every non-wall object can be reached from the agent
    through empty cells and doors, without moving anything."""
    kind = layout.grid[..., 0]
    passable = (kind == C.EMPTY) | (kind == C.DOOR)
    start = jnp.zeros(kind.shape, bool).at[layout.agent_pos[0], layout.agent_pos[1]].set(True)

    def grow(carry):
        reach, _ = carry
        nxt = reach
        for _ in range(4):  # a few steps per loop iteration: the loop's overhead is the cost
            nxt = nxt | adjacent(nxt & (passable | start))
        return nxt, jnp.any(nxt != reach)

    reach, _ = jax.lax.while_loop(lambda c: c[1], grow, (start, jnp.ones((), bool)))
    objects = (kind != C.EMPTY) & (kind != C.WALL)
    return ~jnp.any(objects & ~reach)
