"""Baby Language: one word-level vocabulary for missions, view descriptions and hints.

Text is tokenised by whitespace, with the comma of "A, then B" and the full stop between
description sentences tokens of their own, so that `decode(encode(s)) == s` for every mission
minigrid writes and every description GLAM writes (lower-cased). Token ids are `int32`; 0 pads.
Inside JAX, sentences are assembled from fixed-size word slots and compacted (`compact`), so a
mission is built without leaving the jitted reset.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np

from . import constants as C

PAD, EOS = "<pad>", "<eos>"

WORDS = (
    PAD, EOS,
    # instructions
    "go", "to", "pick", "up", "open", "put", "next", "drop", ",", "then", "after", "you", "and",
    # descriptors
    "the", "a", "an", *C.COLOUR_NAMES, "ball", "box", "key", "door", "object",
    "in", "front", "of", "on", "your", "left", "right", "behind",
    # view descriptions (GLAM-style)
    "see", "carry", "wall", "step", "steps", "forward", "closed", "locked", ".",
    "1", "2", "3", "4", "5", "6", "7",
)  # fmt: skip
VOCAB = {w: i for i, w in enumerate(WORDS)}
VOCAB_SIZE = len(WORDS)
PAD_ID, EOS_ID = VOCAB[PAD], VOCAB[EOS]

# Instruction kinds (one clause) and locations, as stored in the state.
GOTO, PICKUP, OPEN_DOOR, PUTNEXT = range(4)
LOC_NAMES = ("left", "right", "front", "behind")  # minigrid's verifier.LOC_NAMES order


def tokenize(text: str) -> list[str]:
    return re.sub(r"([,.])", r" \1 ", text).split()


def encode(text: str, length: int) -> np.ndarray:
    """Text -> `i32[length]`, padded with 0. Raises on unknown words or too long a text."""
    words = tokenize(text)
    unknown = [w for w in words if w not in VOCAB]
    if unknown:
        raise ValueError(f"words not in the Baby Language vocabulary: {unknown} (in {text!r})")
    if len(words) > length:
        raise ValueError(
            f"text has {len(words)} tokens but the token length is {length}: {text!r}; "
            f"raise `mission_length` (make(env_id, mission_length=...))"
        )
    out = np.zeros(length, np.int32)
    out[: len(words)] = [VOCAB[w] for w in words]
    return out


def decode(tokens) -> str:
    """`i32[L]` -> text; stops at the first <eos>, skips padding."""
    words = []
    for t in np.asarray(tokens).tolist():
        if t == EOS_ID:
            break
        if t != PAD_ID:
            words.append(WORDS[t])
    return " ".join(words).replace(" ,", ",").replace(" .", ".")


def ids(*words: str) -> np.ndarray:
    return np.array([VOCAB[w] for w in words], np.int32)


def compact(tokens: jnp.ndarray, length: int) -> jnp.ndarray:
    """Move the non-pad tokens of `i32[N]` to the front, in order, and cut/pad to `length`."""
    keep = tokens != PAD_ID
    slot = jnp.where(keep, jnp.cumsum(keep) - 1, length)  # a scatter: cheaper than a sort
    return jnp.zeros(length, tokens.dtype).at[slot].set(tokens, mode="drop")


def _table(rows: list[list[str]], width: int) -> np.ndarray:
    out = np.zeros((len(rows), width), np.int32)
    for i, r in enumerate(rows):
        out[i, : len(r)] = [VOCAB[w] for w in r]
    return out


# word slots, indexed by code; 0 rows/entries mean "no word"
NUMBER_WORD = np.zeros(16, np.int32)
NUMBER_WORD[1:8] = ids(*"1234567")
TYPE_WORD = np.zeros(16, np.int32)
for _code, _name in [
    (C.DOOR, "door"),
    (C.KEY, "key"),
    (C.BALL, "ball"),
    (C.BOX, "box"),
    (C.WALL, "wall"),
]:
    TYPE_WORD[_code] = VOCAB[_name]
COLOUR_WORD = ids(*C.COLOUR_NAMES)
STATE_WORD = ids("open", "closed", "locked")
LOC_WORDS = _table(
    [
        ["on", "your", "left"],
        ["on", "your", "right"],
        ["in", "front", "of", "you"],
        ["behind", "you"],
    ],
    4,
)
CLAUSE_VERB = _table([["go", "to"], ["pick", "up"], ["open"], ["put"]], 2)


def describe_object(type_, colour, loc, plural) -> jnp.ndarray:
    """Tokens of an object description, `i32[7]` with pads: "the|a [colour] type [location]".

    Args: `type_` object code (or -1 for "object"), `colour` (-1 for none), `loc` (-1 for none),
    `plural` whether more than one object matches (minigrid then says "a")."""
    article = jnp.where(plural, VOCAB["a"], VOCAB["the"])
    colour_w = jnp.where(colour >= 0, jnp.asarray(COLOUR_WORD)[jnp.maximum(colour, 0)], PAD_ID)
    type_w = jnp.where(type_ >= 0, jnp.asarray(TYPE_WORD)[jnp.maximum(type_, 0)], VOCAB["object"])
    loc_w = jnp.where(loc >= 0, jnp.asarray(LOC_WORDS)[jnp.maximum(loc, 0)], PAD_ID)
    return jnp.concatenate([jnp.stack([article, colour_w, type_w]), loc_w])


_SWAPPABLE_TYPES = ids("ball", "box", "key", "door")


def wrong_word(hint: jnp.ndarray, key) -> jnp.ndarray:
    """i32[K]: the hint with one colour or object-type word swapped for another of its kind, at
    random ("go to the red ball" -> "go to the blue ball"): a wrong hint of the same form;
    unchanged when it has none (e.g. "drop")."""
    k_pos, k_word = jax.random.split(key)
    candidates = jnp.isin(hint, COLOUR_WORD) | jnp.isin(hint, _SWAPPABLE_TYPES)
    pos = jnp.argmax(jnp.where(candidates, jax.random.uniform(k_pos, hint.shape), -1.0))
    word = hint[pos]
    is_colour = jnp.isin(word, COLOUR_WORD)
    types = jnp.pad(
        _SWAPPABLE_TYPES, (0, len(COLOUR_WORD) - len(_SWAPPABLE_TYPES)), constant_values=-1
    )
    pool = jnp.where(is_colour, COLOUR_WORD, types)
    size = jnp.where(is_colour, len(COLOUR_WORD), len(_SWAPPABLE_TYPES))
    shift = jax.random.randint(k_word, (), 1, size)  # any other word of the same kind
    other = pool[(jnp.argmax(pool == word) + shift) % size]
    return jnp.where(candidates.any(), hint.at[pos].set(other), hint)
