"""Codes shared with minigrid (and navix, whose palette uses the same colour indices).

A grid cell is minigrid's `(object, colour, state)` triple, `u8[3]`; the tables below are
minigrid's `OBJECT_TO_IDX`, `COLOR_TO_IDX` and door states, so an image from this package and one
from minigrid can be compared byte for byte.
"""

import numpy as np

# minigrid.core.constants.OBJECT_TO_IDX (its "agent", 10, is never in a grid)
UNSEEN, EMPTY, WALL, FLOOR, DOOR, KEY, BALL, BOX, GOAL, LAVA = range(10)
OBJECT_NAMES = (
    "unseen",
    "empty",
    "wall",
    "floor",
    "door",
    "key",
    "ball",
    "box",
    "goal",
    "lava",
    "agent",
)

# minigrid.core.constants.COLOR_TO_IDX == navix.rendering.registry.PALETTE
RED, GREEN, BLUE, PURPLE, YELLOW, GREY = range(6)
COLOUR_NAMES = ("red", "green", "blue", "purple", "yellow", "grey")

# door state channel
OPEN, CLOSED, LOCKED = range(3)

# minigrid.MiniGridEnv.Actions (navix's MiniGrid action set has the same order)
LEFT, RIGHT, FORWARD, PICKUP, DROP, TOGGLE, DONE = range(7)
ACTION_NAMES = ("left", "right", "forward", "pickup", "drop", "toggle", "done")
NUM_ACTIONS = 7

# minigrid.core.constants.DIR_TO_VEC, as (dx, dy): 0 east, 1 south, 2 west, 3 north
DIR_TO_VEC = np.array([(1, 0), (0, 1), (-1, 0), (0, -1)], dtype=np.int32)

# object types that can be described in Baby Language (minigrid's verifier.OBJ_TYPES)
PICKABLE = (KEY, BALL, BOX)
DISTRACTOR_TYPES = (KEY, BALL, BOX)  # RoomGrid.add_distractors draws from these, in this order

WALL_CELL = np.array([WALL, GREY, 0], dtype=np.uint8)
EMPTY_CELL = np.array([EMPTY, 0, 0], dtype=np.uint8)

VIEW = 7  # minigrid's default agent_view_size
