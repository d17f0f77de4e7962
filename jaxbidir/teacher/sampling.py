"""Batched generation with the KV cache inside `lax.scan`, and the log-probs of given sequences.

Both are pure functions of a teacher module, for use inside jitted code (after flax's gemma
sampler: the module is split once and merged inside the loop body). A teacher (`LM`) is GPT-2 or
the Llama family: both take `model(tokens, positions, mask, cache, index)` and have `head` and
`init_cache` (each family lays its own KV cache out). Prompts are left-padded to
one length P, so that every row's next token goes to the same cache slot; positions skip the
padding, as transformers' `generate` does, so greedy generations match it token for token.
`prefill`, the prompts into a fresh KV cache, starts both `generate` and GLAM's scoring of the
action strings (`glam.agent.action_log_probs`).

Shapes: B batch, P prompt length, N new tokens.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from .llama import Llama
from .model import GPT2, causal_mask, positions_from_mask

LM = GPT2 | Llama  # a teacher, of either family


class Sample(NamedTuple):
    """tokens i32[B,N] (after the end token: pad); log_probs f32[B,N] of each token under the
    model (temperature 1, no top-k: what a loss on the hint needs; 0 where masked); mask
    bool[B,N] True for the generated tokens up to and including the end token."""

    tokens: jnp.ndarray
    log_probs: jnp.ndarray
    mask: jnp.ndarray


def prefill(model: LM, prompt, prompt_mask, extra: int):
    """Run left-padded prompts (tokens i32[B,P], mask bool[B,P]) into a fresh KV cache with room
    for `extra` tokens after them (S = P + extra slots), causal over the prompt with no padding
    keys -> (the last position's hidden state f32[B,D], whose `head` predicts the first token
    after the prompt; the cache; keys bool[B,S], the slots a later token may attend to so far:
    the prompt's real tokens)."""
    batch, length = prompt.shape
    keys = jnp.pad(prompt_mask, ((0, 0), (0, extra)))
    slots = jnp.arange(length + extra)
    mask = (slots[None, :] <= jnp.arange(length)[:, None])[None] & keys[:, None, :]
    cache = model.init_cache(batch, length + extra)
    positions = positions_from_mask(prompt_mask)
    _, hidden, cache = model(prompt, positions, mask, cache, 0, logits=False)
    return hidden[:, -1], cache, keys


def _choose(logits, key, temperature, top_k):
    """i32[B] next tokens from logits f32[B,V]: greedy at temperature 0, else sampled from the
    `top_k` most likely (all when 0) at `temperature`."""
    if temperature == 0:
        return jnp.argmax(logits, -1).astype(jnp.int32)
    if top_k:
        kth = jax.lax.top_k(logits, top_k)[0][:, -1:]
        logits = jnp.where(logits < kth, -jnp.inf, logits)
    return jax.random.categorical(key, logits / temperature).astype(jnp.int32)


def generate(
    model: LM,
    prompt,
    prompt_mask,
    key,
    *,
    max_new_tokens: int,
    eos_id: int,
    pad_id: int | None = None,
    temperature: float = 1.0,
    top_k: int = 0,
) -> Sample:
    """Continue each prompt (tokens i32[B,P], mask bool[B,P] with left padding) by up to
    `max_new_tokens` tokens, stopping a row at `eos_id`. Greedy when `temperature` is 0."""
    graphdef, state = nnx.split(model)
    batch, length = prompt.shape
    pad_id = eos_id if pad_id is None else pad_id
    slots = jnp.arange(length + max_new_tokens)  # cache slots
    first = prompt_mask.sum(-1).astype(jnp.int32)  # position of the first new token
    hidden, cache, prompt_keys = prefill(model, prompt, prompt_mask, max_new_tokens)

    def pick(logits, key, done):
        token = _choose(logits, key, temperature, top_k)
        log_prob = jnp.take_along_axis(jax.nn.log_softmax(logits), token[:, None], -1)[:, 0]
        token = jnp.where(done, pad_id, token)
        return token, jnp.where(done, 0.0, log_prob), ~done, done | (token == eos_id)

    def step(carry, inputs):
        cache, logits, done = carry
        t, key = inputs
        token, log_prob, valid, done = pick(logits, key, done)
        mask = (prompt_keys | ((slots >= length) & (slots <= length + t)))[:, None, :]
        logits, _, cache = nnx.merge(graphdef, state)(
            token[:, None], (first + t)[:, None], mask, cache, length + t
        )
        return (cache, logits[:, 0], done), (token, log_prob, valid)

    rngs = jax.random.split(key, max_new_tokens)
    done = jnp.zeros(batch, bool)
    (_, logits, done), out = jax.lax.scan(
        step, (cache, model.head(hidden), done), (jnp.arange(max_new_tokens - 1), rngs[:-1])
    )
    last = pick(logits, rngs[-1], done)[:3]  # the last token needs no forward pass
    tokens, log_probs, valid = (
        jnp.concatenate([o.T, x[:, None]], 1) for o, x in zip(out, last, strict=True)
    )
    return Sample(tokens, log_probs, valid)


def continuation_log_softmax(model: LM, prompt, prompt_mask, tokens, mask):
    """The model's next-token distributions along given continuations (tokens i32[B,N], mask
    bool[B,N], right-padded) of left-padded prompts, in one forward pass -> (log-softmax
    f32[B,N,V] at the positions that predict each token; the hidden states f32[B,N,D] there)."""
    length = prompt.shape[1]
    seq = jnp.concatenate([prompt, tokens], 1)
    seq_mask = jnp.concatenate([prompt_mask, mask], 1)
    logits, hidden, _ = model(seq, positions_from_mask(seq_mask), causal_mask(seq_mask))
    # the logits at position i predict token i + 1
    return jax.nn.log_softmax(logits[:, length - 1 : -1]), hidden[:, length - 1 : -1]


def sequence_log_probs(model: LM, prompt, prompt_mask, tokens, mask):
    """Log-probs of given continuations (as for `continuation_log_softmax`) -> (log pi(tokens_t |
    prompt, tokens_<t) f32[B,N], 0 where masked; the hidden states f32[B,N,D] that predicted
    each token, for a value head)."""
    log_softmax, hidden = continuation_log_softmax(model, prompt, prompt_mask, tokens, mask)
    log_probs = jnp.take_along_axis(log_softmax, tokens[..., None], -1)[..., 0]
    return jnp.where(mask, log_probs, 0.0), hidden
