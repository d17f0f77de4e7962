"""Between the student's Baby Language ids and a teacher's own tokenizer, as lookup tables.

The teacher reads a prompt and writes a hint in its tokenizer's ids; the levels and the student
speak Baby Language ids (`envs.VOCAB`). `Bridge.build(tokenizer)` reads the tokenizer once, on the
host, and keeps only arrays, so that both directions run inside jitted code:

- prompt: `goal : <mission> . <description> hint :` (Baby Language words), each word mapped to
  its tokenizer pieces by a table and the pieces packed, left-padded, into a fixed length;
- hint: the generated pieces are grouped into words (a piece that starts a word opens a new one),
  each word is hashed and looked up among the hashes of the Baby Language words; words the
  student does not know are dropped.

For the default word-level teacher (`word_level_tokenizer`) the ids are the student's own and
every table is the identity; a byte-level BPE tokenizer (real GPT-2's) maps words to one or more
pieces each, which is what the tables are for. Words are encoded with a leading space, which is
how they appear inside a sentence, so the prompt is the tokenization of its text.
"""

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from ..envs import HINT_LENGTH, VOCAB_SIZE
from ..envs import language as L

# Words of the prompt template, after the student's vocabulary (their ids follow its ids).
TEMPLATE_WORDS = ("goal", ":", "hint")
GOAL, COLON, HINT = range(VOCAB_SIZE, VOCAB_SIZE + len(TEMPLATE_WORDS))
ALL_WORDS = (*L.WORDS, *TEMPLATE_WORDS)
UNK = "<unk>"
_HASH_BASE = 0x9E3779B1  # an odd multiplier: a word's hash is sum_j (piece_j + 1) * BASE^j mod 2^32


def word_level_tokenizer():
    """The default teacher's tokenizer, a transformers fast tokenizer: one id per Baby Language
    word, the same ids as `envs.VOCAB`, then the template words and `<unk>`; `<pad>` pads and
    `<eos>` ends a hint. Text is split at whitespace and punctuation ("ball." -> "ball", ".")."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate((*ALL_WORDS, UNK))}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=L.PAD,
        eos_token=L.EOS,
        bos_token=L.EOS,
        unk_token=UNK,
    )


def encode_words(tokenizer, words) -> list[list[int]]:
    """Each word's tokenizer pieces as it appears inside a sentence (after a space; `<pad>`: none,
    `<eos>`: the tokenizer's end). A clear error for a word the tokenizer cannot write."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError(
            f"the teacher's tokenizer ({type(tokenizer).__name__}) has no eos_token: a hint "
            f"needs an end; set tokenizer.eos_token"
        )
    encoded = []
    for word in words:
        if word == L.PAD:
            encoded.append([])
        elif word == L.EOS:
            encoded.append([eos])
        else:
            ids = tokenizer.encode(" " + word, add_special_tokens=False)
            if not ids or tokenizer.unk_token_id in ids:
                raise ValueError(
                    f"the teacher's tokenizer cannot write the Baby Language word {word!r}; a "
                    f"teacher's tokenizer must spell every word of jaxbidir.envs.language.WORDS"
                )
            encoded.append(ids)
    return encoded


def _powers(n: int) -> np.ndarray:
    """u32[n]: BASE^j mod 2^32."""
    return np.array([pow(_HASH_BASE, j, 2**32) for j in range(n)], np.uint32)


def _word_hash(pieces) -> int:
    return (
        sum(int(p + 1) * int(w) for p, w in zip(pieces, _powers(len(pieces)), strict=True)) % 2**32
    )


@flax.struct.dataclass
class Bridge:
    """Lookup tables for one teacher tokenizer (a pytree: pass it into jitted code).

    pieces:   i32[W, P] the tokenizer pieces of each word of `ALL_WORDS`, then of the extra
              words (-1 pads; `<pad>` has none, `<eos>` is the tokenizer's end token)
    starts:   bool[V] whether teacher id v opens a new word
    hashes:   u32[N] sorted hashes of the Baby Language words' piece sequences ...
    words:    i32[N] ... and their student ids
    """

    pieces: jnp.ndarray
    starts: jnp.ndarray
    hashes: jnp.ndarray
    words: jnp.ndarray
    eos_id: int = flax.struct.field(pytree_node=False)
    pad_id: int = flax.struct.field(pytree_node=False)

    @classmethod
    def build(cls, tokenizer, extra_words=()) -> "Bridge":
        """Read `tokenizer` (a transformers tokenizer) once, on the host. `extra_words`: words
        a prompt may use beyond `ALL_WORDS`, with ids that follow theirs (for `pack`)."""
        encoded = encode_words(tokenizer, (*ALL_WORDS, *extra_words))
        eos = tokenizer.eos_token_id
        pad = eos if tokenizer.pad_token_id is None else tokenizer.pad_token_id
        width = max(len(p) for p in encoded)
        pieces = np.full((len(encoded), width), -1, np.int32)
        for i, p in enumerate(encoded):
            pieces[i, : len(p)] = p

        # a piece opens a word when it decodes with a space after a word: " go" + " to" -> " go
        # to" but " go" + "al" -> " goal" (every token does, for a word-level tokenizer)
        go = encoded[ALL_WORDS.index("go")][0]
        after = tokenizer.decode([go]) + " "
        pairs = tokenizer.batch_decode([[go, v] for v in range(len(tokenizer))])
        starts = np.array([t.startswith(after) for t in pairs])

        known = {
            _word_hash(p): i for i, p in enumerate(encoded[:VOCAB_SIZE]) if p and i != L.EOS_ID
        }
        if len(known) != VOCAB_SIZE - 2:
            raise ValueError("two Baby Language words hash alike under this tokenizer")
        order = sorted(known)
        return cls(
            pieces=jnp.asarray(pieces),
            starts=jnp.asarray(starts),
            hashes=jnp.asarray(np.array(order, np.uint32)),
            words=jnp.asarray(np.array([known[h] for h in order], np.int32)),
            eos_id=int(eos),
            pad_id=int(pad),
        )

    def prompt_length(self, mission_length: int, description_length: int) -> int:
        """Teacher tokens in a prompt of these Baby Language lengths (static)."""
        words = len(TEMPLATE_WORDS) + 2 + mission_length + description_length
        return words * self.pieces.shape[1]

    def hint_length(self, words: int = HINT_LENGTH) -> int:
        """Teacher tokens of the longest hint of `words` words, with its end token (static)."""
        return words * self.pieces.shape[1] + 1

    def pack(self, words, length, left_pad):
        """i32[N] words (ids of `ALL_WORDS`, then the extra words) -> their pieces packed into
        (i32[length], bool[length] real token), left- or right-aligned."""
        flat = self.pieces[words].reshape(-1)
        keep = flat >= 0
        n = keep.sum()
        first = length - n if left_pad else 0
        slot = jnp.where(keep, first + jnp.cumsum(keep) - 1, length)
        tokens = jnp.full(length, self.pad_id, jnp.int32).at[slot].set(flat, mode="drop")
        position = jnp.arange(length)
        return tokens, (position >= first) & (position < first + n)

    def prompt(self, mission, description):
        """Baby Language mission i32[M] and description i32[D] -> the teacher's prompt,
        left-padded: (tokens i32[P], mask bool[P]), P = `prompt_length(M, D)`. One example: vmap
        over a batch."""
        template = [[GOAL, COLON], mission, [L.VOCAB["."]], description, [HINT, COLON]]
        words = jnp.concatenate([jnp.asarray(part, jnp.int32) for part in template])
        length = self.prompt_length(mission.shape[0], description.shape[0])
        return self.pack(words, length, left_pad=True)

    def target(self, hint, length):
        """A Baby Language hint i32[K] -> the teacher's pieces of "<hint> <eos>", right-padded:
        (tokens i32[length], mask bool[length])."""
        return self.pack(jnp.append(hint, L.EOS_ID), length, left_pad=False)

    def hint(self, tokens, mask, length=HINT_LENGTH):
        """The teacher's generated tokens i32[N] (mask bool[N]: generated, up to its end) ->
        the student's hint i32[length] in Baby Language ids; unknown words are dropped."""
        n = tokens.shape[0]
        real = mask & (tokens != self.eos_id)
        safe = jnp.clip(tokens, 0, self.starts.shape[0] - 1)
        opens = real & (self.starts[safe] | (jnp.cumsum(real) == 1))
        word = jnp.cumsum(opens) - 1  # word index of each piece
        first = jax.lax.cummax(jnp.where(opens, jnp.arange(n), 0))  # where its word begins
        power = jnp.arange(n) - first
        term = (tokens + 1).astype(jnp.uint32) * jnp.asarray(_powers(n))[power]
        h = jax.ops.segment_sum(jnp.where(real, term, 0), jnp.where(real, word, n), n + 1)[:n]
        at = jnp.clip(jnp.searchsorted(self.hashes, h), 0, self.hashes.shape[0] - 1)
        found = (self.hashes[at] == h) & (jnp.arange(n) <= word.max())
        return L.compact(jnp.where(found, self.words[at], L.PAD_ID), length)
