"""One home for a training run's pieces, shared by every mode, PureJaxRL's `make_train` shape:
a mode builds a `Trainer` of pure functions over one seed's `RunnerState`, and
`jaxbidir.training.run` vmaps, jits, logs and checkpoints any of them.

    jaxbidir.feedback.make_train(config)  the student, with the hints of the mode's source
    jaxbidir.glam.make_train(config)      the GLAM baseline: the language model is the policy

The names that say "train", from the outside in:
    `jaxbidir train` (cli)           -> training.run(config, out_dir): the run a user starts,
                                        with logs, evaluations, checkpoints and resume
    training.make_train(config)      -> the mode's Trainer (feedback/train.py, glam/train.py)
    Trainer.train(key, num_updates)  -> one seed's whole run as one scan, nothing written
                                        (for a sweep or a benchmark that vmaps it)
    Trainer.update(state)            -> one update, what training.run scans in chunks
"""

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
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
    carry: Any = None  # a recurrent student's core, f32[num_envs, student.memory]; else None


class Trainer(NamedTuple):
    """The pure functions of one mode, for one seed (vmap them for many).

    init(key) -> RunnerState
    update(state, index=None) -> (state, metrics {name: scalar}): one rollout and its updates;
        `index`, the update's number as one scalar shared by all seeds (not vmapped), lets
        work done only every few updates be skipped in a vmapped step (a `lax.cond` on a
        batched predicate runs both branches); None: `state.updates_done`
    train(key, num_updates) -> (state, metrics [num_updates]): the whole run in one scan
    evaluate(state) -> {name: scalar}: the policy on a fixed set of episodes (the same in every
        mode and at every call), sampled and greedy (`make_evaluate`)
    play(state, env, first, steps, key, greedy, hints=True) -> (Episodes [n], hint accuracy):
        the policy of `state` playing the episodes that start at `first` (timesteps [n]) to
        their end (`play_episodes`), with the mode's hints unless `hints` is False
    policy: the policy's forward pass (its signature is the mode's)
    lm: the language model the mode loaded (the teacher; GLAM's LM); None without one
    collect(state) -> the rollout `update` would learn from, for inspection (None: not offered)
    teacher(mode_state) -> the teacher as it is in one seed's state (None: the mode has none)
    """

    init: Callable
    update: Callable
    train: Callable
    evaluate: Callable
    play: Callable
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
        # compiled outside that context, which would run each of the levels' constant ops as a
        # program of its own (~150 of them) instead of staging them into this one; a compiled
        # program called on concrete keys returns concrete timesteps, even inside a trace
        first = jax.jit(jax.vmap(env.reset)).lower(keys).compile()(keys)
        return first, int(np.asarray(first.state.max_steps).max())

    return episodes, k_play


class Episodes(NamedTuple):
    """How each of a batch of episodes [n] ended: the one meaning of success and return that
    every evaluation reports."""

    success: jax.Array  # bool: the level's reward was positive (minigrid rewards only success)
    returned: jax.Array  # f32: 1 - 0.9 steps/time limit on success, else 0
    length: jax.Array  # i32: the steps it took


def play_episodes(env, act, first, steps: int, key, every: int | None = None, ask=None,
                  memory=None) -> tuple[Episodes, jax.Array]:  # fmt: skip
    """Play every episode that starts at `first` (timesteps [n]) to its end: the one player of
    every evaluation (the student's, GLAM's, `jaxbidir evaluate`).

    act(memory, ts, hint, key) -> (actions i32[n], memory): one step of the policy; `memory` is
        what it carries from step to step (GLAM's episode memory; None for the student)
    ask(ts, key) -> (hints i32[n, K], the fraction of them that are right): asked at the start
        and every `every` steps (None: no hints; `hint` is then None)
    steps: within which every episode ends (the longest time limit); `every`: steps a segment
        (default `steps`), which also sets how `key` is split (segments, then steps)
    -> (Episodes [n], the accuracy of the first hints asked: NaN without hints)."""
    n, every = first.reward.shape[0], every or steps

    def segment(carry, key):
        k_ask, k_steps = jax.random.split(key)
        hint, right = ask(carry[0], k_ask) if ask is not None else (None, jnp.nan)

        def step(carry, k):
            ts, memory, finished, returned, length = carry
            action, memory = act(memory, ts, hint, k)
            nxt = jax.vmap(env.step)(ts, action)
            returned = returned + jnp.where(finished, 0.0, nxt.reward)
            length = length + ~finished
            return (nxt, memory, finished | nxt.is_done(), returned, length), None

        carry, _ = jax.lax.scan(step, carry, jax.random.split(k_steps, every))
        return carry, right

    start = (first, memory, jnp.zeros(n, bool), jnp.zeros(n), jnp.zeros(n, jnp.int32))
    keys = jax.random.split(key, -(-steps // every))  # segments enough for every episode
    (*_, returned, length), right = jax.lax.scan(segment, start, keys)
    return Episodes(success=returned > 0, returned=returned, length=length), right[0]


def make_evaluate(config: Config, env: envs.Environment, play, hinted: bool):
    """-> evaluate(state) -> {eval_success, eval_return, eval_success_greedy[,
    eval_hint_accuracy]}: `play` (a `Trainer.play`) on the `run.eval_episodes` fixed episodes
    (`fixed_episodes`), acting sampled and greedy. The return tells a policy that goes straight
    to its goal from one that reaches it by visiting every object: minigrid's verifiers never
    fail, so both succeed. The hint accuracy is that of the hints asked for the episodes' first
    states (the same states at every call)."""
    episodes, k_play = fixed_episodes(config, env)

    def evaluate(state: RunnerState) -> dict:
        first, steps = episodes()
        sampled, accuracy = play(state, env, first, steps, k_play, greedy=False)
        greedy, _ = play(state, env, first, steps, k_play, greedy=True)
        out = dict(
            eval_success=sampled.success.mean(),
            eval_return=sampled.returned.mean(),
            eval_success_greedy=greedy.success.mean(),
        )
        if hinted:
            out["eval_hint_accuracy"] = accuracy
        return out

    return evaluate


def choose(logits, key, greedy: bool):
    """Actions from `logits` [n, A]: the most likely (`greedy`) or sampled."""
    return jnp.argmax(logits, -1) if greedy else jax.random.categorical(key, logits)


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
