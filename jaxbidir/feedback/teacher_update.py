"""The teacher's update from the student's scores: KL-regularized reward-weighted regression.

For the hints `y_i` the teacher wrote for prompts `x_i`, with scores `A_i` from the student:

    w_i = min(n * softmax_i((A_i - mean A) / beta), weight_clip)        (over the n used hints)
    L   = 1/n sum_i [ -w_i sum_t log pi(y_it | x_i, y_i<t) + lambda sum_t KL(pi || pi_ref)_it ]

The weights average 1 before clipping (AWR's normalisation, so the learning rate does not depend
on how many hints an update has); `beta` sets how sharply the best hints win. The KL is the full
next-token KL to the frozen initial teacher at every position of the hint, so it is exactly 0
while the teacher is the reference. Shapes: B hints, P prompt, N hint tokens, V vocabulary.

`make_learner` packs it for a run: the teacher's optimizer (from [teacher]), one update per
student update on a random subset of the hints acted on, and the control that isolates what the
scores teach (`shuffled`: the same update with the scores shuffled among the hints). What it
trains is all the teacher's weights or low-rank adapters on one shared copy (`split_teacher`,
`[teacher] update`).
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jaxbidir import nonfinite
from jaxbidir.config import Config
from jaxbidir.teacher import continuation_log_softmax, lora


class HintBatch(NamedTuple):
    """What the teacher said and what it was worth, one row per hint."""

    prompt: jax.Array  # i32[B,P] left-padded
    prompt_mask: jax.Array  # bool[B,P]
    tokens: jax.Array  # i32[B,N] the teacher's tokens, right-padded
    mask: jax.Array  # bool[B,N] up to and including the end token
    score: jax.Array  # f32[B] the student's score of the hint
    used: jax.Array  # bool[B] the hint was acted on (and so scored)


def reward_weights(score, used, beta: float, weight_clip: float, standardize: bool = False):
    """f32[B]: `n * softmax((score - mean) / beta)` over the `used` hints (0 elsewhere), each at
    most `weight_clip`. With `standardize`, the scores are divided by their standard deviation
    over the used hints first, so that `beta` is in units of their spread, whatever the scale
    of the returns. No gradient flows through the weights."""
    score = jax.lax.stop_gradient(score)
    n = used.sum()
    mean = jnp.where(used, score, 0.0).sum() / jnp.maximum(n, 1)
    centred = score - mean
    if standardize:
        std = jnp.sqrt(jnp.where(used, centred**2, 0.0).sum() / jnp.maximum(n, 1))
        centred = centred / (std + 1e-8)
    z = jnp.where(used, centred / beta, -jnp.inf)
    w = n * jax.nn.softmax(jnp.where(n > 0, z, 0.0))
    return jnp.where(used, jnp.minimum(w, weight_clip), 0.0)


def token_terms(model, reference, batch: HintBatch):
    """(log pi(y_t) f32[B,N], KL(pi || pi_ref)_t f32[B,N]) at the hint's tokens, 0 elsewhere."""
    log_pi, _ = continuation_log_softmax(
        model, batch.prompt, batch.prompt_mask, batch.tokens, batch.mask
    )
    log_ref, _ = continuation_log_softmax(
        reference, batch.prompt, batch.prompt_mask, batch.tokens, batch.mask
    )
    log_ref = jax.lax.stop_gradient(log_ref)
    log_prob = jnp.take_along_axis(log_pi, batch.tokens[..., None], -1)[..., 0]
    kl = (jnp.exp(log_pi) * (log_pi - log_ref)).sum(-1)
    return jnp.where(batch.mask, log_prob, 0.0), jnp.where(batch.mask, kl, 0.0)


def rwr_loss(log_prob, kl, weights, used, kl_coef: float):
    """The loss above from per-token terms f32[B,N] and weights f32[B] -> (loss, info)."""
    n = jnp.maximum(used.sum(), 1)
    nll = -(weights * log_prob.sum(-1)).sum() / n
    kl_per_hint = jnp.where(used, kl.sum(-1), 0.0).sum() / n
    return nll + kl_coef * kl_per_hint, dict(teacher_nll=nll, kl=kl_per_hint)


def teacher_loss(
    params, teacher_of, reference, batch: HintBatch, beta, weight_clip, kl_coef, standardize=False
):
    """The loss of the teacher `teacher_of(params)` against `teacher_of(reference)` ->
    (loss, info)."""
    log_prob, kl = token_terms(teacher_of(params), teacher_of(reference), batch)
    weights = reward_weights(batch.score, batch.used, beta, weight_clip, standardize)
    loss, info = rwr_loss(log_prob, kl, weights, batch.used, kl_coef)
    return loss, dict(info, teacher_loss=loss, weight_max=weights.max())


def subsample(batch: HintBatch, size: int, key) -> HintBatch:
    """`size` hints drawn at random without replacement from the used ones (all of them, and
    then unused rows, when fewer are used): the same loss on a random subset of the hints, at
    a fraction of the cost of all of them."""
    if not size or size >= batch.used.shape[0]:
        return batch
    priority = jax.random.uniform(key, batch.used.shape) + batch.used  # used ones first
    index = jax.lax.top_k(priority, size)[1]
    return jax.tree.map(lambda x: x[index], batch)


def shuffle_among_used(score, used, key):
    """f32[B]: the scores of the `used` hints in a random order among them (the others kept):
    the same weights' spread, no information about which hint earned which."""
    in_order = jnp.argsort(~used, stable=True)  # used rows first, in order
    at_random = jnp.argsort(jnp.where(used, jax.random.uniform(key, score.shape), 2.0))
    return score.at[in_order].set(score[at_random])


class TeacherState(NamedTuple):
    """A learning teacher's own state, one per seed: what it trains (all its weights, or its
    adapters) and their optimizer state."""

    params: nnx.State
    opt_state: optax.OptState


class Learnable(NamedTuple):
    """A teacher split into what learns and what does not (`split_teacher`).

    teacher_of(params) -> the teacher whose trained part is `params`
    start: the trained part before any update (all the weights, or adapters whose B is zero):
        `teacher_of(start)` is the pretrained teacher, the KL's reference
    """

    teacher_of: Callable
    start: nnx.State


def split_teacher(config: Config, lm) -> Learnable:
    """`lm` as `[teacher] update` trains it: `full`, all its parameters per seed; `lora`,
    low-rank adapters per seed, its weights one frozen copy closed over (a constant of the
    jitted step, not vmapped over seeds, not in the optimizer)."""
    if config.teacher.update == "full":
        graphdef, start = nnx.split(lm)
        return Learnable(lambda params: nnx.merge(graphdef, params), start)
    targets = config.teacher.lora_targets.split(",")
    adapted = lora.adapt(lm, config.teacher.lora_rank, targets)
    graphdef, start, shared = nnx.split(adapted, nnx.LoRAParam, ...)
    return Learnable(lambda params: nnx.merge(graphdef, params, shared), start)


def make_optimizer(config: Config):
    """Adam on the teacher, its gradient's global norm clipped ([teacher] lr, max_grad_norm)."""
    return optax.chain(
        optax.clip_by_global_norm(config.teacher.max_grad_norm), optax.adam(config.teacher.lr)
    )


def make_learner(config: Config, learnable: Learnable, shuffled: bool = False):
    """-> (init() -> TeacherState, learn(state, asked, score, used, key) -> (state, info,
    nonfinite checks)): one update of the teacher's trained part (`learnable`, which starts as
    the KL's reference) from the scores f32[S, 2N] of the hints `asked` [S, 2N]
    (`hints.Asked`), of which `used` were acted on. With `shuffled`, the scores are shuffled
    among the used hints first."""
    tx = make_optimizer(config)
    feedback = config.feedback
    teacher_of, start = learnable

    def init() -> TeacherState:
        return TeacherState(start, tx.init(start))

    def learn(state: TeacherState, asked, score, used, key):
        k_shuffle, k_subset = jax.random.split(key)
        score, used = score.reshape(-1), used.reshape(-1)
        if shuffled:
            score = shuffle_among_used(score, used, k_shuffle)
        flat = lambda x: x.reshape(-1, *x.shape[2:])  # noqa: E731  [S, 2N, ...] -> [B, ...]
        batch = HintBatch(
            *(flat(x) for x in (asked.prompt, asked.prompt_mask, asked.tokens, asked.mask)),
            score,
            used,
        )
        batch = subsample(batch, config.teacher.batch, k_subset)
        grads, info = jax.grad(teacher_loss, has_aux=True)(
            state.params, teacher_of, start, batch,
            feedback.beta, feedback.weight_clip, feedback.kl_coef, feedback.standardize_scores,
        )  # fmt: skip
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        new = TeacherState(optax.apply_updates(state.params, updates), opt_state)
        checks = {}
        if config.run.check_finite:
            checks = dict(
                teacher_loss=nonfinite.any_nonfinite(info),
                teacher_gradients=nonfinite.any_nonfinite(grads),
                teacher_parameters=nonfinite.any_nonfinite(new.params),
            )
        return new, info, checks

    return init, learn
