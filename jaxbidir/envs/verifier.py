"""minigrid's Baby Language verifiers (`babyai/core/verifier.py`, non-strict) in JAX.

`verify(instruction, after, action)` is called after every step with the instruction (and its
memory) from before the action and the state after it, and returns the updated instruction and
whether the mission is now accomplished.
Non-strict verifiers never fail, so an episode ends only in success or at the time limit.
"""

import jax.numpy as jnp

from . import constants as C
from . import language as L
from .dynamics import front_pos
from .grid import adjacent, member, positions_of
from .state import Instruction, State


def _clause(
    instr: Instruction, c: int, after: State, action, fwd
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Verify clause `c` once (minigrid's `verify_action`): (success, new pre_carrying)."""
    pre = instr.pre_carrying[c]
    carrying = after.carrying_id
    at_front = lambda cells: cells[fwd[0], fwd[1]]  # noqa: E731
    front_id = after.ids[fwd[0], fwd[1]]
    front = after.grid[fwd[0], fwd[1]]

    goto = at_front(instr.poss[c])
    pickup = (action == C.PICKUP) & (pre == 0) & member(carrying, instr.objs[c])
    opened = (
        (action == C.TOGGLE)
        & member(front_id, instr.objs[c])
        & (front[0] == C.DOOR)
        & (front[2] == C.OPEN)
    )
    # the object carried before the drop, if it is one of the moved objects, now lies next to one
    # of the fixed positions (if the drop failed it is still carried and lies nowhere)
    moved = jnp.where(
        member(pre, instr.objs[c]),
        jnp.left_shift(jnp.uint32(1), pre.astype(jnp.uint32)),
        jnp.uint32(0),
    )
    dropped_at = positions_of(after.ids, moved)
    putnext = (action == C.DROP) & jnp.any(dropped_at & adjacent(instr.fixed_poss[c]))
    success = jnp.select(
        [instr.kind[c] == L.GOTO, instr.kind[c] == L.PICKUP, instr.kind[c] == L.OPEN_DOOR],
        [goto, pickup, opened],
        putnext,
    )
    return success, carrying


def verify(instr: Instruction, after: State, action) -> tuple[Instruction, jnp.ndarray]:
    """Returns (instruction with updated verifier memory, mission accomplished)."""
    fwd = front_pos(after)
    # RoomGridLevel.step: a drop refreshes every description's positions (of tracked objects)
    dropped = action == C.DROP
    refresh = lambda poss, masks: jnp.where(  # noqa: E731
        dropped,
        jnp.stack([positions_of(after.ids, masks[c]) for c in range(2)]),
        poss,
    )
    instr = instr.replace(
        poss=refresh(instr.poss, instr.objs), fixed_poss=refresh(instr.fixed_poss, instr.fixed)
    )

    ok0, pre0 = _clause(instr, 0, after, action, fwd)
    ok1, pre1 = _clause(instr, 1, after, action, fwd)
    single, sequence = instr.order == 0, instr.order == 1
    # which clauses minigrid calls this step: the first until done; in a sequence the second once
    # the first is done (including in the step the first succeeds); in an "and" both until done
    call0 = ~instr.done[0]
    done0 = instr.done[0] | (call0 & ok0)
    call1 = jnp.where(sequence, done0, ~instr.done[1]) & ~single
    done1 = instr.done[1] | (call1 & ok1)
    instr = instr.replace(
        pre_carrying=jnp.stack(
            [
                jnp.where(call0, pre0, instr.pre_carrying[0]),
                jnp.where(call1, pre1, instr.pre_carrying[1]),
            ]
        ),
        done=jnp.stack([done0, done1]),
    )
    success = jnp.where(single, call0 & ok0, jnp.where(sequence, call1 & ok1, done0 & done1))
    return instr, success
