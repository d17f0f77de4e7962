"""A state drawn in RGB with navix's sprites, for notebooks and videos.

Every grid cell is looked up in one atlas of navix's tiles (`SPRITES_REGISTRY`, 8x8 pixels),
so drawing is a gather: jittable and vmappable like the rest.
"""

import functools

import jax.numpy as jnp
import numpy as np

from . import constants as C
from . import observation
from .state import State

_NAVIX_DOOR_STATE = {C.OPEN: 1, C.CLOSED: 0, C.LOCKED: 2}  # navix orders closed, open, locked


@functools.cache
def _atlas() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tiles `u8[N, 8, 8, 3]`, the tile of each cell code `i32[11, 6, 3]` (object, colour,
    state; unknown codes draw as floor) and the agent `u8[4, 8, 8, 3]` by direction."""
    # imported here, not at the top: importing navix takes seconds (see state.StepType)
    from navix.rendering.registry import SPRITES_REGISTRY

    sprites = {name: np.asarray(s) for name, s in SPRITES_REGISTRY.items()}  # host, not traced
    tiles = [sprites["floor"], sprites["wall"]]
    lut = np.zeros((11, 6, 3), np.int32)
    lut[C.WALL] = 1
    for name, code in [("key", C.KEY), ("ball", C.BALL), ("box", C.BOX)]:
        for colour in range(6):
            lut[code, colour] = len(tiles)
            tiles.append(sprites[name][colour])
    for colour in range(6):
        for state, navix_state in _NAVIX_DOOR_STATE.items():
            lut[C.DOOR, colour, state] = len(tiles)
            tiles.append(sprites["door"][colour, navix_state])
    for name, code in [("goal", C.GOAL), ("lava", C.LAVA)]:
        lut[code] = len(tiles)
        tiles.append(sprites[name])
    return np.stack(tiles), lut, sprites["player"]


def render(state: State, scale: int = 4, highlight: bool = True) -> jnp.ndarray:
    """u8[H * 8 * scale, W * 8 * scale, 3]: the whole grid seen from above (rows are y, as an
    image), the agent drawn with its direction and, with `highlight`, the cells it sees lightened
    as minigrid does."""
    tiles, lut, player = _atlas()
    w, h = state.ids.shape
    grid = state.grid.astype(jnp.int32)
    image = jnp.asarray(tiles)[
        jnp.asarray(lut)[grid[..., 0], jnp.minimum(grid[..., 1], 5), grid[..., 2]]
    ]
    image = image.at[state.agent_pos[0], state.agent_pos[1]].set(
        jnp.asarray(player)[state.agent_dir]
    )
    if highlight:
        cells, pos = observation.view_cells(state)
        seen = observation.visibility(cells)
        x = jnp.where((pos[..., 0] >= 0) & (pos[..., 1] >= 0), pos[..., 0], w)  # outside: dropped
        lit = jnp.zeros((w, h), bool).at[x, pos[..., 1]].max(seen, mode="drop")
        brighter = image + (255 - image.astype(jnp.int32)) * 3 // 10
        image = jnp.where(lit[:, :, None, None, None], brighter, image).astype(jnp.uint8)
    tile = tiles.shape[1]
    image = jnp.transpose(image, (1, 2, 0, 3, 4)).reshape(h * tile, w * tile, 3)
    return jnp.repeat(jnp.repeat(image, scale, axis=0), scale, axis=1)
