"""The student learns from supervision, and reads its mission to do so: fitted by cross-entropy
to a shortest-path bot's actions on GoToLocal (the executor following the oracle's subgoals), it
fits them better with its mission than blind, on every seed. With PPO's usual initialisation of
the actor's last layer (0.01) the same fit collapses to the bot's most frequent action on most
seeds; `student.actor_scale=1.0` is what makes it reliable (docs/channels.md)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxbidir import config as configs
from jaxbidir import envs
from jaxbidir.envs import executor
from jaxbidir.student.ppo import make_model

LEVEL = "BabyAI-GoToLocal-v0"
SEEDS = 3


def bot_states(env, key, n_env=64, steps=32, explore=0.25):
    """States along the bot's episodes (a random turn or forward instead of its action at
    chance `explore`, so that the states are not only its own paths) -> (image u8[S, 7, 7, 3],
    mission i32[S, L], its action i32[S], where it has one bool[S]), S = n_env * steps."""

    def step(ts, k):
        action, known = jax.vmap(executor.act)(ts.state, jax.vmap(envs.subgoal)(ts.state))
        k_act, k_explore = jax.random.split(k)
        random = jax.random.randint(k_act, action.shape, 0, 3)
        taken = jnp.where(jax.random.uniform(k_explore, action.shape) < explore, random, action)
        obs, labelled = ts.observation, known & ~ts.is_done()
        return jax.vmap(env.step)(ts, taken), (obs.image, obs.mission, action, labelled)

    ts = jax.vmap(env.reset)(jax.random.split(key, n_env))
    _, data = jax.lax.scan(step, ts, jax.random.split(jax.random.fold_in(key, 1), steps))
    return jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), data)


def fitted_accuracy(config, env, key, data, sighted: bool, steps=300, batch=256, lr=1e-3):
    """The default student fitted to the bot's actions (Adam, minibatches drawn at random) ->
    its accuracy f32 on the states it was fitted to; blind: the mission all pad."""
    image, mission, label, known = data
    mission = mission if sighted else jnp.zeros_like(mission)
    graphdef, params = nnx.split(make_model(config, env, key), nnx.Param)
    tx = optax.adam(lr)

    def logits(params, rows):
        return nnx.merge(graphdef, params)(image[rows], mission[rows])[0]

    def loss(params, rows):
        ce = optax.softmax_cross_entropy_with_integer_labels(logits(params, rows), label[rows])
        return (ce * known[rows]).sum() / known[rows].sum()

    def step(carry, k):
        params, opt_state = carry
        grads = jax.grad(loss)(params, jax.random.randint(k, (batch,), 0, label.shape[0]))
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), None

    keys = jax.random.split(jax.random.fold_in(key, 1), steps)
    (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), keys)
    right = logits(params, jnp.arange(label.shape[0])).argmax(-1) == label
    return (right & known).sum() / known.sum()


@pytest.mark.slow  # about a minute of fitting on 2 cores
def test_the_student_fits_a_bot_better_with_its_mission_than_blind():
    config = configs.load("gotolocal", ["student.actor_scale=1.0"])
    env = envs.make(LEVEL)
    data = jax.jit(lambda k: bot_states(env, k))(jax.random.PRNGKey(0))
    keys = jax.random.split(jax.random.PRNGKey(1), SEEDS)
    fit = jax.jit(jax.vmap(lambda k, sighted: fitted_accuracy(config, env, k, data, sighted),
                           in_axes=(0, None)), static_argnums=1)  # fmt: skip
    sighted, blind = np.asarray(fit(keys, True)), np.asarray(fit(keys, False))
    label, known = np.asarray(data[2]), np.asarray(data[3])
    majority = np.bincount(label[known]).max() / known.sum()
    # measured (Python 3.13, 2 cores): sighted 0.779 0.794 0.748, blind 0.747 0.780 0.706 (a
    # gap of 0.014-0.042), the most frequent action 0.553; at actor_scale 0.01, sighted 0.553 on
    # every seed, blind 0.553 0.642 0.553
    assert (sighted > majority + 0.15).all(), (sighted, majority)
    assert (sighted > blind).all() and (sighted - blind).mean() > 0.02, (sighted, blind)
