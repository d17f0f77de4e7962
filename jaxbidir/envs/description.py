"""What the agent sees, in words: GLAM's (BabyAI-Text's) description of the egocentric view.

"you carry a blue key. you see a wall 2 steps forward. you see a red ball 1 step left and 2 steps
forward." GLAM writes it in Python from the 7x7 image (`get_babyai_text_obs`); here it is written
from the same image as token ids inside JAX, lower-cased, in GLAM's order: what the agent
carries; the walls straight ahead, to the left and to the right (each only when nothing stands
between); then every visible object, column by column. One deliberate difference: an open door
is "an open door" (GLAM's test for the article compares a string with 0 and always writes "a").
"""

import jax.numpy as jnp
import numpy as np

from . import constants as C
from . import language as L
from . import observation
from .state import State

DESCRIPTION_LENGTH = 160  # tokens; the longest view of the shipped levels takes 147
_SLOTS = 14  # the longest sentence: you see a closed red door 2 steps left and 1 step forward .
_X, _Y = C.VIEW // 2, C.VIEW - 1  # the agent's cell in its own view
_W = L.VOCAB


def _distance(n, direction) -> jnp.ndarray:
    """i32[..., 3]: "n step(s) direction" (`direction` a word id), or pads where `n` is 0."""
    n = jnp.asarray(n)
    words = jnp.stack(
        [
            jnp.asarray(L.NUMBER_WORD)[n],
            jnp.where(n > 1, _W["steps"], _W["step"]),
            jnp.broadcast_to(direction, n.shape),
        ],
        -1,
    )
    return jnp.where(n[..., None] > 0, words, L.PAD_ID)


def _sentence(words: jnp.ndarray, valid) -> jnp.ndarray:
    """i32[..., _SLOTS]: `words` i32[..., k] padded and ended by a full stop; pads if not valid."""
    pad = jnp.zeros((*words.shape[:-1], _SLOTS - 1 - words.shape[-1]), jnp.int32)
    stop = jnp.full((*words.shape[:-1], 1), _W["."], jnp.int32)
    out = jnp.concatenate([words.astype(jnp.int32), pad, stop], -1)
    return jnp.where(jnp.asarray(valid)[..., None], out, L.PAD_ID)


def _const(*words: str) -> jnp.ndarray:
    return jnp.asarray(L.ids(*words))


def _wall(line: jnp.ndarray, direction: str) -> jnp.ndarray:
    """The sentence for the first thing along `line` (u8[n] object codes, nearest first), if it is
    a wall: GLAM looks past unseen and empty cells and stops at anything else."""
    stops = (line != C.UNSEEN) & (line != C.EMPTY)
    first = jnp.argmax(stops)
    is_wall = stops[first] & (line[first] == C.WALL)
    words = jnp.concatenate(
        [_const("you", "see", "a", "wall"), _distance(first + 1, _W[direction])]
    )
    return _sentence(words, is_wall)


def describe_view(image: jnp.ndarray, carrying: jnp.ndarray, length: int) -> jnp.ndarray:
    """i32[length]: the description of `image` (u8[7,7,3], minigrid's egocentric view) for an agent
    carrying `carrying` (u8[3], zeros for nothing).

    Sentences that do not fit in `length` tokens are left out whole (the last objects first)."""
    kind, colour, state = (image[..., k].astype(jnp.int32) for k in range(3))
    type_words, colour_words = jnp.asarray(L.TYPE_WORD), jnp.asarray(L.COLOUR_WORD)

    carry = _sentence(
        jnp.concatenate(
            [
                _const("you", "carry", "a"),
                jnp.stack([colour_words[carrying[1]], type_words[carrying[0]]]),
            ]
        ),
        carrying[0] != C.UNSEEN,
    )
    walls = jnp.stack(
        [
            _wall(kind[_X, _Y - 1 :: -1], "forward"),
            _wall(kind[_X - 1 :: -1, _Y], "left"),
            _wall(kind[_X + 1 :, _Y], "right"),
        ]
    )

    # every cell of the view as a potential object sentence, [x, y] -> x-major like GLAM's loop
    x, y = np.meshgrid(np.arange(C.VIEW), np.arange(C.VIEW), indexing="ij")
    dx, ahead = x - _X, _Y - y
    door = kind == C.DOOR
    side = jnp.where(dx < 0, _W["left"], _W["right"])
    # one axis when the object is straight ahead or level with the agent, else sideways then ahead
    first = jnp.where(
        (dx == 0)[..., None], _distance(ahead, _W["forward"]), _distance(np.abs(dx), side)
    )
    second = jnp.where(
        ((dx != 0) & (ahead != 0))[..., None],
        jnp.concatenate(
            [jnp.full((*kind.shape, 1), _W["and"]), _distance(ahead, _W["forward"])], -1
        ),
        L.PAD_ID,
    )
    head = jnp.stack(
        [
            jnp.full(kind.shape, _W["you"]),
            jnp.full(kind.shape, _W["see"]),
            jnp.where(door & (state == C.OPEN), _W["an"], _W["a"]),
            jnp.where(door, jnp.asarray(L.STATE_WORD)[jnp.minimum(state, 2)], L.PAD_ID),
            colour_words[jnp.minimum(colour, 5)],
            type_words[kind],
        ],
        -1,
    )
    is_object = (kind > C.WALL) & ~((x == _X) & (y == _Y))
    objects = _sentence(jnp.concatenate([head, first, second], -1), is_object)

    sentences = jnp.concatenate([carry[None], walls, objects.reshape(-1, _SLOTS)])
    fits = jnp.cumsum((sentences != L.PAD_ID).sum(-1)) <= length
    return L.compact(jnp.where(fits[:, None], sentences, L.PAD_ID).reshape(-1), length)


def describe(state: State, length: int = DESCRIPTION_LENGTH) -> jnp.ndarray:
    """i32[length]: the description of what the agent of `state` sees and carries."""
    return describe_view(observation.image(state), state.carrying, length)
