"""From a level's choice of objects to an `Instruction` and its mission tokens, inside JAX.

A clause is described by its kind and up to two object descriptors `i32[3]` = (type, colour, loc),
colour and loc -1 when absent; this resolves them against the layout the way minigrid's
`ObjDesc.find_matching_objs` does and writes the sentence minigrid's `surface` would.
"""

import jax.numpy as jnp
import numpy as np

from . import constants as C
from . import language as L
from .grid import positions_of
from .layout import Layout
from .state import Instruction

# how clauses are joined: minigrid's instruction classes
SINGLE, BEFORE, AFTER, AND = range(4)  # ActionInstr, BeforeInstr, AfterInstr, AndInstr
_ORDER = np.array([0, 1, 1, 2], np.int32)  # Instruction.order of each


def match(layout: Layout, desc) -> jnp.ndarray:
    """u32 bitmask of the ids of the objects matching descriptor `desc` = (type, colour, loc)."""
    type_, colour, loc = desc[0], desc[1], desc[2]
    kind, col = layout.grid[..., 0], layout.grid[..., 1]
    w, h = kind.shape
    xs, ys = np.meshgrid(np.arange(w), np.arange(h), indexing="ij")
    d1 = jnp.asarray(C.DIR_TO_VEC)[layout.agent_dir]
    vx, vy = xs - layout.agent_pos[0], ys - layout.agent_pos[1]
    ahead = vx * d1[0] + vy * d1[1]
    rightward = vx * -d1[1] + vy * d1[0]
    where = jnp.stack([rightward < 0, rightward > 0, ahead > 0, ahead < 0])  # LOC_NAMES order
    ok = (layout.ids > 0) & ((type_ < 0) | (kind == type_)) & ((colour < 0) | (col == colour))
    ok = ok & jnp.where(loc >= 0, where[jnp.maximum(loc, 0)], True)
    bits = jnp.left_shift(jnp.uint32(1), layout.ids.astype(jnp.uint32))
    # ids are unique, so the sum of distinct bits is their union
    return jnp.sum(jnp.where(ok, bits, jnp.uint32(0)), dtype=jnp.uint32)


def _count(mask) -> jnp.ndarray:
    return jnp.sum((mask >> jnp.arange(32, dtype=jnp.uint32)) & 1)


def _clause_words(kind, desc, desc_plural, fixed, fixed_plural) -> jnp.ndarray:
    """i32[18]: "verb desc [next to fixed]" with pads."""
    verb = jnp.asarray(L.CLAUSE_VERB)[kind]
    obj = L.describe_object(desc[0], desc[1], desc[2], desc_plural)
    is_put = kind == L.PUTNEXT
    next_to = jnp.where(is_put, jnp.asarray(L.ids("next", "to")), L.PAD_ID)
    other = jnp.where(is_put, L.describe_object(fixed[0], fixed[1], fixed[2], fixed_plural), 0)
    return jnp.concatenate([verb, obj, next_to, other])


def build(layout: Layout, connective, kinds, descs, fixeds, mission_length: int):
    """Resolve a one- or two-clause instruction.

    Args: `connective` SINGLE/BEFORE/AFTER/AND (static or traced i32); `kinds` i32[2];
    `descs`, `fixeds` i32[2, 3] descriptors (`fixeds` used by PUTNEXT only). Clauses are given
    in the order they are written; AFTER ("A after you B") is stored with B first.
    Returns `(instruction, mission i32[mission_length], num_navs i32, valid bool)`; `valid` is
    False when a descriptor matches nothing."""
    connective = jnp.asarray(connective)
    kinds, descs, fixeds = jnp.asarray(kinds), jnp.asarray(descs), jnp.asarray(fixeds)
    objs = jnp.stack([match(layout, descs[c]) for c in range(2)])
    fixed = jnp.stack([match(layout, fixeds[c]) for c in range(2)])
    is_put = kinds == L.PUTNEXT
    fixed = jnp.where(is_put, fixed, jnp.uint32(0))
    n_clauses = jnp.where(connective == SINGLE, 1, 2)
    used = jnp.arange(2) < n_clauses
    valid = jnp.all(~used | ((objs != 0) & (~is_put | (fixed != 0))))

    words = [
        _clause_words(kinds[c], descs[c], _count(objs[c]) > 1, fixeds[c], _count(fixed[c]) > 1)
        for c in range(2)
    ]
    pad = lambda *w: jnp.asarray(np.pad(L.ids(*w), (0, 2 - len(w))))  # noqa: E731
    joint = jnp.select(
        [connective == BEFORE, connective == AFTER, connective == AND],
        [pad(",", "then"), pad("after", "you"), pad("and")],
        jnp.zeros(2, jnp.int32),
    )
    second = jnp.where(connective == SINGLE, 0, words[1])
    mission = L.compact(jnp.concatenate([words[0], joint, second]), mission_length)

    # storage order: the clause to do first comes first
    swap = connective == AFTER
    order = lambda x: jnp.where(swap, x[::-1], x)  # noqa: E731
    objs, fixed, kinds = order(objs), order(fixed), order(kinds)
    instruction = Instruction(
        order=jnp.asarray(_ORDER)[connective],
        kind=kinds,
        objs=objs,
        fixed=fixed,
        poss=jnp.stack([positions_of(layout.ids, objs[c]) for c in range(2)]),
        fixed_poss=jnp.stack([positions_of(layout.ids, fixed[c]) for c in range(2)]),
        pre_carrying=jnp.zeros(2, jnp.int32),
        done=jnp.zeros(2, bool),
    )
    num_navs = jnp.sum(jnp.where(used, jnp.where(is_put, 2, 1), 0))
    return instruction, mission, num_navs, valid


def build_single(layout: Layout, kind, desc, mission_length: int, fixed=None):
    """`build` for a one-clause instruction: `kind`, descriptor `desc` (and `fixed` for PUTNEXT)."""
    fixed = NO_DESC if fixed is None else fixed
    return build(
        layout, SINGLE, jnp.stack([kind, kind]), jnp.stack([jnp.asarray(desc), NO_DESC]),
        jnp.stack([jnp.asarray(fixed), NO_DESC]), mission_length,
    )  # fmt: skip


def descriptor(cell) -> jnp.ndarray:
    """i32[3]: "the <colour> <type>" of an object cell, no location."""
    return jnp.stack([cell[0].astype(jnp.int32), cell[1].astype(jnp.int32), jnp.int32(-1)])


NO_DESC = np.array([-1, -1, -1], np.int32)
