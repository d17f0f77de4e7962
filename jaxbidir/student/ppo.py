"""PPO for the student, PureJaxRL-style pieces: the rollout record, GAE, the clipped loss and
the epochs of minibatch steps (all `lax.scan`). The whole training run that uses them, with or
without hints, is `jaxbidir.feedback.make_train` (on `jaxbidir.runner`'s state and trainer).

Episode ends follow navix's deferred auto-reset: the step after a finished timestep starts the
next episode and its action is ignored. Such rows are masked out of the losses, and the value
they compute is exactly the bootstrap a truncated episode needs (its final observation).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jaxbidir import envs, nonfinite
from jaxbidir.config import Config

from .model import ActorCritic


class Rollout(NamedTuple):
    """One row per step, leading axes [num_steps, num_envs]."""

    image: jax.Array
    mission: jax.Array
    hint: jax.Array  # i32[..., K] the hint the student acted on (all pad: none)
    slot: jax.Array  # i32 which hint of its segment: 0 the first, 1 the one asked for the
    #                  next episode, 2 none (see jaxbidir.feedback)
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    value0: jax.Array
    reward: jax.Array  # what the step earned in the level
    bonus: jax.Array  # ... and beside it, from a hint channel (see jaxbidir.feedback.channels)
    done: jax.Array  # the step ended the episode
    terminated: jax.Array  # ... by success (no bootstrap)
    valid: jax.Array  # a real step (not the ignored action of an auto-reset)
    first: jax.Array  # the step begins an episode (a recurrent student forgets there)
    prior_actions: jax.Array  # bool[..., A] the actions a hint channel's prior asks for (see
    #                           jaxbidir.feedback.channels)
    prior_known: jax.Array  # bool ... where it has one (False without a prior)


def make_model(config: Config, env: envs.Environment, key) -> ActorCritic:
    return ActorCritic(
        envs.VOCAB_SIZE,
        env.mission_length,
        envs.HINT_LENGTH,
        config.student.embed_dim,
        config.student.channels,
        config.student.hidden,
        hint_film=config.student.hint_film,
        cell_embed=config.student.cell_embed,
        pool=config.student.pool,
        memory=config.student.memory,
        actor_scale=config.student.actor_scale,
        rngs=nnx.Rngs(key),
    )


def make_optimizer(config: Config):
    """Adam with global-norm clipping; the learning rate decays linearly to 0 with
    `anneal_lr`."""

    ppo = config.student

    def schedule(count):
        steps_per_update = ppo.update_epochs * ppo.num_minibatches
        frac = 1.0 - (count // steps_per_update) / config.num_updates
        return ppo.lr * frac if ppo.anneal_lr else ppo.lr

    return optax.chain(optax.clip_by_global_norm(ppo.max_grad_norm), optax.adam(schedule, eps=1e-5))


def gae(rows: Rollout, last_value, gamma: float, lam: float):
    """Advantages f32[T, N]. Row t's bootstrap is row t+1's value: after a truncation that
    row is the ignored auto-reset step, which saw the episode's final observation."""
    next_values = jnp.concatenate([rows.value[1:], last_value[None]])

    def back(adv, x):
        reward, done, term, value, next_value = x
        delta = reward + gamma * next_value * (1 - term) - value
        adv = delta + gamma * lam * (1 - done) * adv
        return adv, adv

    xs = (rows.reward, rows.done, rows.terminated, rows.value, next_values)
    xs = jax.tree.map(lambda x: x.astype(jnp.float32), xs)
    _, adv = jax.lax.scan(back, jnp.zeros_like(last_value), xs, reverse=True)
    return adv


def masked_mean(x, valid):
    """The mean of x over the valid rows (bool[B])."""
    w = valid.astype(jnp.float32)
    return (x * w).sum() / jnp.maximum(w.sum(), 1)


def clipped_losses(log_probs, value, batch, adv, targets, clip_eps):
    """PPO's clipped surrogate and clipped value loss of one minibatch of flat rows (with
    `action`, `log_prob`, `value`, `valid`) -> dict of the terms. log_probs f32[B, A] of the
    current policy, value f32[B]."""
    mean = lambda x: masked_mean(x, batch.valid)  # noqa: E731
    log_prob = jnp.take_along_axis(log_probs, batch.action[:, None], -1)[:, 0]
    ratio = jnp.exp(log_prob - batch.log_prob)
    clipped = jnp.clip(ratio, 1 - clip_eps, 1 + clip_eps)
    return dict(
        policy_loss=-mean(jnp.minimum(ratio * adv, clipped * adv)),
        value_loss=clipped_value_loss(value, batch.value, targets, batch.valid, clip_eps),
        entropy=mean(-(jnp.exp(log_probs) * log_probs).sum(-1)),
        approx_kl=mean((ratio - 1) - jnp.log(ratio)),
    )


def clipped_value_loss(pred, old, targets, valid, clip_eps):
    pred_clipped = old + jnp.clip(pred - old, -clip_eps, clip_eps)
    return 0.5 * masked_mean(
        jnp.maximum((pred - targets) ** 2, (pred_clipped - targets) ** 2), valid
    )


def ppo_loss(
    policy, config: Config, params, batch: Rollout, adv, targets, carry=None, *, use_hints=True,
    prior_coef=None,
):  # fmt: skip
    """The student's clipped PPO loss of one minibatch of flat rows (a recurrent student's: of
    whole sequences [B, T], with the `carry` f32[B, memory] they start from) -> (loss, info).
    Advantages are normalized per minibatch. `targets` is what the critics learn, a pair
    (value's, value0's: the same returns but for a hint channel's bonus); `value0` never sees
    the hint. With
    `prior_coef` (f32, not None), plus that times -log of the policy's total probability of
    `batch.prior_actions` where they are known (a hint channel's prior; the cross-entropy when
    it asks for one action)."""
    sequences = carry is not None
    if sequences:  # the core runs each sequence in order: time-major [T, B]
        batch, adv, targets = jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), (batch, adv, targets))
    targets, targets0 = targets
    hint = batch.hint if use_hints else None
    logits, value, value0, _ = policy(params, batch.image, batch.mission, hint, carry, batch.first)
    if sequences:  # then every step is a row
        rows = lambda x: x.reshape(-1, *x.shape[2:])  # noqa: E731  [T, B, ...] -> [T * B, ...]
        logits, value, value0, batch, adv, targets, targets0 = jax.tree.map(
            rows, (logits, value, value0, batch, adv, targets, targets0)
        )
    mean = lambda x: masked_mean(x, batch.valid)  # noqa: E731
    adv = (adv - mean(adv)) / (jnp.sqrt(mean((adv - mean(adv)) ** 2)) + 1e-8)
    ppo = config.student
    log_probs = jax.nn.log_softmax(logits)
    info = clipped_losses(log_probs, value, batch, adv, targets, ppo.clip_eps)
    info["value0_loss"] = clipped_value_loss(
        value0, batch.value0, targets0, batch.valid, ppo.clip_eps
    )
    total = (
        info["policy_loss"]
        + ppo.vf_coef * (info["value_loss"] + info["value0_loss"])
        - ppo.ent_coef * info["entropy"]
    )
    if prior_coef is not None:
        known = batch.valid & batch.prior_known
        # rows without a prior ask for every action (log 1 = 0): no -inf, no NaN gradient
        asks = batch.prior_actions | ~known[:, None]
        asked = jax.nn.logsumexp(jnp.where(asks, log_probs, -jnp.inf), -1)
        info["prior_loss"] = masked_mean(-asked, known)
        total = total + prior_coef * info["prior_loss"]
    return total, info


def ppo_epochs(
    loss, tx, epochs: int, minibatches: int, params, opt_state, rows, adv, key, check_finite=False,
    carry=None, targets=None,
):  # fmt: skip
    """`epochs` passes of `minibatches` clipped steps over the rollout `rows` [T, N, ...] ->
    (params, opt_state, info averaged over the steps). `loss(params, batch, adv, targets) ->
    (loss, info)` on flat rows. With a recurrent student's `carry` f32[N, memory] from before
    the rollout, the minibatches are environments with all their steps in order: `loss(params,
    batch, adv, targets, carry)` on [B, T, ...] and the carry of those B. With `check_finite`,
    info["nonfinite_gradients"] > 0 when some step's gradients held a NaN or an Inf. `targets`
    (f32[T, N] or a pytree of them): what the loss's critics learn, by default adv + value."""
    targets = adv + rows.value if targets is None else targets
    if carry is None:
        n = rows.valid.size
        data = jax.tree.map(lambda x: x.reshape(n, *x.shape[2:]), (rows, adv, targets))
    else:
        n = rows.valid.shape[1]
        data = (*jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), (rows, adv, targets)), carry)
    mb = n // minibatches

    def epoch(carry, k):
        perm = jax.random.permutation(k, n)
        batches = jax.tree.map(lambda x: x[perm].reshape(minibatches, mb, *x.shape[1:]), data)

        def minibatch(carry, batch):
            params, opt_state = carry
            grads, info = jax.grad(loss, has_aux=True)(params, *batch)
            if check_finite:
                info = {**info, "nonfinite_gradients": nonfinite.any_nonfinite(grads)}
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), info

        return jax.lax.scan(minibatch, carry, batches)

    keys = jax.random.split(key, epochs)
    (params, opt_state), info = jax.lax.scan(epoch, (params, opt_state), keys)
    return params, opt_state, jax.tree.map(jnp.mean, info)


def episode_metrics(rows: Rollout, lengths) -> dict:
    """Per-update figures of the episodes that ended in the rollout (lengths i32[T, N]: the
    step count after each row)."""
    done = rows.done & rows.valid
    episodes = done.sum()
    per_episode = lambda x: jnp.where(done, x, 0).sum() / jnp.maximum(episodes, 1)  # noqa: E731
    return dict(
        episodes=episodes,
        success_rate=per_episode(rows.terminated),
        episode_return=per_episode(rows.reward),
        episode_length=per_episode(lengths),
    )
