"""The language model as the policy (GLAM, Carta et al. 2023): the probability of an action is the
softmax over the 6 action strings of the sum of each string's token log-probs after the prompt;
the value is an MLP on the LM's last hidden state of the prompt (GLAM's value head: two sigmoid
layers of 1024).

Scoring is one prefill of the prompts into a KV cache, then one forward pass of all candidates
against that cache, repeated across them: the prompt is computed once, not 6 times.

Shapes: B batch, P prompt length, C = 6 candidates of A tokens, V vocabulary, D `n_embd`.
"""

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from jaxbidir.teacher import LM, GPT2Config, prefill

VALUE_HIDDEN = 1024  # GLAM's value head width


def fit_lm(model: LM, vocab_size: int, n_positions: int) -> LM:
    """`model` with at least `vocab_size` tokens and `n_positions` positions. New rows of the
    token embedding (and of an untied LM head, and of GPT-2's position embedding) start at the
    mean of the trained ones (so a new word or position begins as an average one) and are
    learned by the fine-tuning; `model` itself when it is big enough already. A Llama-family
    model has no position table (rotary positions): only its config's limit grows."""
    c = model.config
    if vocab_size <= c.vocab_size and n_positions <= c.n_positions:
        return model
    positions = "n_positions" if isinstance(c, GPT2Config) else "max_position_embeddings"
    config = dataclasses.replace(
        c, vocab_size=max(vocab_size, c.vocab_size), **{positions: max(n_positions, c.n_positions)}
    )
    graphdef, grown = nnx.split(nnx.eval_shape(lambda: type(model)(config, rngs=nnx.Rngs(0))))
    shapes = {path: v.get_value().shape for path, v in nnx.to_flat_state(grown)}

    def grow(path, variable):
        # the axis that counts tokens or positions: rows of an embedding, columns of a kernel
        value = variable.get_value()
        for axis, (old, new) in enumerate(zip(value.shape, shapes[path], strict=True)):
            if new > old:
                mean = value.mean(axis, keepdims=True)
                value = jnp.concatenate([value, jnp.repeat(mean, new - old, axis)], axis)
        return path, variable.replace(value)

    flat = [grow(path, v) for path, v in nnx.to_flat_state(nnx.state(model))]
    return nnx.merge(graphdef, nnx.from_flat_state(flat))


def action_log_probs(lm: LM, prompt, prompt_mask, candidates, candidate_mask):
    """Summed log-probs of each candidate after each prompt -> (f32[B, C], the prompt's last
    hidden state f32[B, D]). prompt i32[B, P] left-padded; candidates i32[C, A] right-padded."""
    (b, p), (c, a) = prompt.shape, candidates.shape
    slots = jnp.arange(p + a)
    last, cache, keys = prefill(lm, prompt, prompt_mask, a)
    first = jax.nn.log_softmax(lm.head(last))[:, candidates[:, 0]]  # [B, C] the first tokens

    # every candidate continues its prompt from the shared cache: rows b * C + c
    cache = jax.tree.map(lambda x: jnp.repeat(x, c, axis=0), cache)
    tokens = jnp.tile(candidates, (b, 1))
    positions = jnp.repeat(prompt_mask.sum(-1), c)[:, None] + jnp.arange(a)
    own = (slots[None, :] >= p) & (slots[None, :] <= p + jnp.arange(a)[:, None])  # [A, P + A]
    mask = jnp.repeat(keys, c, axis=0)[:, None, :] | own[None]
    logits, _, _ = lm(tokens, positions, mask, cache, p)
    rest = jax.nn.log_softmax(logits[:, :-1])  # position j predicts token j + 1
    rest = jnp.take_along_axis(rest, tokens[:, 1:, None], -1)[..., 0].reshape(b, c, a - 1)
    rest = jnp.where(candidate_mask[None, :, 1:], rest, 0.0).sum(-1)
    return first + rest, last


class ValueHead(nnx.Module):
    """GLAM's value head: f32[B, D] the LM's last hidden state of the prompt -> f32[B]."""

    def __init__(self, d: int, rngs: nnx.Rngs):
        self.layers = nnx.Sequential(
            nnx.Linear(d, VALUE_HIDDEN, rngs=rngs),
            jax.nn.sigmoid,
            nnx.Linear(VALUE_HIDDEN, VALUE_HIDDEN, rngs=rngs),
            jax.nn.sigmoid,
            nnx.Linear(VALUE_HIDDEN, 1, rngs=rngs),
        )

    def __call__(self, hidden):
        return self.layers(hidden)[:, 0]
