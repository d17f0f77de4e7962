"""PPO for the student, PureJaxRL-style: `make_train(config)` gives pure functions whose whole
run is a `lax.scan`, so `jax.vmap(train)(keys)` trains many seeds at once.

One update = a rollout of `num_steps` in `num_envs` environments, GAE, then `update_epochs`
passes of `num_minibatches` clipped policy / value steps (all `lax.scan`).

Episode ends follow navix's deferred auto-reset: the step after a finished timestep starts the
next episode and its action is ignored. Such rows are masked out of the losses, and the value
they compute is exactly the bootstrap a truncated episode needs (its final observation).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jaxbidir import envs
from jaxbidir.config import Config

from .model import ActorCritic


class RunnerState(NamedTuple):
    """Everything one seed's training carries from update to update (a pytree)."""

    params: nnx.State
    opt_state: optax.OptState
    timestep: envs.Timestep  # batched over num_envs
    key: jax.Array
    update: jax.Array  # i32, updates done


class Rollout(NamedTuple):
    """One row per step, leading axes [num_steps, num_envs]."""

    image: jax.Array
    mission: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    value0: jax.Array
    reward: jax.Array  # what the step earned
    done: jax.Array  # the step ended the episode
    terminated: jax.Array  # ... by success (no bootstrap)
    valid: jax.Array  # a real step (not the ignored action of an auto-reset)


class Trainer(NamedTuple):
    """`init(key) -> RunnerState`; `update(state) -> (state, metrics)`; `train(key)` runs all
    updates; `policy(params, image, mission, hint=None) -> (logits, value, value0)`."""

    init: callable
    update: callable
    train: callable
    policy: callable
    env: envs.Environment
    config: Config


def make_model(config: Config, env: envs.Environment, key) -> ActorCritic:
    return ActorCritic(
        envs.VOCAB_SIZE,
        env.mission_length,
        envs.HINT_LENGTH,
        config.embed_dim,
        config.channels,
        config.hidden,
        rngs=nnx.Rngs(key),
    )


def make_env(config: Config) -> envs.Environment:
    overrides = {"max_steps": config.max_steps} if config.max_steps else {}
    return envs.make(config.env_id, **overrides)


def make_train(config: Config) -> Trainer:
    env = make_env(config)
    graphdef = nnx.split(nnx.eval_shape(lambda: make_model(config, env, jax.random.key(0))))[0]
    n_env, n_steps = config.num_envs, config.num_steps
    n_updates = config.num_updates

    def schedule(count):
        steps_per_update = config.update_epochs * config.num_minibatches
        frac = 1.0 - (count // steps_per_update) / n_updates
        return config.lr * frac if config.anneal_lr else config.lr

    tx = optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm), optax.adam(schedule, eps=1e-5)
    )

    def policy(params, image, mission, hint=None):
        return nnx.merge(graphdef, params)(image, mission, hint)

    def init(key) -> RunnerState:
        k_model, k_env, key = jax.random.split(key, 3)
        params = nnx.state(make_model(config, env, k_model), nnx.Param)
        timestep = jax.vmap(env.reset)(jax.random.split(k_env, n_env))
        return RunnerState(params, tx.init(params), timestep, key, jnp.zeros((), jnp.int32))

    def rollout(params, timestep, key):
        def step(ts, k):
            k_act, _ = jax.random.split(k)  # the key stream every recorded run was made with
            logits, value, value0 = policy(params, ts.observation.image, ts.observation.mission)
            action = jax.random.categorical(k_act, logits)
            log_prob = jax.nn.log_softmax(logits)[jnp.arange(n_env), action]
            nxt = jax.vmap(env.step)(ts, action)
            row = Rollout(
                ts.observation.image,
                ts.observation.mission,
                action,
                log_prob,
                value,
                value0,
                nxt.reward,
                nxt.is_done(),
                nxt.is_termination(),
                ~ts.is_done(),
            )
            return nxt, (row, nxt.t)

        timestep, (rows, lengths) = jax.lax.scan(step, timestep, jax.random.split(key, n_steps))
        return timestep, rows, lengths

    def gae(rows: Rollout, last_value):
        """Advantages f32[T, N]. Row t's bootstrap is row t+1's value: after a truncation that
        row is the ignored auto-reset step, which saw the episode's final observation."""
        next_values = jnp.concatenate([rows.value[1:], last_value[None]])

        def back(adv, x):
            reward, done, term, value, next_value = x
            delta = reward + config.gamma * next_value * (1 - term) - value
            adv = delta + config.gamma * config.gae_lambda * (1 - done) * adv
            return adv, adv

        xs = (rows.reward, rows.done, rows.terminated, rows.value, next_values)
        xs = jax.tree.map(lambda x: x.astype(jnp.float32), xs)
        _, adv = jax.lax.scan(back, jnp.zeros(n_env), xs, reverse=True)
        return adv

    def loss_fn(params, batch: Rollout, adv, targets):
        logits, value, value0 = policy(params, batch.image, batch.mission)
        log_probs = jax.nn.log_softmax(logits)
        log_prob = jnp.take_along_axis(log_probs, batch.action[:, None], -1)[:, 0]
        w = batch.valid.astype(jnp.float32)
        mean = lambda x: (x * w).sum() / jnp.maximum(w.sum(), 1)  # noqa: E731
        adv = (adv - mean(adv)) / (jnp.sqrt(mean((adv - mean(adv)) ** 2)) + 1e-8)
        ratio = jnp.exp(log_prob - batch.log_prob)
        clipped = jnp.clip(ratio, 1 - config.clip_eps, 1 + config.clip_eps)
        policy_loss = -mean(jnp.minimum(ratio * adv, clipped * adv))

        def value_loss(pred, old):
            pred_clipped = old + jnp.clip(pred - old, -config.clip_eps, config.clip_eps)
            return 0.5 * mean(jnp.maximum((pred - targets) ** 2, (pred_clipped - targets) ** 2))

        v_loss, v0_loss = value_loss(value, batch.value), value_loss(value0, batch.value0)
        entropy = mean(-(jnp.exp(log_probs) * log_probs).sum(-1))
        total = policy_loss + config.vf_coef * (v_loss + v0_loss) - config.ent_coef * entropy
        approx_kl = mean((ratio - 1) - jnp.log(ratio))
        return total, dict(
            policy_loss=policy_loss,
            value_loss=v_loss,
            value0_loss=v0_loss,
            entropy=entropy,
            approx_kl=approx_kl,
        )

    def update(state: RunnerState):
        key, k_roll, k_perm = jax.random.split(state.key, 3)
        timestep, rows, lengths = rollout(state.params, state.timestep, k_roll)
        _, last_value, _ = policy(
            state.params, timestep.observation.image, timestep.observation.mission
        )
        adv = gae(rows, last_value)
        targets = adv + rows.value

        flat = lambda x: x.reshape(n_steps * n_env, *x.shape[2:])  # noqa: E731
        data = jax.tree.map(flat, (rows, adv, targets))
        mb = n_steps * n_env // config.num_minibatches

        def epoch(carry, k):
            params, opt_state = carry
            perm = jax.random.permutation(k, n_steps * n_env)
            batches = jax.tree.map(
                lambda x: x[perm].reshape(config.num_minibatches, mb, *x.shape[1:]), data
            )

            def minibatch(carry, batch):
                params, opt_state = carry
                grads, info = jax.grad(loss_fn, has_aux=True)(params, *batch)
                updates, opt_state = tx.update(grads, opt_state, params)
                return (optax.apply_updates(params, updates), opt_state), info

            return jax.lax.scan(minibatch, (params, opt_state), batches)

        (params, opt_state), info = jax.lax.scan(
            epoch, (state.params, state.opt_state), jax.random.split(k_perm, config.update_epochs)
        )
        done = rows.done & rows.valid
        episodes = done.sum()
        per_episode = lambda x: jnp.where(done, x, 0).sum() / jnp.maximum(episodes, 1)  # noqa: E731
        metrics = dict(
            frames=(state.update + 1) * n_steps * n_env,
            episodes=episodes,
            success_rate=per_episode(rows.terminated),
            episode_return=per_episode(rows.reward),
            episode_length=per_episode(lengths),
            **jax.tree.map(jnp.mean, info),
        )
        new = RunnerState(params, opt_state, timestep, key, state.update + 1)
        return new, metrics

    def train(key, num_updates: int = n_updates):
        def body(state, _):
            return update(state)

        return jax.lax.scan(body, init(key), None, length=num_updates)

    return Trainer(init, update, train, policy, env, config)
