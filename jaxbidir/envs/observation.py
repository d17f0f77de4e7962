"""minigrid's egocentric view (`gen_obs_grid` + `Grid.process_vis` + `Grid.encode`) in JAX."""

import jax
import jax.numpy as jnp
import numpy as np

from . import constants as C
from .state import State


def _view_offsets() -> np.ndarray:
    """i32[4, 7, 7, 2]: for each direction, the world offset of view cell (i, j) from the agent.

    The agent sits at (3, 6) of its view looking towards j = 0, so view cell (i, j) is
    (6 - j) cells ahead and (i - 3) cells to the right."""
    out = np.zeros((4, C.VIEW, C.VIEW, 2), np.int32)
    for d, (dx, dy) in enumerate(C.DIR_TO_VEC):
        fwd, right = np.array([dx, dy]), np.array([-dy, dx])
        for i in range(C.VIEW):
            for j in range(C.VIEW):
                out[d, i, j] = (C.VIEW - 1 - j) * fwd + (i - C.VIEW // 2) * right
    return out


VIEW_OFFSETS = _view_offsets()


def view_cells(state: State) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The 7x7 cells in front of the agent, `u8[7, 7, 3]`, and their world positions `i32[7,7,2]`.
    Cells outside the grid read as walls, as in minigrid's `Grid.slice`."""
    w, h = state.ids.shape
    pos = state.agent_pos + jnp.asarray(VIEW_OFFSETS)[state.agent_dir]
    inside = (pos[..., 0] >= 0) & (pos[..., 0] < w) & (pos[..., 1] >= 0) & (pos[..., 1] < h)
    cells = state.grid[jnp.clip(pos[..., 0], 0, w - 1), jnp.clip(pos[..., 1], 0, h - 1)]
    cells = jnp.where(inside[..., None], cells, jnp.asarray(C.WALL_CELL))
    return cells, pos


_FULL_ROW = (1 << C.VIEW) - 1


def _with_neighbours(row: jnp.ndarray) -> jnp.ndarray:
    """A row bit mask (bit i = view column i) and its left and right neighbours."""
    return row | ((row << 1) & _FULL_ROW) | (row >> 1)


def visibility(cells: jnp.ndarray) -> jnp.ndarray:
    """bool[7, 7]: minigrid's `process_vis`.

    minigrid sweeps the rows from the agent's (j = 6) away from it; in each row light spreads
    left to right and back through cells that can be seen behind (not walls or closed doors),
    and every lit see-through cell lights the three cells of the next row. Two sweeps reach every
    cell a chain of see-through cells joins to a lit one, so a row's result is that closure,
    computed here on 7-bit masks: a few integer operations per row instead of minigrid's
    cell-by-cell loop. The optimisation barrier keeps XLA from fusing (and so recomputing) the
    rows' long chain of dependencies: 4x faster on CPU."""
    kind, state = cells[..., 0], cells[..., 2]
    clear = ~((kind == C.WALL) | ((kind == C.DOOR) & (state != C.OPEN)))
    bits = jnp.left_shift(jnp.uint32(1), jnp.arange(C.VIEW, dtype=jnp.uint32))
    clear_rows = (clear.astype(jnp.uint32) * bits[:, None]).sum(0)  # u32[7], one per row j
    lit = jnp.uint32(1 << (C.VIEW // 2))  # the agent's cell
    rows = [None] * C.VIEW
    for j in reversed(range(C.VIEW)):
        for _ in range(C.VIEW - 1):
            lit = lit | _with_neighbours(lit & clear_rows[j])
        rows[j] = lit = jax.lax.optimization_barrier(lit)
        lit = _with_neighbours(lit & clear_rows[j])
    return (jnp.stack(rows)[None, :] & bits[:, None]) > 0


def image(state: State) -> jnp.ndarray:
    """u8[7, 7, 3]: minigrid's `obs["image"]`. Unseen cells are zeros; the agent's own cell shows
    what it carries (or empty)."""
    cells, _ = view_cells(state)
    visible = visibility(cells)
    cells = jnp.where(visible[..., None], cells, jnp.zeros(3, jnp.uint8))
    own = jnp.where(state.carrying_id > 0, state.carrying, jnp.asarray(C.EMPTY_CELL))
    return cells.at[C.VIEW // 2, C.VIEW - 1].set(own)
