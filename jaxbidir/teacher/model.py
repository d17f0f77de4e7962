"""GPT-2 in Flax NNX, in one file (after nanoGPT's `model.py`), with a static-shape KV cache.

Parameter names and layouts follow Hugging Face's `GPT2LMHeadModel` so checkpoints map one to
one: `Conv1D` weights are stored (in, out), which is `nnx.Linear.kernel`'s layout; the LM head is
tied to the token embedding `wte`; LayerNorm eps from the config (1e-5); `gelu_new` is the tanh
approximation of GELU.

Shapes: B batch, T new tokens, S cache length (= `n_positions` or less), D `n_embd`,
H `n_head`, K = D / H.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx


@dataclasses.dataclass(frozen=True)
class GPT2Config:
    """The fields of transformers' `GPT2Config` this model uses (same names)."""

    vocab_size: int = 50257
    n_positions: int = 1024
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    layer_norm_epsilon: float = 1e-5
    bos_token_id: int = 50256
    eos_token_id: int = 50256

    def __post_init__(self):
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")

    @classmethod
    def from_dict(cls, d: dict) -> "GPT2Config":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names and v is not None})


def _residual_init(config: GPT2Config):
    """GPT-2's scaled init for projections that feed the residual stream."""
    return nnx.initializers.normal(0.02 / math.sqrt(2 * config.n_layer))


def init_cache(config: GPT2Config, batch: int, length: int, dtype=jnp.float32) -> tuple:
    """Empty KV cache: one `(k, v)` pair of f32[B, H, S, K] per layer, S = `length`. Separate
    arrays per layer, so that a decoding loop updates each in place instead of restacking."""
    shape = (batch, config.n_head, length, config.n_embd // config.n_head)
    return tuple((jnp.zeros(shape, dtype), jnp.zeros(shape, dtype)) for _ in range(config.n_layer))


class Attention(nnx.Module):
    def __init__(self, config: GPT2Config, *, rngs: nnx.Rngs):
        d = config.n_embd
        self.n_head = config.n_head
        init = nnx.initializers.normal(0.02)
        self.c_attn = nnx.Linear(d, 3 * d, kernel_init=init, rngs=rngs)
        self.c_proj = nnx.Linear(d, d, kernel_init=_residual_init(config), rngs=rngs)

    def __call__(self, x, mask, k_cache=None, v_cache=None, index=None):
        """x f32[B,T,D]; mask bool[B,T,S] (True = may attend); caches f32[B,H,S,K] written at
        `index` (i32[]) -> (y f32[B,T,D], k_cache, v_cache)."""
        b, t, d = x.shape
        heads = lambda z: z.reshape(b, t, self.n_head, d // self.n_head).transpose(0, 2, 1, 3)  # noqa: E731
        q, k, v = (heads(z) for z in jnp.split(self.c_attn(x), 3, axis=-1))
        if k_cache is not None:
            k_cache = jax.lax.dynamic_update_slice(
                k_cache, k.astype(k_cache.dtype), (0, 0, index, 0)
            )
            v_cache = jax.lax.dynamic_update_slice(
                v_cache, v.astype(v_cache.dtype), (0, 0, index, 0)
            )
            k, v = k_cache, v_cache
        att = q @ k.swapaxes(-1, -2) / math.sqrt(d // self.n_head)
        att = jnp.where(mask[:, None], att, jnp.finfo(att.dtype).min)
        y = jax.nn.softmax(att, axis=-1) @ v
        return self.c_proj(y.transpose(0, 2, 1, 3).reshape(b, t, d)), k_cache, v_cache


class MLP(nnx.Module):
    def __init__(self, config: GPT2Config, *, rngs: nnx.Rngs):
        d = config.n_embd
        self.c_fc = nnx.Linear(d, 4 * d, kernel_init=nnx.initializers.normal(0.02), rngs=rngs)
        self.c_proj = nnx.Linear(4 * d, d, kernel_init=_residual_init(config), rngs=rngs)

    def __call__(self, x):
        return self.c_proj(jax.nn.gelu(self.c_fc(x), approximate=True))  # gelu_new


class Block(nnx.Module):
    def __init__(self, config: GPT2Config, *, rngs: nnx.Rngs):
        eps, d = config.layer_norm_epsilon, config.n_embd
        self.ln_1 = nnx.LayerNorm(d, epsilon=eps, rngs=rngs)
        self.attn = Attention(config, rngs=rngs)
        self.ln_2 = nnx.LayerNorm(d, epsilon=eps, rngs=rngs)
        self.mlp = MLP(config, rngs=rngs)

    def __call__(self, x, mask, k_cache=None, v_cache=None, index=None):
        y, k_cache, v_cache = self.attn(self.ln_1(x), mask, k_cache, v_cache, index)
        x = x + y
        return x + self.mlp(self.ln_2(x)), k_cache, v_cache


class GPT2(nnx.Module):
    """GPT-2 with tied LM head. `__call__(tokens, positions, mask, cache=None, index=None)`."""

    def __init__(self, config: GPT2Config, *, rngs: nnx.Rngs):
        self.config = config
        init = nnx.initializers.normal(0.02)
        self.wte = nnx.Embed(config.vocab_size, config.n_embd, embedding_init=init, rngs=rngs)
        self.wpe = nnx.Embed(config.n_positions, config.n_embd, embedding_init=init, rngs=rngs)
        self.h = nnx.List([Block(config, rngs=rngs) for _ in range(config.n_layer)])
        self.ln_f = nnx.LayerNorm(config.n_embd, epsilon=config.layer_norm_epsilon, rngs=rngs)

    def __call__(self, tokens, positions, mask, cache=None, index=None, logits=True):
        """tokens, positions i32[B,T]; mask bool[B,T,S] (S = T without a cache); `cache` from
        `init_cache`, written at `index` -> (logits f32[B,T,V] (None when `logits` is False:
        a prefill needs only the last position's, `head(hidden[:, -1])`), hidden f32[B,T,D],
        the new cache)."""
        x = self.wte(tokens) + self.wpe(positions)
        new_cache = []
        for i, block in enumerate(self.h):
            kc, vc = (None, None) if cache is None else cache[i]
            x, kc, vc = block(x, mask, kc, vc, index)
            new_cache.append((kc, vc))
        hidden = self.ln_f(x)
        return (
            self.head(hidden) if logits else None,
            hidden,
            None if cache is None else tuple(new_cache),
        )

    def head(self, hidden):
        """The tied LM head: f32[..., D] -> logits f32[..., V]."""
        return hidden @ self.wte.embedding[...].T

    def init_cache(self, batch: int, length: int) -> tuple:
        """An empty KV cache for this model (`init_cache` of its config): what `sampling` asks
        any teacher for, whose cache layout is its own (the Llama family caches fewer heads)."""
        return init_cache(self.config, batch, length)


def causal_mask(attention_mask):
    """bool[B,T,T] from a padding mask bool[B,T] (True = real token): causal and no padding keys."""
    t = attention_mask.shape[-1]
    return jnp.tril(jnp.ones((t, t), bool))[None] & attention_mask[:, None, :]


def positions_from_mask(attention_mask):
    """i32[B,T]: position ids that skip padding (left padding starts real tokens at 0), as
    transformers' `generate` derives them."""
    return jnp.maximum(jnp.cumsum(attention_mask, -1) - 1, 0).astype(jnp.int32)
