"""The student: a BabyAI-style actor-critic in Flax NNX.

    image u8[B,7,7,3] --bag-of-codes embedding (+ cell embedding)--> conv 3x3 --FiLM(mission)-->
        conv 3x3 --FiLM(mission)--> max-pool --> h f32[B,C]   (or flattened: h f32[B,49*C])
    mission i32[B,L] --text encoder--> m f32[B,D]           (conditions the convolutions)
    hint    i32[B,K] --text encoder--> g f32[B,D]           (zeros for no hint)
    actor(h, g) -> logits f32[B,7];  critic(h, g) -> value f32[B];  critic0(h) -> value0 f32[B]
    with `memory`: h0 (the hint-free view) --GRU--> r f32[B,memory], read by all three heads

`value0` never sees the hint: it is the baseline that scores hints later. Both critics learn the
same returns (but for a hint channel's bonus, which only `value`'s include). With `hint_film`,
the convolutions are FiLM-conditioned on [m, g], so that a hint ("the red key") can select
places in the view, not only be read beside the pooled view; `value0` then reads a second pass
with g = 0, which keeps it hint-free (twice the convolution cost).
The max-pool forgets where in the view a feature was; with `cell_embed` every one of the 7x7
cells adds its own learned embedding to its codes, so "the red key, ahead to the left" survives
it (BabyAI's LSTM, which we do not have, can make up for this over steps); with
`pool="flatten"` there is no max-pool: the heads read the whole 7x7 map, as MiniGrid's usual
PPO agents do. With `memory`, a recurrent core carries the episode from step to step (BabyAI's
memory, as a GRU: PureJaxRL's `ppo_rnn`); it reads only the hint-free view, so `value0` stays
blind to hints, and it starts again from zeros at every episode's first step.

The text encoder is a bag of positioned words (word + position embeddings, a per-token layer,
masked mean and max) rather than BabyAI's GRU: missions are short and fixed in form, and a
recurrent encoder would put 24 sequential steps into every environment step on CPU.
"""

import jax
import jax.numpy as jnp
from flax import nnx

from jaxbidir.envs import constants as C

# image codes: object (11), colour (6), state (3), each its own rows of one table
_CODE_OFFSETS = jnp.array([0, 11, 17])
_NUM_CODES = 20


def lookup(embed: nnx.Embed, ids: jax.Array) -> jax.Array:
    """`embed(ids)` as a one-hot matmul. Same numbers; but the gradient of a gather is a
    scatter-add, which XLA runs serially on CPU: 40x slower for a 4096-row PPO minibatch."""
    return (
        jax.nn.one_hot(ids, embed.num_embeddings, dtype=embed.embedding.dtype)
        @ embed.embedding[...]
    )


class TextEncoder(nnx.Module):
    """i32[..., L] tokens (0 pads) -> f32[..., dim]; all-pad input -> zeros."""

    def __init__(self, vocab_size: int, max_len: int, dim: int, *, rngs: nnx.Rngs):
        self.words = nnx.Embed(vocab_size, dim, rngs=rngs)
        self.positions = nnx.Embed(max_len, dim, rngs=rngs)
        self.token = nnx.Linear(dim, dim, rngs=rngs)
        self.out = nnx.Linear(2 * dim, dim, rngs=rngs)

    def __call__(self, tokens: jax.Array) -> jax.Array:
        mask = (tokens != 0)[..., None]
        x = lookup(self.words, tokens) + self.positions.embedding[...][: tokens.shape[-1]]
        x = nnx.relu(self.token(x))
        count = mask.sum(-2)
        mean = jnp.where(mask, x, 0).sum(-2) / jnp.maximum(count, 1)
        top = jnp.where(mask, x, 0).max(-2)  # x >= 0 after relu, so 0 is a neutral fill
        return jnp.where(count > 0, nnx.relu(self.out(jnp.concatenate([mean, top], -1))), 0.0)


class Conv3x3(nnx.Module):
    """A 3x3 'same' convolution written as matmuls, one per row of the map: the 3 rows around a
    row, side by side (3 x W x c_in), times a banded matrix made from the kernel (W x c_out
    wide). f32[..., H, W, c_in] -> f32[..., H, W, c_out].
    On CPU an update is bound by memory traffic, not FLOPs: this writes 3 shifted copies of the
    map where patches @ kernel writes 9 (1.2x faster per update, at 2.3x the FLOPs), and XLA's
    own convolution's gradient runs 60x slower inside a loop (PPO's epochs, minibatches and
    updates are all loops)."""

    def __init__(self, c_in: int, c_out: int, *, rngs: nnx.Rngs):
        self.linear = nnx.Linear(9 * c_in, c_out, rngs=rngs)  # rows: offsets row by row, c_in

    def __call__(self, x: jax.Array) -> jax.Array:
        return rows_conv(x, self.linear.kernel[...]) + self.linear.bias[...]

    def of_embedded(self, hot: jax.Array, table: jax.Array, base: jax.Array) -> jax.Array:
        """The convolution of the view `hot @ table + base` (hot f32[..., H, W, n] codes,
        table f32[n, c_in], base f32[H, W, c_in]) with the table folded into the kernel:
        conv(hot; table x kernel) + conv(base). The same function; but its gradient never goes
        back to the view (the codes are data), which was a third of a PPO update."""
        return rows_conv(hot, self.folded(table)) + self(base)

    def folded(self, table: jax.Array) -> jax.Array:
        """The kernel applied after the embedding table f32[n, c_in] -> f32[9 n, c_out]."""
        n, c_in = table.shape
        kernel = self.linear.kernel[...].reshape(9, c_in, -1)
        return jnp.einsum("nc,kco->kno", table, kernel).reshape(9 * n, -1)


def rows_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """x f32[..., H, W, c] convolved ('same', zero padding, no bias) with kernel f32[9 c,
    c_out], whose rows are the 3x3 offsets row by row, then the input channels."""
    h, w, c = x.shape[-3:]
    kernel = kernel.reshape(3, 3, c, -1)
    # banded[i, a, c, b, o]: input column a feeds output column b through kernel[i, a - b + 1]
    shifts = jnp.stack([jnp.eye(w, k=1 - j) for j in range(3)])  # [j, a, b]
    banded = jnp.einsum("jab,ijco->iacbo", shifts, kernel).reshape(3 * w * c, -1)
    pad = jnp.pad(x, [(0, 0)] * (x.ndim - 3) + [(1, 1), (0, 0), (0, 0)])
    around = jnp.concatenate([pad[..., i : i + h, :, :].reshape(*x.shape[:-2], w * c)
                              for i in range(3)], -1)  # fmt: skip
    return (around @ banded).reshape(*x.shape[:-1], -1)


class FiLMConv(nnx.Module):
    """conv 3x3 then feature-wise affine from a conditioning vector, then relu (BabyAI's FiLM)."""

    def __init__(self, c_in: int, c_out: int, cond: int, *, rngs: nnx.Rngs):
        self.conv = Conv3x3(c_in, c_out, rngs=rngs)
        self.scale = nnx.Linear(cond, c_out, kernel_init=nnx.initializers.zeros, rngs=rngs)
        self.shift = nnx.Linear(cond, c_out, rngs=rngs)

    def __call__(self, x: jax.Array, cond: jax.Array) -> jax.Array:
        return self.film(self.conv(x), cond)

    def film(self, x: jax.Array, cond: jax.Array) -> jax.Array:
        """The affine and relu of an already convolved x."""
        return nnx.relu(
            x * (1 + self.scale(cond)[..., None, None, :]) + self.shift(cond)[..., None, None, :]
        )


def _head(d_in: int, hidden: int, d_out: int, scale: float, rngs: nnx.Rngs) -> nnx.Sequential:
    ortho = nnx.initializers.orthogonal
    return nnx.Sequential(
        nnx.Linear(d_in, hidden, kernel_init=ortho(jnp.sqrt(2)), rngs=rngs),
        nnx.tanh,
        nnx.Linear(hidden, d_out, kernel_init=ortho(scale), rngs=rngs),
    )


class ActorCritic(nnx.Module):
    def __init__(
        self,
        vocab_size: int,
        mission_length: int,
        hint_length: int,
        embed_dim: int = 32,
        channels: int = 32,
        hidden: int = 64,
        hint_film: bool = False,
        cell_embed: bool = False,
        pool: str = "max",
        memory: int = 0,
        actor_scale: float = 0.01,
        *,
        rngs: nnx.Rngs,
    ):
        self.hint_film = hint_film
        self.flatten = pool == "flatten"
        self.codes = nnx.Embed(_NUM_CODES, embed_dim, rngs=rngs)
        self.cells = nnx.Embed(C.VIEW * C.VIEW, embed_dim, rngs=rngs) if cell_embed else None
        self.text = TextEncoder(vocab_size, max(mission_length, hint_length), embed_dim, rngs=rngs)
        cond = 2 * embed_dim if hint_film else embed_dim
        self.conv1 = FiLMConv(embed_dim, channels, cond, rngs=rngs)
        self.conv2 = FiLMConv(channels, channels, cond, rngs=rngs)
        view = channels * (C.VIEW * C.VIEW if self.flatten else 1)
        self.core = nnx.GRUCell(view, memory, rngs=rngs) if memory else None
        view += memory
        self.actor = _head(view + embed_dim, hidden, C.NUM_ACTIONS, actor_scale, rngs)
        self.critic = _head(view + embed_dim, hidden, 1, 1.0, rngs)
        self.critic0 = _head(view, hidden, 1, 1.0, rngs)

    def features(self, image: jax.Array, m: jax.Array, g: jax.Array) -> jax.Array:
        """f32[B, channels] (f32[B, 49 * channels] flattened): the view read in the light of
        the mission's encoding m f32[B,D] (and, with `hint_film`, of the hint's g f32[B,D])."""
        # the view's embedding, each cell's 3 codes' rows summed (+ the cell's own), folded into
        # the first convolution: hot f32[B, 7, 7, 20] says which codes each cell has
        hot = jax.nn.one_hot(image.astype(jnp.int32) + _CODE_OFFSETS, _NUM_CODES).sum(-2)
        table = self.codes.embedding[...]
        base = jnp.zeros((C.VIEW, C.VIEW, table.shape[1]))
        if self.cells is not None:
            base = self.cells.embedding[...].reshape(base.shape)
        cond = jnp.concatenate([m, g], -1) if self.hint_film else m
        x = self.conv1.film(self.conv1.conv.of_embedded(hot, table, base), cond)
        x = self.conv2(x, cond)
        return x.reshape(*x.shape[:-3], -1) if self.flatten else x.max((-3, -2))

    def __call__(self, image, mission, hint=None, carry=None, first=None):
        """-> (logits f32[...,7], value f32[...], value0 f32[...], carry). The leading axes
        `...` are [B] (one step of B environments) or [T, B] (T steps of each). `hint` i32[...,K]
        or None. With `memory`: `carry` f32[B, memory] is the core's state before the first
        step, `first` bool[...] marks the steps that begin an episode (the core starts again
        from zeros there), and the carry after the last step is returned; else None in and out."""
        m = self.text(mission)
        no_hint = jnp.zeros_like(m)
        g = no_hint if hint is None else self.text(hint)
        h0 = self.features(image, m, no_hint)  # never sees the hint
        h = self.features(image, m, g) if self.hint_film and hint is not None else h0
        if self.core is not None:
            carry, r = self.remember(carry, first, h0)
            h0, h = jnp.concatenate([h0, r], -1), jnp.concatenate([h, r], -1)
        hg = jnp.concatenate([h, g], -1)
        return self.actor(hg), self.critic(hg)[..., 0], self.critic0(h0)[..., 0], carry

    def remember(self, carry, first, x):
        """The core over x f32[B, F] (one step) or f32[T, B, F] (a sequence, in order) ->
        (carry f32[B, memory] after it, outputs f32[..., memory])."""

        def step(carry, inputs):
            x, first = inputs
            return self.core(jnp.where(first[:, None], 0.0, carry), x)

        if first.ndim == 1:
            return step(carry, (x, first))
        return jax.lax.scan(step, carry, (x, first))
