"""The Llama family (Llama, TinyLlama, SmolLM, Qwen2) in Flax NNX, in one file, with the same
interface as the GPT-2 port (`model.py`): `model(tokens, positions, mask, cache, index,
logits=...)` -> (logits, hidden, cache), `model.head(hidden)`, `model.init_cache(batch, length)`,
and a config with GPT-2's size names (`n_positions`, `n_embd`, `n_layer`, `n_head`) besides its
own, so that sampling, the feedback modes and GLAM take either model.

What differs from GPT-2: RMSNorm instead of LayerNorm; rotary position embeddings (`rope_theta`,
and the `linear` and `llama3` scalings of the frequencies) instead of learned ones; grouped-query
attention (`num_key_value_heads` K/V heads, each shared by a group of query heads; one of them is
multi-query attention); a SwiGLU MLP; optional biases (Llama's `attention_bias` on all four
attention projections and `mlp_bias`, Qwen2's on q, k and v only); a tied or separate LM head.
The numerics follow transformers' `LlamaForCausalLM`: RMSNorm and softmax in f32, rotary tables
in f32, rotated keys in the cache.

The top-level parts keep GPT-2's names (`wte`, `h`, `ln_f`; `lm_head` when untied), because the
rest of the code addresses a teacher's parts by them (GLAM's `train_blocks` trains the last
blocks of `h` and `ln_f`); inside a block the names are Hugging Face's. `hf.py` maps them.

Shapes: B batch, T new tokens, S cache length, D `hidden_size`, H query heads, G = H / KV query
heads per K/V head, KV `num_key_value_heads`, K `head_dim`, F `intermediate_size`.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

MODEL_TYPES = ("llama", "qwen2")
ROPE_TYPES = ("default", "linear", "llama3")


@dataclasses.dataclass(frozen=True)
class LlamaConfig:
    """The fields of transformers' `LlamaConfig` / `Qwen2Config` this model uses (same names;
    `head_dim` 0 means `hidden_size // num_attention_heads`, `num_key_value_heads` 0 means
    `num_attention_heads`). The rope scaling is flattened into `rope_*` fields so the config
    stays hashable (it is static in the module's graph). `from_dict` reads a `config.json`."""

    model_type: str = "llama"
    vocab_size: int = 32000
    hidden_size: int = 4096
    intermediate_size: int = 11008
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: int = 0
    head_dim: int = 0
    max_position_embeddings: int = 2048
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_type: str = "default"  # "default", "linear" or "llama3"
    rope_factor: float = 1.0  # linear, llama3
    rope_low_freq_factor: float = 1.0  # llama3
    rope_high_freq_factor: float = 4.0  # llama3
    rope_original_max_position_embeddings: int = 8192  # llama3
    tie_word_embeddings: bool = False
    attention_bias: bool = False  # llama: biases on q, k, v and o (qwen2: on q, k, v)
    mlp_bias: bool = False
    bos_token_id: int | None = 1
    eos_token_id: int | tuple[int, ...] | None = 2

    def __post_init__(self):
        # the defaults that depend on other fields, as transformers fills them
        if not self.num_key_value_heads:
            object.__setattr__(self, "num_key_value_heads", self.num_attention_heads)
        if not self.head_dim:
            object.__setattr__(self, "head_dim", self.hidden_size // self.num_attention_heads)
        if isinstance(self.eos_token_id, list):
            object.__setattr__(self, "eos_token_id", tuple(self.eos_token_id))
        if self.model_type not in MODEL_TYPES:
            raise ValueError(f"model_type {self.model_type!r} is not one of {MODEL_TYPES}")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"num_attention_heads ({self.num_attention_heads}) must be a multiple of "
                f"num_key_value_heads ({self.num_key_value_heads})"
            )
        if self.head_dim % 2:
            raise ValueError(f"head_dim ({self.head_dim}) must be even for rotary embeddings")
        if self.rope_type not in ROPE_TYPES:
            raise ValueError(f"rope type {self.rope_type!r} is not supported (only {ROPE_TYPES})")
        if self.model_type == "qwen2" and (self.attention_bias or self.mlp_bias):
            raise ValueError("a qwen2 model's biases are fixed (on q, k, v): no attention_bias "
                             "or mlp_bias")  # fmt: skip

    # GPT-2's names for the sizes, which the rest of the code reads (`GPT2Config`'s fields)
    @property
    def n_positions(self) -> int:
        return self.max_position_embeddings

    @property
    def n_embd(self) -> int:
        return self.hidden_size

    @property
    def n_layer(self) -> int:
        return self.num_hidden_layers

    @property
    def n_head(self) -> int:
        return self.num_attention_heads

    # How each family spells its biases: Llama's `attention_bias` covers q, k, v and o; Qwen2 has
    # biases on q, k and v always, and none on o or in the MLP.
    @property
    def qkv_bias(self) -> bool:
        return self.attention_bias or self.model_type == "qwen2"

    @property
    def o_bias(self) -> bool:
        return self.attention_bias and self.model_type == "llama"

    @classmethod
    def from_dict(cls, d: dict, where: str = "config.json") -> "LlamaConfig":
        """From a Hugging Face `config.json` dict (either rope format: transformers 5's
        `rope_parameters`, or the older top-level `rope_theta` and `rope_scaling`). Sizes must be
        given; what this port does not implement is a clear error naming `where`."""
        sizes = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                 "num_attention_heads")  # fmt: skip
        if missing := [k for k in sizes if d.get(k) is None]:
            raise ValueError(f"{where}: {', '.join(missing)} missing")
        if d.get("hidden_act", "silu") != "silu":
            raise ValueError(f"{where}: hidden_act {d['hidden_act']!r} is not supported (silu)")
        if d.get("use_sliding_window"):
            raise ValueError(f"{where}: sliding-window attention is not supported")
        rope = d.get("rope_parameters") or d.get("rope_scaling") or {}
        if any(isinstance(v, dict) for v in rope.values()):
            raise ValueError(f"{where}: per-layer rope parameters are not supported")
        if rope.get("partial_rotary_factor", d.get("partial_rotary_factor", 1.0)) != 1.0:
            raise ValueError(f"{where}: partial_rotary_factor is not supported")
        rope_type = rope.get("rope_type", rope.get("type", "default"))
        if rope_type not in ROPE_TYPES:
            raise ValueError(
                f"{where}: rope type {rope_type!r} is not supported (only {', '.join(ROPE_TYPES)})"
            )
        model_type = d.get("model_type", "llama")
        names = {f.name for f in dataclasses.fields(cls) if not f.name.startswith("rope_")}
        fields = {k: v for k, v in d.items() if k in names and v is not None}
        defaults = {"qwen2": dict(max_position_embeddings=32768, bos_token_id=None,
                                  eos_token_id=None)}.get(model_type, {})  # fmt: skip
        fields = {**defaults, **fields}
        if model_type == "qwen2":  # its biases are fixed; transformers' Qwen2 ignores these
            fields = {k: v for k, v in fields.items() if k not in ("attention_bias", "mlp_bias")}
        return cls(
            **fields,
            rope_theta=float(rope.get("rope_theta", d.get("rope_theta") or 10000.0)),
            rope_type=rope_type,
            rope_factor=float(rope.get("factor", 1.0)),
            rope_low_freq_factor=float(rope.get("low_freq_factor", 1.0)),
            rope_high_freq_factor=float(rope.get("high_freq_factor", 4.0)),
            rope_original_max_position_embeddings=int(
                rope.get("original_max_position_embeddings", fields.get("max_position_embeddings"))
                or 2048
            ),
        )

    def rope_parameters(self) -> dict:
        """The rope fields as transformers 5 writes them (`rope_parameters` in config.json)."""
        rope = {"rope_type": self.rope_type, "rope_theta": self.rope_theta}
        if self.rope_type in ("linear", "llama3"):
            rope["factor"] = self.rope_factor
        if self.rope_type == "llama3":
            rope.update(
                low_freq_factor=self.rope_low_freq_factor,
                high_freq_factor=self.rope_high_freq_factor,
                original_max_position_embeddings=self.rope_original_max_position_embeddings,
            )
        return rope


def inverse_frequencies(config: LlamaConfig) -> np.ndarray:
    """f32[K/2]: the rotary frequencies, as transformers' rope init functions compute them (in
    f32, on the host: a constant of the model)."""
    dim = config.head_dim
    inv_freq = 1.0 / (config.rope_theta ** (np.arange(0, dim, 2, dtype=np.float32) / dim))
    inv_freq = inv_freq.astype(np.float32)
    if config.rope_type == "linear":
        return inv_freq / np.float32(config.rope_factor)
    if config.rope_type == "llama3":
        # Llama 3.1: long wavelengths slowed by `factor`, short ones kept, a smooth blend between
        factor = config.rope_factor
        low, high = config.rope_low_freq_factor, config.rope_high_freq_factor
        old = config.rope_original_max_position_embeddings
        wavelen = 2 * math.pi / inv_freq
        scaled = np.where(wavelen > old / low, inv_freq / factor, inv_freq)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < old / high) & ~(wavelen > old / low)
        return np.where(medium, smoothed, scaled).astype(np.float32)
    return inv_freq


def rotary(config: LlamaConfig, positions, dtype):
    """positions i32[B,T] -> (cos, sin), each [B,T,K] in `dtype`: the angles of each position
    at each frequency, the half-frequencies repeated (transformers' `rotate_half` layout)."""
    freqs = positions[..., None].astype(jnp.float32) * jnp.asarray(inverse_frequencies(config))
    angles = jnp.concatenate([freqs, freqs], -1)
    return jnp.cos(angles).astype(dtype), jnp.sin(angles).astype(dtype)


def apply_rotary(x, cos, sin):
    """x [B,heads,T,K] rotated by position: each pair (x_i, x_{i+K/2}) turns by its angle."""
    half = x.shape[-1] // 2
    rotated = jnp.concatenate([-x[..., half:], x[..., :half]], -1)
    return x * cos[:, None] + rotated * sin[:, None]


def init_cache(config: LlamaConfig, batch: int, length: int, dtype=jnp.float32) -> tuple:
    """Empty KV cache: one `(k, v)` pair of [B, KV, S, K] per layer, S = `length`: only the K/V
    heads are cached, which is what grouped-query attention saves (H / KV times less memory)."""
    shape = (batch, config.num_key_value_heads, length, config.head_dim)
    return tuple((jnp.zeros(shape, dtype), jnp.zeros(shape, dtype)) for _ in range(config.n_layer))


class RMSNorm(nnx.Module):
    """x / rms(x) * scale, computed in f32 and scaled in the input's dtype, as transformers'."""

    def __init__(self, d: int, eps: float, *, dtype=jnp.float32):
        self.eps = eps
        self.scale = nnx.Param(jnp.ones(d, dtype))

    def __call__(self, x):
        x32 = x.astype(jnp.float32)
        normed = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, -1, keepdims=True) + self.eps)
        return self.scale[...] * normed.astype(x.dtype)


class Attention(nnx.Module):
    def __init__(self, config: LlamaConfig, *, rngs: nnx.Rngs):
        d, k = config.hidden_size, config.head_dim
        self.n_head, self.n_kv, self.head_dim = config.n_head, config.num_key_value_heads, k
        init = nnx.initializers.normal(0.02)
        qkv = dict(use_bias=config.qkv_bias, kernel_init=init, rngs=rngs)
        self.q_proj = nnx.Linear(d, self.n_head * k, **qkv)
        self.k_proj = nnx.Linear(d, self.n_kv * k, **qkv)
        self.v_proj = nnx.Linear(d, self.n_kv * k, **qkv)
        self.o_proj = nnx.Linear(self.n_head * k, d, use_bias=config.o_bias, kernel_init=init,
                                 rngs=rngs)  # fmt: skip

    def __call__(self, x, cos, sin, mask, k_cache=None, v_cache=None, index=None):
        """x [B,T,D]; cos, sin [B,T,K] of the tokens' positions; mask bool[B,T,S] (True = may
        attend); caches [B,KV,S,K] written at `index` (i32[]) -> (y [B,T,D], k_cache, v_cache)."""
        b, t, _ = x.shape
        heads = lambda z, n: z.reshape(b, t, n, self.head_dim).transpose(0, 2, 1, 3)  # noqa: E731
        q = apply_rotary(heads(self.q_proj(x), self.n_head), cos, sin)
        k = apply_rotary(heads(self.k_proj(x), self.n_kv), cos, sin)
        v = heads(self.v_proj(x), self.n_kv)
        if k_cache is not None:
            at = (0, 0, index, 0)
            k_cache = jax.lax.dynamic_update_slice(k_cache, k.astype(k_cache.dtype), at)
            v_cache = jax.lax.dynamic_update_slice(v_cache, v.astype(v_cache.dtype), at)
            k, v = k_cache.astype(x.dtype), v_cache.astype(x.dtype)
        # query head h reads K/V head h // G (transformers' `repeat_kv`): group the query heads
        # instead of repeating the keys, so no [B,H,S,K] copy of the cache is made
        q = q.reshape(b, self.n_kv, self.n_head // self.n_kv, t, self.head_dim)
        att = jnp.einsum("bngtk,bnsk->bngts", q, k) * self.head_dim**-0.5
        att = jnp.where(mask[:, None, None], att.astype(jnp.float32), jnp.finfo(jnp.float32).min)
        p = jax.nn.softmax(att, axis=-1).astype(x.dtype)  # in f32, as transformers
        y = jnp.einsum("bngts,bnsk->bngtk", p, v).reshape(b, self.n_head, t, self.head_dim)
        return self.o_proj(y.transpose(0, 2, 1, 3).reshape(b, t, -1)), k_cache, v_cache


class MLP(nnx.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, config: LlamaConfig, *, rngs: nnx.Rngs):
        d, f = config.hidden_size, config.intermediate_size
        kw = dict(use_bias=config.mlp_bias, kernel_init=nnx.initializers.normal(0.02), rngs=rngs)
        self.gate_proj = nnx.Linear(d, f, **kw)
        self.up_proj = nnx.Linear(d, f, **kw)
        self.down_proj = nnx.Linear(f, d, **kw)

    def __call__(self, x):
        return self.down_proj(jax.nn.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nnx.Module):
    def __init__(self, config: LlamaConfig, *, rngs: nnx.Rngs):
        d, eps = config.hidden_size, config.rms_norm_eps
        self.input_layernorm = RMSNorm(d, eps)
        self.self_attn = Attention(config, rngs=rngs)
        self.post_attention_layernorm = RMSNorm(d, eps)
        self.mlp = MLP(config, rngs=rngs)

    def __call__(self, x, cos, sin, mask, k_cache=None, v_cache=None, index=None):
        y, k_cache, v_cache = self.self_attn(
            self.input_layernorm(x), cos, sin, mask, k_cache, v_cache, index
        )
        x = x + y
        return x + self.mlp(self.post_attention_layernorm(x)), k_cache, v_cache


class Llama(nnx.Module):
    """A Llama-family causal LM. `__call__(tokens, positions, mask, cache=None, index=None)`."""

    def __init__(self, config: LlamaConfig, *, rngs: nnx.Rngs):
        self.config = config
        d = config.hidden_size
        init = nnx.initializers.normal(0.02)
        self.wte = nnx.Embed(config.vocab_size, d, embedding_init=init, rngs=rngs)
        self.h = nnx.List([Block(config, rngs=rngs) for _ in range(config.n_layer)])
        self.ln_f = RMSNorm(d, config.rms_norm_eps)
        if not config.tie_word_embeddings:
            self.lm_head = nnx.Linear(d, config.vocab_size, use_bias=False, kernel_init=init,
                                      rngs=rngs)  # fmt: skip

    def __call__(self, tokens, positions, mask, cache=None, index=None, logits=True):
        """tokens, positions i32[B,T]; mask bool[B,T,S] (S = T without a cache); `cache` from
        `init_cache`, written at `index` -> (logits [B,T,V] (None when `logits` is False: a
        prefill needs only the last position's, `head(hidden[:, -1])`), hidden [B,T,D] after
        the final norm, the new cache). Computed in the parameters' dtype."""
        x = self.wte(tokens)
        cos, sin = rotary(self.config, positions, x.dtype)
        new_cache = []
        for i, block in enumerate(self.h):
            kc, vc = (None, None) if cache is None else cache[i]
            x, kc, vc = block(x, cos, sin, mask, kc, vc, index)
            new_cache.append((kc, vc))
        hidden = self.ln_f(x)
        return (
            self.head(hidden) if logits else None,
            hidden,
            None if cache is None else tuple(new_cache),
        )

    def head(self, hidden):
        """The LM head, tied to `wte` or its own: [..., D] -> logits [..., V]."""
        if self.config.tie_word_embeddings:
            return hidden @ self.wte.embedding[...].T
        return self.lm_head(hidden)

    def init_cache(self, batch: int, length: int) -> tuple:
        """An empty KV cache for this model, in its parameters' dtype."""
        return init_cache(self.config, batch, length, self.wte.embedding[...].dtype)
