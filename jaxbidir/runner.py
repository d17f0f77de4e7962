"""One home for a training run's pieces, shared by every mode, PureJaxRL's `make_train` shape:
a mode builds a `Trainer` of pure functions over one seed's `RunnerState`, and
`jaxbidir.training.run` vmaps, jits, logs and checkpoints any of them.

    jaxbidir.feedback.make_train(config)  the student, with the hints of the mode's source
    jaxbidir.glam.make_train(config)      the GLAM baseline: the language model is the policy
"""

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jaxbidir import envs, nonfinite
from jaxbidir.config import Config


class RunnerState(NamedTuple):
    """Everything one seed's training carries from update to update (a pytree)."""

    params: nnx.State | dict  # the policy's (the student's, or GLAM's LM and value head)
    opt_state: optax.OptState
    timestep: envs.Timestep  # batched over env.num_envs
    key: jax.Array
    updates_done: jax.Array  # i32
    mode_state: Any = None  # what the mode carries besides: a learning teacher's TeacherState,
    #                         GLAM's episode Memory; None for the others


class Trainer(NamedTuple):
    """The pure functions of one mode, for one seed (vmap them for many).

    init(key) -> RunnerState
    update(state, index=None) -> (state, metrics {name: scalar}): one rollout and its updates;
        `index`, the update's number as one scalar shared by all seeds (not vmapped), lets
        work done only every few updates be skipped in a vmapped step (a `lax.cond` on a
        batched predicate runs both branches); None: `state.updates_done`
    train(key, num_updates) -> (state, metrics [num_updates]): the whole run in one scan
    evaluate(state) -> {name: scalar}: the policy on a fixed set of episodes (the same in every
        mode and at every call), sampled and greedy; None where the mode has none
    policy: the policy's forward pass (its signature is the mode's)
    lm: the language model the mode loaded (the teacher; GLAM's LM); None without one
    collect(state) -> the rollout `update` would learn from, for inspection (None: not offered)
    teacher(mode_state) -> the teacher as it is in one seed's state (None: the mode has none)
    """

    init: Callable
    update: Callable
    train: Callable
    evaluate: Callable | None
    policy: Callable
    env: envs.Environment
    config: Config
    lm: Any = None
    collect: Callable | None = None
    teacher: Callable | None = None


EVAL_STREAM = 0x5EED  # the evaluation's keys: folded into run.seed, apart from training's


def fixed_episodes(config: Config, env: envs.Environment):
    """-> (episodes() -> (their first timesteps [run.eval_episodes], the steps within which
    every one of them ends: the longest time limit), the key to play them with). The same levels
    and keys in every mode and at every call: what `Trainer.evaluate` plays. `episodes` draws
    them at its first call, typically inside the trace of `evaluate`, not when the trainer is
    built (a trainer that never evaluates does not compile `reset` for them)."""
    key = jax.random.fold_in(jax.random.PRNGKey(config.run.seed), EVAL_STREAM)
    k_levels, k_play = jax.random.split(key)

    @functools.cache
    def episodes():
        with jax.ensure_compile_time_eval():  # concrete even inside the trace
            keys = jax.random.split(k_levels, config.run.eval_episodes)
            first = jax.jit(jax.vmap(env.reset))(keys)
            return first, int(first.state.max_steps.max())

    return episodes, k_play


def make_env(config: Config) -> envs.Environment:
    overrides = {"max_steps": config.env.max_steps} if config.env.max_steps else {}
    return envs.make(config.env.id, **overrides)


def scan_updates(init, update, num_updates: int):
    """train(key, num_updates) -> (final state, metrics with a leading [num_updates] axis)."""

    def train(key, num_updates: int = num_updates):
        return jax.lax.scan(update, init(key), jnp.arange(num_updates))

    return train


def update_metrics(config: Config, state: RunnerState, episodes: dict, info: dict, bad: dict):
    """The metrics every mode logs: frames done, the episodes that ended (`episodes`), the
    update's `info`, and `nonfinite` (a bitmask, `jaxbidir.nonfinite`) when `bad` has checks."""
    metrics = dict(frames=(state.updates_done + 1) * config.frames_per_update, **episodes, **info)
    if bad:
        metrics["nonfinite"] = nonfinite.flags(bad)
    return metrics


def zero_count():
    return jnp.zeros((), jnp.int32)
