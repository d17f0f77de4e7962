"""GLAM's prompt, built inside JAX from the level's state, in the language model's own tokens.

    possible action of the agent : turn left , turn right , go forward , pick up , drop , toggle
    goal of the agent : go to the red ball
    observation 0 : you see a wall 2 steps forward . you see a red ball 1 step left .
    action 0 : turn left
    observation 1 : ...
    action 1 : go forward
    observation 2 : ...
    action 2 :

(one line here per line of GLAM's template, whose line breaks are left out: the default word-level
tokenizer has no token for them). The last `HISTORY` observations of the episode (fewer at its
start), described as GLAM does (`envs.describe`), with the actions taken between them. The
action strings are the candidates the policy scores (`candidates`).

The prompt is assembled from fixed word slots and packed into the tokenizer's pieces by the
teacher's `Bridge` (absent observations and padding words take no tokens), left-padded to one
static length.
"""

import flax.struct
import jax.numpy as jnp
import numpy as np

from jaxbidir.envs import language as L
from jaxbidir.teacher.vocabulary import ALL_WORDS, Bridge

HISTORY = 3  # observations in the prompt (GLAM's nbr_obs), with the HISTORY - 1 actions between
# GLAM's action strings, in minigrid's action order (0 left ... 5 toggle; "done" is not offered)
ACTIONS = (("turn", "left"), ("turn", "right"), ("go", "forward"), ("pick", "up"), ("drop",),
           ("toggle",))  # fmt: skip
# words of the template that are not Baby Language or the teacher's template words
EXTRA_WORDS = ("possible", "action", "agent", "turn", "toggle", "observation", "0")
WORDS = (*ALL_WORDS, *EXTRA_WORDS)
_ID = {w: i for i, w in enumerate(WORDS)}
_ACTION_WIDTH = max(len(a) for a in ACTIONS)


def _ids(text: str) -> np.ndarray:
    return np.array([_ID[w] for w in text.split()], np.int32)


def _word(w: str) -> jnp.ndarray:
    return jnp.array([_ID[w]], jnp.int32)


def _action_words() -> np.ndarray:
    """i32[6, 2]: each action string's words, padded."""
    out = np.zeros((len(ACTIONS), _ACTION_WIDTH), np.int32)
    for i, words in enumerate(ACTIONS):
        out[i, : len(words)] = [_ID[w] for w in words]
    return out


_ACTION_WORDS = _action_words()


_HEAD = _ids(
    "possible action of the agent : "
    + " , ".join(" ".join(a) for a in ACTIONS)
    + " goal of the agent :"
)
_NUMBER = _ids("0 1 2")


def missing_words(tokenizer) -> list[str]:
    """The template words `tokenizer` cannot write (its unknown token, or nothing)."""
    unknown = ([], [tokenizer.unk_token_id])
    encode = lambda w: tokenizer.encode(" " + w, add_special_tokens=False)  # noqa: E731
    return [w for w in EXTRA_WORDS if encode(w) in unknown]


@flax.struct.dataclass
class Prompter:
    """Builds prompts and candidates for one tokenizer (a pytree: pass it into jitted code)."""

    bridge: Bridge  # built with `extra_words=EXTRA_WORDS`
    mission_length: int = flax.struct.field(pytree_node=False)
    description_length: int = flax.struct.field(pytree_node=False)

    @classmethod
    def build(cls, tokenizer, mission_length: int, description_length: int) -> "Prompter":
        bridge = Bridge.build(tokenizer, extra_words=EXTRA_WORDS)
        return cls(bridge, mission_length, description_length)

    @property
    def words(self) -> int:
        """Word slots of a prompt (static)."""
        observation = 3 + self.description_length + 3  # "observation k :" view "action k :"
        actions = _ACTION_WIDTH * (HISTORY - 1)
        return len(_HEAD) + self.mission_length + HISTORY * observation + actions

    @property
    def length(self) -> int:
        """Tokens of a prompt (static)."""
        return self.words * self.bridge.pieces.shape[1]

    @property
    def candidate_length(self) -> int:
        return _ACTION_WIDTH * self.bridge.pieces.shape[1]

    def prompt(self, mission, views, actions, seen):
        """One environment's prompt: mission i32[M]; views i32[HISTORY, D] the descriptions of the
        last observations, oldest first, the current one last; actions i32[HISTORY - 1] taken
        after each but the last; seen i32 how many observations before the current one belong
        to this episode -> (tokens i32[P], mask bool[P]), left-padded. vmap over a batch."""
        skipped = HISTORY - 1 - jnp.minimum(seen, HISTORY - 1)  # older slots not in this episode
        action_words = jnp.asarray(_ACTION_WORDS)[actions]  # [HISTORY - 1, 2]
        parts = [jnp.asarray(_HEAD), mission]
        for k in range(HISTORY):
            number = jnp.asarray(_NUMBER)[jnp.maximum(k - skipped, 0)]
            block = [_word("observation"), number[None], _word(":"), views[k],
                     _word("action"), number[None], _word(":")]  # fmt: skip
            if k < HISTORY - 1:
                block.append(action_words[k])
            block = jnp.concatenate([jnp.asarray(b, jnp.int32) for b in block])
            parts.append(jnp.where(k >= skipped, block, L.PAD_ID))
        words = jnp.concatenate([jnp.asarray(p, jnp.int32) for p in parts])
        return self.bridge.pack(words, self.length, left_pad=True)

    def candidates(self):
        """The action strings in the model's tokens, right-padded: (i32[6, A], bool[6, A])."""
        words = jnp.asarray(_ACTION_WORDS)
        packed = [self.bridge.pack(w, self.candidate_length, left_pad=False) for w in words]
        return jnp.stack([t for t, _ in packed]), jnp.stack([m for _, m in packed])
