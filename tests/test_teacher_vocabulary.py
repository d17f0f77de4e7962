"""The bridge between Baby Language and a teacher's tokenizer: the prompt built in JAX is the
tokenizer's own encoding of the prompt text, and hints map back to the student's ids exactly, for
the default word-level tokenizer and for a byte-level BPE one (GPT-2's kind, trained here)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from reference.bpe import bpe_tokenizer as _bpe_tokenizer

from jaxbidir import envs, teacher
from jaxbidir.envs import language as L
from jaxbidir.teacher import vocabulary as V


@functools.cache
def _states(env_id="BabyAI-MixedTrainLocal-v0", n=64):
    env = envs.make(env_id)
    ts = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), n))
    step = jax.jit(jax.vmap(env.step))
    for a in jax.random.randint(jax.random.PRNGKey(1), (5, n), 0, 6):
        ts = step(ts, a)  # a few random steps: some agents carry something
    return ts.state


def _tokenizers(tmp_path):
    return {"word-level": teacher.word_level_tokenizer(), "bpe": _bpe_tokenizer(tmp_path)}


@pytest.mark.parametrize("kind", ["word-level", "bpe"])
def test_prompt_is_the_tokenization_of_its_text(tmp_path, kind):
    tokenizer = _tokenizers(tmp_path)[kind]
    bridge = teacher.Bridge.build(tokenizer)
    assert (bridge.pieces.shape[1] == 1) == (kind == "word-level")
    states = _states()
    missions, descriptions = states.mission, jax.jit(jax.vmap(envs.describe))(states)
    tokens, mask = jax.jit(jax.vmap(bridge.prompt))(missions, descriptions)
    assert tokens.shape[1] == bridge.prompt_length(missions.shape[1], descriptions.shape[1])
    for i in range(len(tokens)):
        words = [L.WORDS[t] for t in np.asarray(missions[i]) if t]
        words += ["."] + [L.WORDS[t] for t in np.asarray(descriptions[i]) if t]
        text = " ".join(["goal", ":", *words, "hint", ":"])
        expected = tokenizer.encode(" " + text, add_special_tokens=False)
        m = np.asarray(mask[i])
        assert m[-len(expected) :].all() and not m[: -len(expected)].any()  # left padding
        assert np.asarray(tokens[i])[m].tolist() == expected
    if kind == "word-level":  # the default teacher speaks the student's own ids
        ids = [tokenizer.convert_tokens_to_ids(w) for w in V.ALL_WORDS]
        assert ids == list(range(len(V.ALL_WORDS)))


@pytest.mark.parametrize("kind", ["word-level", "bpe"])
def test_hints_round_trip(tmp_path, kind):
    tokenizer = _tokenizers(tmp_path)[kind]
    bridge = teacher.Bridge.build(tokenizer)
    hints = jax.jit(jax.vmap(envs.subgoal))(_states())
    width = bridge.hint_length()
    tokens, mask = jax.jit(jax.vmap(lambda h: bridge.target(h, width)))(hints)
    for i in range(len(hints)):
        text = " ".join(L.WORDS[t] for t in np.asarray(hints[i]) if t)
        expected = tokenizer.encode(" " + text, add_special_tokens=False) + [bridge.eos_id]
        assert np.asarray(tokens[i])[np.asarray(mask[i])].tolist() == expected
    np.testing.assert_array_equal(jax.jit(jax.vmap(bridge.hint))(tokens, mask), hints)

    # a word the student does not know is dropped, the rest kept; after the end nothing counts
    unknown = tokenizer.encode(" zebra", add_special_tokens=False)
    go, to = (tokenizer.encode(" " + w, add_special_tokens=False) for w in ("go", "to"))
    seq = go + unknown + to + [bridge.eos_id] + go
    got = jax.jit(bridge.hint)(jnp.array(seq), jnp.array([True] * (len(seq) - 1) + [False]))
    assert L.decode(got) == "go to"


def test_a_tokenizer_without_an_end_token_is_refused():
    tokenizer = teacher.word_level_tokenizer()
    tokenizer.eos_token = None
    with pytest.raises(ValueError, match="no eos_token"):
        teacher.Bridge.build(tokenizer)


def test_a_bpe_teacher_runs_end_to_end(tmp_path):
    """A GPT-2 with a byte-level BPE tokenizer: prompt from the level, generation, and the hint in
    the student's ids, all in one jitted function."""
    tokenizer = _bpe_tokenizer(tmp_path)
    bridge = teacher.Bridge.build(tokenizer)
    config = teacher.GPT2Config(vocab_size=len(tokenizer), n_positions=512, n_embd=32, n_layer=1,
                                n_head=2, eos_token_id=bridge.eos_id)  # fmt: skip
    model = teacher.GPT2(config, rngs=nnx.Rngs(0))
    states = _states()
    width = bridge.hint_length()

    @jax.jit
    def hints(states, key):
        prompt, mask = jax.vmap(bridge.prompt)(states.mission, jax.vmap(envs.describe)(states))
        sample = teacher.generate(model, prompt, mask, key, max_new_tokens=width,
                                  eos_id=bridge.eos_id)  # fmt: skip
        return jax.vmap(bridge.hint)(sample.tokens, sample.mask), sample

    said, sample = hints(states, jax.random.PRNGKey(0))
    assert said.shape == (len(states.mission), envs.HINT_LENGTH)
    assert ((said >= 0) & (said < envs.VOCAB_SIZE)).all()
    assert sample.mask[:, 0].all() and (sample.log_probs <= 0).all()


def test_bad_teacher_directories_are_clear_errors_naming_the_file(tmp_path):
    """A tokenizer with more tokens than the weights have embeddings, and one that cannot spell
    a Baby Language word: each a one-line error naming the tokenizer file."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from jaxbidir.teacher import configured

    def saved(name, tokenizer, vocab_size):
        cfg = teacher.GPT2Config(vocab_size=vocab_size, n_positions=32, n_embd=16, n_layer=1,
                                 n_head=2, bos_token_id=1, eos_token_id=1)  # fmt: skip
        teacher.save(teacher.GPT2(cfg, rngs=nnx.Rngs(0)), tokenizer, tmp_path / name)
        return str(tmp_path / name)

    words = teacher.word_level_tokenizer()
    small = saved("small", words, vocab_size=10)
    says = rf"{small}/tokenizer.json: the tokenizer has {len(words)} tokens .* vocab_size 10"
    with pytest.raises(ValueError, match=says):
        configured.load_configured(small, "teacher")

    vocab = {w: i for i, w in enumerate(w for w in (*V.ALL_WORDS, V.UNK) if w != "ball")}
    backend = Tokenizer(models.WordLevel(vocab, unk_token=V.UNK))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    no_ball = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token=L.PAD, eos_token=L.EOS, unk_token=V.UNK
    )
    mute = saved("mute", no_ball, vocab_size=len(vocab))
    with pytest.raises(ValueError, match=rf"{mute}/tokenizer.json: .* cannot write .* 'ball'"):
        configured.load_configured(mute, "teacher")
