"""The BabyAI levels: minigrid's generators (and GLAM's mixed ones) as pure JAX functions.

Each generator is one *attempt* `(key) -> (layout, instruction, mission, max_steps, valid)`;
`environment.reset` repeats attempts until one is valid, which is exactly minigrid's
`RejectSampling` loop. Grid sizes, distractor counts and `max_steps` are minigrid's defaults.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from . import constants as C
from . import instruction as I
from . import language as L
from . import layout as Lay
from .grid import adjacent, positions_of

ROOM = 8  # RoomGridLevel's default room_size


@dataclass(frozen=True)
class Level:
    """A registered level: its grid size and its generator's parameters."""

    env_id: str
    width: int
    height: int
    # (key, level, episode_key) -> (Layout, Instruction, mission, navs, valid); `episode_key` is
    # the same for every attempt of one reset: what minigrid fixes outside its rejection loop
    attempt: Callable
    # navs: minigrid's num_navs_needed * num_rows * num_cols, so max_steps = navs * ROOM**2
    params: dict = field(default_factory=dict)
    mission_length: int = 24
    max_steps: int | None = None  # fixed time limit (minigrid's `max_steps=` argument)
    room: int = ROOM  # minigrid's room_size: max_steps = navs * room**2


ONE_ROOM = Lay.room_interior((0, 0, ROOM), ROOM, ROOM)


def _goto_object(key, level: Level, cell=None, num_dists=0, unique=False):
    """GoToRedBall(NoDists)/GoToObj/GoToLocal(SxNy): agent, [target], distractors, go to one of
    them, in one room of `level.room`."""
    k_agent, k_obj, k_kinds, k_place, k_pick = jax.random.split(key, 5)
    room = Lay.room_interior((0, 0, level.room), level.width, level.height)
    grid = Lay.rooms_grid(level.room, 1, 1, level.width, level.height)
    lay = Lay.place_agent(k_agent, Lay.empty_layout(grid), room)
    n = num_dists
    if cell is not None:
        lay, _ = Lay.add_object(k_obj, lay, room, jnp.asarray(cell, jnp.uint8))
    if unique:
        kinds = Lay.unique_kinds(k_kinds, n)
    else:
        kinds = jax.vmap(Lay.random_kind)(jax.random.split(k_kinds, n))
    if n:
        lay = Lay.add_objects(k_place, lay, room, kinds)
    if cell is not None:
        target = jnp.asarray(cell)
    else:  # a uniformly chosen object among the distractors (ids 1..n)
        target = kinds[jax.random.randint(k_pick, (), 0, n)]
    reachable = Lay.all_reachable(lay) if level.params.get("reachable", True) else True
    instr, mission, navs, ok = I.build_single(
        lay, L.GOTO, I.descriptor(target), level.mission_length
    )
    return lay, instr, mission, navs, ok & reachable


def goto_red_ball(key, level, episode_key=None):
    cell = np.array([C.BALL, C.RED, 0], np.uint8)
    return _goto_object(key, level, cell=cell, num_dists=level.params["num_dists"])


def goto_obj(key, level, episode_key=None):
    return _goto_object(key, level, num_dists=1, unique=True)


def goto_local(key, level, episode_key=None):
    return _goto_object(key, level, num_dists=level.params["num_dists"])


def pickup_loc(key, level, episode_key=None, candidates: int = 16):
    """PickupLoc (LevelGen, 1 room): 8 distractors, then the agent (not facing an object), then
    `rand_obj`: colour in {none, 6 colours}, a type, and half the time a location, redrawn until it
    matches an object (here: the first matching one of `candidates` draws)."""
    k_kinds, k_place, k_agent, k_desc = jax.random.split(key, 4)
    grid = Lay.rooms_grid(ROOM, 1, 1, level.width, level.height)
    kinds = jax.vmap(Lay.random_kind)(jax.random.split(k_kinds, 8))
    lay = Lay.add_objects(k_place, Lay.empty_layout(grid), ONE_ROOM, kinds)
    lay = Lay.place_agent(k_agent, lay, ONE_ROOM)
    kc, kt, kb, kl = jax.random.split(k_desc, 4)
    colour = jax.random.randint(kc, (candidates,), 0, 7) - 1
    type_ = jnp.asarray(C.PICKABLE[::-1])[jax.random.randint(kt, (candidates,), 0, 3)]
    loc = jnp.where(
        jax.random.bernoulli(kb, 0.5, (candidates,)),
        jax.random.randint(kl, (candidates,), 0, 4),
        -1,
    )
    descs = jnp.stack([type_, colour, loc], -1)
    found = jax.vmap(lambda d: I.match(lay, d) != 0)(descs)
    desc = descs[jnp.argmax(found)]
    instr, mission, navs, ok = I.build_single(lay, L.PICKUP, desc, level.mission_length)
    return lay, instr, mission, navs, ok & Lay.all_reachable(lay)


def _next_to(lay, a_mask, b_mask) -> jnp.ndarray:
    """Whether an object of id-mask `a_mask` is next to one of `b_mask` (PutNextInstr.objs_next)."""
    return jnp.any(positions_of(lay.ids, a_mask) & adjacent(positions_of(lay.ids, b_mask)))


def putnext_local(key, level, episode_key=None):
    """PutNextLocal: agent, 8 distinct kinds, put one next to another; rejected when they are
    already next to each other."""
    k_agent, k_kinds, k_place, k_pick = jax.random.split(key, 4)
    grid = Lay.rooms_grid(ROOM, 1, 1, level.width, level.height)
    lay = Lay.place_agent(k_agent, Lay.empty_layout(grid), ONE_ROOM)
    kinds = Lay.unique_kinds(k_kinds, 8)
    lay = Lay.add_objects(k_place, lay, ONE_ROOM, kinds)
    pick = jax.random.permutation(k_pick, 8)[:2]
    move, fixed = I.descriptor(kinds[pick[0]]), I.descriptor(kinds[pick[1]])
    instr, mission, navs, ok = I.build_single(
        lay, L.PUTNEXT, move, level.mission_length, fixed=fixed
    )
    apart = ~_next_to(lay, instr.objs[0], instr.fixed[0])
    return lay, instr, mission, navs, ok & apart & Lay.all_reachable(lay)


def _door_positions(key, room_size, num_cols, num_rows):
    """minigrid's `RoomGrid._gen_grid` door positions, i32[num_rows, num_cols, 4, 2] (right, down,
    left, up): a random cell along each shared wall."""
    pos = np.zeros((num_rows, num_cols, 4, 2), np.int32)
    out = jnp.asarray(pos)
    keys = jax.random.split(key, num_rows * num_cols * 2).reshape(num_rows, num_cols, 2, -1)
    for j in range(num_rows):
        for i in range(num_cols):
            x0, y0 = i * (room_size - 1), j * (room_size - 1)
            xm, ym = x0 + room_size - 1, y0 + room_size - 1
            if i < num_cols - 1:
                y = jax.random.randint(keys[j, i, 0], (), y0 + 1, ym)
                out = out.at[j, i, 0].set(jnp.stack([xm, y]))
            if j < num_rows - 1:
                x = jax.random.randint(keys[j, i, 1], (), x0 + 1, xm)
                out = out.at[j, i, 1].set(jnp.stack([x, ym]))
            if i > 0:
                out = out.at[j, i, 2].set(out[j, i - 1, 0])
            if j > 0:
                out = out.at[j, i, 3].set(out[j - 1, i, 1])
    return out


def unlock_local(key, level, episode_key=None):
    """UnlockLocal (3x3 rooms of 8): a locked door of a random colour on a random wall of the
    middle room, its key in that room, the agent there too; "open the door"."""
    k_doors, k_side, k_colour, k_key, k_agent = jax.random.split(key, 5)
    grid = Lay.rooms_grid(ROOM, 3, 3, level.width, level.height)
    middle = Lay.room_interior((ROOM - 1, ROOM - 1, ROOM), level.width, level.height)
    doors = _door_positions(k_doors, ROOM, 3, 3)
    pos = doors[1, 1, jax.random.randint(k_side, (), 0, 4)]
    colour = jax.random.randint(k_colour, (), 0, 6)
    lay = Lay.put(Lay.empty_layout(grid), pos, jnp.stack([C.DOOR, colour, C.LOCKED]))
    lay, _ = Lay.add_object(k_key, lay, middle, jnp.stack([C.KEY, colour, 0]))
    lay = Lay.place_agent(k_agent, lay, middle)
    door = np.array([C.DOOR, -1, -1], np.int32)
    instr, mission, navs, ok = I.build_single(lay, L.OPEN_DOOR, door, level.mission_length)
    return lay, instr, mission, navs * 9, ok  # minigrid counts navigation time over all 9 rooms


# GLAM's mixed levels -------------------------------------------------------------------------
# (colour, type) pairs held out of training; the test level uses only these.
HELD_OUT = np.zeros((6, 16), bool)
for _c, _t in [
    (C.YELLOW, C.BOX),
    (C.RED, C.KEY),
    (C.RED, C.DOOR),
    (C.GREEN, C.BALL),
    (C.GREY, C.DOOR),
]:
    HELD_OUT[_c, _t] = True
MIXED_GOTO, MIXED_PICKUP, MIXED_PUTNEXT, MIXED_PICKUP_GOTO, MIXED_OPEN, MIXED_PICKUP_PICKUP = range(
    6
)


def _other(key, kinds, n, first):
    """GLAM's second object: uniform among the `n` objects; if it has the first's kind while no
    other object does, redrawn among the objects of another kind."""
    present = jnp.arange(kinds.shape[0]) < n
    same = jnp.all(kinds == kinds[first], -1) & present
    k1, k2 = jax.random.split(key)
    second = jax.random.randint(k1, (), 0, n)
    redraw = same[second] & (jnp.sum(same) < 2)
    other = Lay.choose(k2, ~same & present)
    return jnp.where(redraw, other, second)


def _mixed_one_room(key, level, task):
    k_agent, k_kinds, k_place, k_a, k_b, k_order = jax.random.split(key, 6)
    grid = Lay.rooms_grid(ROOM, 1, 1, level.width, level.height)
    interior = Lay.room_interior((0, 0, ROOM), level.width, level.height)
    lay = Lay.place_agent(k_agent, Lay.empty_layout(grid), interior)
    # goto/pickup place 9 objects, the others 10: place 10 and take the 10th back when not needed
    kinds = jax.vmap(Lay.random_kind)(jax.random.split(k_kinds, 10))
    lay = Lay.add_objects(k_place, lay, interior, kinds)
    n = jnp.where((task == MIXED_GOTO) | (task == MIXED_PICKUP), 9, 10)
    tenth = lay.ids == 10
    lay = lay.replace(
        grid=jnp.where((tenth & (n == 9))[..., None], jnp.asarray(C.EMPTY_CELL), lay.grid),
        ids=jnp.where(tenth & (n == 9), 0, lay.ids),
    )
    a = jax.random.randint(k_a, (), 0, n)
    b = _other(k_b, kinds, n, a)
    desc_a, desc_b = I.descriptor(kinds[a]), I.descriptor(kinds[b])
    before = jax.random.bernoulli(k_order, 0.5)
    seq = (task == MIXED_PICKUP_GOTO) | (task == MIXED_PICKUP_PICKUP)
    connective = jnp.where(seq, jnp.where(before, I.BEFORE, I.AFTER), I.SINGLE)
    second = jnp.where(task == MIXED_PICKUP_PICKUP, L.PICKUP, L.GOTO)
    kind_a = jnp.select([task == MIXED_GOTO, task == MIXED_PUTNEXT], [L.GOTO, L.PUTNEXT], L.PICKUP)
    # "A, then B" is written A first; "B after you A" is written B first
    after = connective == I.AFTER
    kinds_w = jnp.where(after, jnp.stack([second, kind_a]), jnp.stack([kind_a, second]))
    descs = jnp.where(after, jnp.stack([desc_b, desc_a]), jnp.stack([desc_a, desc_b]))
    fixeds = jnp.stack([jnp.where(task == MIXED_PUTNEXT, desc_b, I.NO_DESC), I.NO_DESC])
    instr, mission, navs, ok = I.build(
        lay, connective, kinds_w, descs, fixeds, level.mission_length
    )
    ok = ok & Lay.all_reachable(lay)
    # RoomGridLevel.validate_instrs rejects PutNext with overlapping descriptions or objects
    # already next to each other
    put = task == MIXED_PUTNEXT
    ok = ok & ~(put & ((instr.objs[0] & instr.fixed[0]) != 0))
    ok = ok & ~(put & _next_to(lay, instr.objs[0], instr.fixed[0]))
    mentioned = jnp.stack([kinds[a], jnp.where(put | seq, kinds[b], kinds[a])])
    return lay, instr, mission, navs, ok, mentioned


def _mixed_open(key, level, door_colours, always_colour):
    k_doors, k_room, k_colour, k_key, k_kinds, k_place, k_agent, k_say = jax.random.split(key, 8)
    grid = Lay.rooms_grid(ROOM, 2, 1, level.width, level.height)
    rooms = [
        Lay.room_interior((i * (ROOM - 1), 0, ROOM), level.width, level.height) for i in range(2)
    ]
    door = _door_positions(k_doors, ROOM, 2, 1)[0, 0, 0]
    locked = jax.random.randint(k_room, (), 0, 2)
    colour = jnp.asarray(door_colours)[jax.random.randint(k_colour, (), 0, len(door_colours))]
    open_room = jnp.where(locked == 0, jnp.asarray(rooms[1]), jnp.asarray(rooms[0]))
    lay = Lay.empty_layout(grid)
    # GLAM's _regen_grid leaves the agent in the middle of the grid, facing east, while objects
    # are placed, so they keep clear of that cell
    lay = lay.replace(agent_pos=jnp.array([ROOM - 1 + ROOM // 2, ROOM // 2], jnp.int32))
    lay = Lay.put(lay, door, jnp.stack([C.DOOR, colour, C.LOCKED]))
    lay, _ = Lay.add_object(k_key, lay, open_room, jnp.stack([C.KEY, colour, 0]))
    kinds = jax.vmap(Lay.random_kind)(jax.random.split(k_kinds, 8))
    lay = Lay.add_objects(k_place, lay, open_room, kinds)
    lay = Lay.place_agent(k_agent, lay.replace(agent_pos=jnp.array([-1, -1], jnp.int32)), open_room)
    say = jnp.asarray(always_colour) | jax.random.bernoulli(k_say, 0.5)
    desc = jnp.stack([jnp.int32(C.DOOR), jnp.where(say, colour, -1), jnp.int32(-1)])
    instr, mission, navs, ok = I.build_single(lay, L.OPEN_DOOR, desc, level.mission_length)
    door_kind = jnp.stack([C.DOOR, jnp.where(say, colour, -1), 0]).astype(jnp.int32)
    return lay, instr, mission, navs, ok & Lay.all_reachable(lay), jnp.stack([door_kind] * 2)


def mixed(key, level, episode_key=None):
    """GLAM's MixedTrainLocal / MixedTestLocal: one task drawn uniformly per episode (GLAM draws
    it once per environment instance; over many instances the mix is the same). The open task
    uses two rooms (a 15x8 grid); the one-room tasks use the left 8x8 and leave the rest walls,
    which the agent sees exactly as minigrid's out-of-grid cells."""
    test = level.params["test"]
    k_one, k_open = jax.random.split(key)
    # the task is drawn once per episode: rejections redraw the layout, not the task
    task = jax.random.randint(episode_key, (), 0, 6 if test else 5)
    one = _mixed_one_room(k_one, level, task)
    door_colours = [C.RED, C.GREY] if test else [C.YELLOW, C.GREEN, C.BLUE, C.PURPLE]
    two = _mixed_open(k_open, level, np.array(door_colours), test)
    lay, instr, mission, navs, ok, mentioned = jax.tree.map(
        lambda a, b: jnp.where(task == MIXED_OPEN, b, a), one, two
    )
    rooms = jnp.where(task == MIXED_OPEN, 2, 1)
    held = jnp.asarray(HELD_OUT)[jnp.maximum(mentioned[:, 1], 0), mentioned[:, 0]]
    held = held & (mentioned[:, 1] >= 0)
    # "open the door" names no colour: it is a training mission
    accepted = jnp.all(held) if test else ~jnp.any(held)
    return lay, instr, mission, navs * rooms, ok & accepted


def _level(env_id, attempt, width=ROOM, height=ROOM, room=ROOM, **params):
    return Level(env_id, width, height, attempt, params=params, room=room)


# BabyAI's small GoToLocal variants (room size S, N distractors), minigrid's registered ones
SMALL_GOTO_LOCAL = ((5, 2), (6, 2), (6, 3), (6, 4), (7, 4), (7, 5), *((8, n) for n in range(2, 8)))


def small_goto_local_id(size: int, n: int) -> str:
    return f"BabyAI-GoToLocalS{size}N{n}-v0"


LEVELS: dict[str, Level] = {
    lvl.env_id: lvl
    for lvl in [
        _level("BabyAI-GoToRedBallNoDists-v0", goto_red_ball, num_dists=0),
        _level("BabyAI-GoToRedBall-v0", goto_red_ball, num_dists=7),
        _level("BabyAI-GoToObj-v0", goto_obj, reachable=False),
        _level("BabyAI-GoToLocal-v0", goto_local, num_dists=8),
        *(
            _level(small_goto_local_id(s, n), goto_local, s, s, room=s, num_dists=n)
            for s, n in SMALL_GOTO_LOCAL
        ),
        _level("BabyAI-PickupLoc-v0", pickup_loc),
        _level("BabyAI-PutNextLocal-v0", putnext_local),
        _level("BabyAI-UnlockLocal-v0", unlock_local, width=22, height=22),
        _level("BabyAI-MixedTrainLocal-v0", mixed, width=15, test=False),
        _level("BabyAI-MixedTestLocal-v0", mixed, width=15, test=True),
    ]
}
