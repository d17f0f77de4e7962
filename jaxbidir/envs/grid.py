"""Helpers on the dense grid: object ids as u32 bitmasks, the cells holding them, neighbours.

An object's id `i` (1..31, 0 = none) is bit `i` of a u32 mask, so a set of objects (what a
description matches) is one integer; see `state.py`.
"""

import jax.numpy as jnp


def member(obj_id, mask) -> jnp.ndarray:
    """Whether object `obj_id` (0 = none) is in the u32 id bitmask `mask`."""
    bit = jnp.left_shift(jnp.uint32(1), obj_id.astype(jnp.uint32))
    return (obj_id > 0) & ((mask & bit) != 0)


def positions_of(ids: jnp.ndarray, mask) -> jnp.ndarray:
    """bool[W, H]: the cells holding an object whose id is in `mask`."""
    bits = jnp.left_shift(jnp.uint32(1), ids.astype(jnp.uint32))
    return (ids > 0) & ((bits & mask) != 0)


def adjacent(cells: jnp.ndarray) -> jnp.ndarray:
    """bool[W, H]: cells at Manhattan distance 1 from a True cell (minigrid's `pos_next_to`)."""
    pad = jnp.pad(cells, 1)
    return pad[2:, 1:-1] | pad[:-2, 1:-1] | pad[1:-1, 2:] | pad[1:-1, :-2]
