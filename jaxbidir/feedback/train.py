"""The fused training step of every mode, PureJaxRL-style: `make_train(config)` gives pure
functions whose whole run is a `lax.scan`, so `jax.vmap(train)(keys)` trains many seeds at once.

One `update(state)`, jitted as a whole:
  1. rollout of `num_steps` in `num_envs` environments, segment by segment: hints asked for in
     one batch at each segment start (`hints.py`), the student acting on mission + hint;
  2. the student's PPO update (GAE, epochs of minibatches; `student/ppo.py`);
  3. the student's scores of the hints it acted on (its hint-agnostic critic, `hints.py`);
  4. in `bidirectional` mode, the teacher's KL-regularized reward-weighted update on them
     (`teacher_update.py`), with its own optax optimizer.

Modes: `student_only` (no hints), `teacher_frozen` (the initial teacher's hints, one-way),
`bidirectional` (the teacher learns from the scores), `oracle` (the oracle subgoal as the hint:
the upper bound). The teacher is loaded once (`config.teacher`, the shipped one by default) and
is also the frozen reference of the KL; only in `bidirectional` does each seed carry its own copy.
"""

import functools
import json
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jaxbidir import envs, nonfinite
from jaxbidir.config import Config
from jaxbidir.student.ppo import (
    Rollout,
    RunnerState,
    episode_metrics,
    gae,
    make_env,
    make_model,
    make_optimizer,
    ppo_epochs,
    ppo_loss,
)

from . import hints
from .teacher_update import HintBatch, subsample, teacher_loss

TEACHER_MODES = ("teacher_frozen", "bidirectional")


class TeacherState(NamedTuple):
    params: nnx.State
    opt_state: optax.OptState


class Trainer(NamedTuple):
    """`init(key) -> RunnerState`; `update(state) -> (state, metrics)`; `train(key)` runs all
    updates; `policy(params, image, mission, hint=None) -> (logits, value, value0)`;
    `teacher`: the initial teacher (a `GPT2`, None without one) and its `bridge`."""

    init: callable
    update: callable
    train: callable
    policy: callable
    env: envs.Environment
    config: Config
    teacher: object = None
    bridge: object = None


def load_teacher(config: Config):
    """(GPT2, tokenizer, description length) of the configured teacher."""
    from jaxbidir.teacher import pretrain

    model, tokenizer, directory = pretrain.load_configured(config.teacher, "teacher")
    length = config.description_length
    if not length:
        report = directory / "pretrain.json"
        saved = json.loads(report.read_text())["config"] if report.exists() else {}
        length = saved.get("description_length", 96)
    return model, tokenizer, length


def make_train(config: Config) -> Trainer:
    env = make_env(config)
    graphdef = nnx.split(nnx.eval_shape(lambda: make_model(config, env, jax.random.key(0))))[0]
    n_env, n_steps, every = config.num_envs, config.num_steps, config.hint_every
    mode = config.mode
    use_hints = mode != "student_only"
    tx = make_optimizer(config)

    teacher = bridge = ask = reference = None
    if mode in TEACHER_MODES:
        from jaxbidir.teacher import Bridge

        teacher, tokenizer, description_length = load_teacher(config)
        bridge = Bridge.build(tokenizer)
        prompt = bridge.prompt_length(env.mission_length, description_length)
        width = bridge.hint_length()
        if prompt + width > teacher.config.n_positions:
            raise ValueError(
                f"config: the teacher's prompts and hints take {prompt + width} tokens but it has "
                f"{teacher.config.n_positions} positions; lower description_length"
            )
        t_graphdef, reference = nnx.split(teacher)
        ask = hints.make_ask_teacher(
            t_graphdef, bridge, description_length, config.teacher_temperature
        )
        t_tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(config.teacher_lr))

    def policy(params, image, mission, hint=None):
        return nnx.merge(graphdef, params)(image, mission, hint)

    def init(key) -> RunnerState:
        k_model, k_env, key = jax.random.split(key, 3)
        params = nnx.state(make_model(config, env, k_model), nnx.Param)
        timestep = jax.vmap(env.reset)(jax.random.split(k_env, n_env))
        learner = None
        if mode == "bidirectional":
            learner = TeacherState(reference, t_tx.init(reference))
        zero = jnp.zeros((), jnp.int32)
        return RunnerState(params, tx.init(params), timestep, key, zero, learner)

    def ask_hints(teacher_params, ts, key) -> hints.Asked | None:
        if not use_hints:
            return None
        both = jax.tree.map(
            lambda a, b: jnp.concatenate([a, b]),
            ts.state,
            jax.vmap(env.next_episode)(ts.state),
        )
        return hints.ask_oracle(both) if mode == "oracle" else ask(teacher_params, both, key)

    def rollout(params, teacher_params, timestep, key):
        """-> (last timestep, rows [T, N], episode lengths i32[T, N], Asked [S, 2N])."""
        no_hint = jnp.zeros((n_env, envs.HINT_LENGTH), jnp.int32)

        def segment(ts, key):
            k_ask, k_steps = jax.random.split(key)
            asked = ask_hints(teacher_params, ts, k_ask)
            options = (
                jnp.stack([asked.hint[:n_env], asked.hint[n_env:], no_hint])
                if use_hints
                else no_hint[None]
            )

            def step(carry, k):
                ts, slot = carry
                hint = options[jnp.minimum(slot, options.shape[0] - 1), jnp.arange(n_env)]
                image, mission = ts.observation.image, ts.observation.mission
                logits, value, value0 = policy(params, image, mission, hint if use_hints else None)
                k_act, _ = jax.random.split(k)
                action = jax.random.categorical(k_act, logits)
                log_prob = jax.nn.log_softmax(logits)[jnp.arange(n_env), action]
                nxt = jax.vmap(env.step)(ts, action)
                valid = ~ts.is_done()
                row = Rollout(image, mission, hint, slot, action, log_prob, value, value0,
                              nxt.reward, nxt.is_done(), nxt.is_termination(), valid)  # fmt: skip
                # after an auto-reset the new episode acts on the next hint
                return (nxt, jnp.minimum(slot + ~valid, 2)), (row, nxt.t)

            slot = jnp.zeros(n_env, jnp.int32)
            (ts, _), out = jax.lax.scan(step, (ts, slot), jax.random.split(k_steps, every))
            return ts, (*out, asked)

        keys = jax.random.split(key, n_steps // every)
        timestep, (rows, lengths, asked) = jax.lax.scan(segment, timestep, keys)
        merge = lambda x: x.reshape(n_steps, *x.shape[2:])  # noqa: E731  [S, K, ...] -> [T, ...]
        return timestep, jax.tree.map(merge, rows), merge(lengths), asked

    def feedback_metrics(rows, last_value0, asked):
        """The hints' scores and use, and what they say about the teacher."""
        score, used = hints.hint_scores(rows, last_value0, config.gamma, every)
        n_used = jnp.maximum(used.sum(), 1)
        correct = jnp.all(asked.hint == asked.oracle, -1)
        valid = rows.valid.sum()
        metrics = dict(
            hint_score=jnp.where(used, score, 0.0).sum() / n_used,
            hint_accuracy=(correct & used).sum() / n_used,
            hinted=((rows.slot < 2) & rows.valid).sum() / jnp.maximum(valid, 1),
        )
        return score, used, metrics

    def update(state: RunnerState):
        key, k_roll, k_perm, k_teacher = jax.random.split(state.key, 4)
        # the frozen teacher is the reference itself: one copy for all seeds
        teacher_params = state.teacher.params if mode == "bidirectional" else reference
        timestep, rows, lengths, asked = rollout(
            state.params, teacher_params, state.timestep, k_roll
        )
        obs = timestep.observation
        _, last_value, last_value0 = policy(state.params, obs.image, obs.mission)
        adv = gae(rows, last_value, config.gamma, config.gae_lambda)
        loss = functools.partial(ppo_loss, policy, config, use_hints=use_hints)
        params, opt_state, info = ppo_epochs(
            loss, tx, config.update_epochs, config.num_minibatches,
            state.params, state.opt_state, rows, adv, k_perm, config.check_finite,
        )  # fmt: skip
        bad = {}
        if config.check_finite:
            info, bad = nonfinite.ppo_checks(info, params)
        metrics = dict(
            frames=(state.update + 1) * n_steps * n_env,
            **episode_metrics(rows, lengths),
            **info,
        )
        learner = state.teacher
        if use_hints:
            score, used, hint_info = feedback_metrics(rows, last_value0, asked)
            metrics.update(hint_info)
        if mode == "bidirectional":
            flat = lambda x: x.reshape(-1, *x.shape[2:])  # noqa: E731  [S, 2N, ...] -> [B, ...]
            batch = HintBatch(
                *(flat(x) for x in (asked.prompt, asked.prompt_mask, asked.tokens, asked.mask)),
                score.reshape(-1),
                used.reshape(-1),
            )
            batch = subsample(batch, config.teacher_batch, k_teacher)
            grads, t_info = jax.grad(teacher_loss, has_aux=True)(
                learner.params, t_graphdef, reference, batch,
                config.beta, config.weight_clip, config.kl_coef,
            )  # fmt: skip
            updates, t_opt = t_tx.update(grads, learner.opt_state, learner.params)
            learner = TeacherState(optax.apply_updates(learner.params, updates), t_opt)
            metrics.update(t_info)
            if config.check_finite:
                bad.update(
                    teacher_loss=nonfinite.any_nonfinite(t_info),
                    teacher_gradients=nonfinite.any_nonfinite(grads),
                    teacher_parameters=nonfinite.any_nonfinite(learner.params),
                )
        if bad:
            metrics["nonfinite"] = nonfinite.flags(bad)
        new = RunnerState(params, opt_state, timestep, key, state.update + 1, learner)
        return new, metrics

    def train(key, num_updates: int = config.num_updates):
        return jax.lax.scan(lambda s, _: update(s), init(key), None, length=num_updates)

    return Trainer(init, update, train, policy, env, config, teacher, bridge)
