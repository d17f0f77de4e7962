"""The fused training step of every feedback mode, PureJaxRL-style: `make_train(config)` gives
pure functions whose whole run is a `lax.scan`, so `jax.vmap(train)(keys)` trains many seeds at
once. The mode is only its hint source (`sources.py`); the loop is the paper's:

One `update(state)`, jitted as a whole:
  1. rollout of `num_steps` in `num_envs` environments, segment by segment: hints asked for in
     one batch at each segment start (`hints.py`), the student acting on mission + hint (and,
     recurrent, on what its core carries from the episode's earlier steps);
  2. the student's PPO update (GAE, epochs of minibatches; `student/ppo.py`), the last step
     bootstrapped with the value under the hint in force, the rewards with the hint channel's
     bonus where it pays one (`channels.py`);
  3. the student's scores of the hints it acted on (its hint-agnostic critic, `hints.py`);
  4. the hint source learns from them (a learning teacher's KL-regularized reward-weighted
     update, `teacher_update.py`; nothing for the other sources).

`play` is the student with its hints in `runner.play_episodes`, the player of every
evaluation; `evaluate(state)` plays the fixed episodes of every mode with it.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from jaxbidir import envs, nonfinite
from jaxbidir.config import Config
from jaxbidir.runner import (
    RunnerState,
    Trainer,
    choose,
    make_env,
    make_evaluate,
    play_episodes,
    scan_updates,
    update_metrics,
    zero_count,
)
from jaxbidir.student.ppo import (
    Rollout,
    episode_metrics,
    gae,
    make_model,
    make_optimizer,
    masked_mean,
    ppo_epochs,
    ppo_loss,
)

from . import hints
from .channels import make_channel
from .sources import make_source


class Experience(NamedTuple):
    """One rollout, before any update (`Trainer.collect`)."""

    timestep: envs.Timestep  # after the last step, batched over num_envs
    rows: Rollout  # [T, N]
    lengths: jax.Array  # i32[T, N] the episode's step count after each row
    asked: hints.Asked | None  # [S, 2N] each segment's hints; None without hints
    last_value: jax.Array  # f32[N] the bootstrap of the last step (under the hint in force)
    last_value0: jax.Array  # f32[N] ... of the hint-agnostic critic
    carry: jax.Array | None  # f32[N, memory] a recurrent student's core after the rollout


def make_train(config: Config) -> Trainer:
    env = make_env(config)
    source = make_source(config, env)
    hinted = source.ask is not None
    channel = make_channel(config)
    prior = channel.label if hinted else None  # without hints a channel has nothing to carry
    bonus = channel.bonus if hinted else None
    mixes = prior is not None and config.feedback.prior_act > 0
    graphdef = nnx.split(nnx.eval_shape(lambda: make_model(config, env, jax.random.key(0))))[0]
    n_env, n_steps, every, teacher_every = (
        config.env.num_envs,
        config.student.num_steps,
        config.feedback.hint_every,
        config.feedback.teacher_every,
    )
    tx = make_optimizer(config)
    no_hint = jnp.zeros((n_env, envs.HINT_LENGTH), jnp.int32)
    memory = config.student.memory

    def policy(params, image, mission, hint=None, carry=None, first=None):
        """-> (logits f32[B, A], value f32[B], value0 f32[B], carry); hint None: the student's
        architecture without a hint input (student_only). Without `student.sees_mission` the
        mission is all pad: the hint is then the only word of the goal the student gets. A
        recurrent student (`student.memory`) takes its core's `carry` and where episodes start
        (`first`), on one step [B] or a sequence [T, B] (`ActorCritic`); else carry is None."""
        if not config.student.sees_mission:
            mission = jnp.zeros_like(mission)
        return nnx.merge(graphdef, params)(image, mission, hint, carry, first)

    def forget(n):  # a recurrent student's core before any step: f32[n, memory]; else None
        return jnp.zeros((n, memory)) if memory else None

    def init(key) -> RunnerState:
        k_model, k_env, key = jax.random.split(key, 3)
        params = nnx.state(make_model(config, env, k_model), nnx.Param)
        timestep = jax.vmap(env.reset)(jax.random.split(k_env, n_env))
        return RunnerState(params=params, opt_state=tx.init(params), timestep=timestep, key=key,
                           updates_done=zero_count(), mode_state=source.init(),
                           carry=forget(n_env))  # fmt: skip

    def rollout(params, mode_state, timestep, carry, key, mix=0.0):
        """-> (last timestep, rows [T, N], episode lengths i32[T, N], hints.Asked [S, 2N] (None
        without hints), the hint in force after the last step i32[N, K] (None without), the
        core's carry after the last step (None: feed-forward)). `mix`: the chance that a step
        takes one of the prior's actions instead of the student's (`feedback.prior_act`);
        `log_prob` is then the mixture's."""

        def segment(outer, key):
            ts, carry = outer
            k_ask, k_steps = jax.random.split(key)
            asked = options = None
            if hinted:
                asked = hints.ask_for_segment(source.ask, mode_state, env, ts.state, k_ask)
                options = hints.options(asked)

            def step(inner, k):
                ts, slot, carry, given = inner  # given: the hint in force earned its bonus
                hint = hints.in_force(options, slot) if hinted else None
                image, mission, first = ts.observation.image, ts.observation.mission, ts.t == 0
                logits, value, value0, carry = policy(params, image, mission, hint, carry, first)
                if not mixes:
                    action = jax.random.categorical(k, logits)
                    log_prob = jax.nn.log_softmax(logits)[jnp.arange(n_env), action]
                else:  # some steps act as the prior asks (its actions, uniformly)
                    k, k_prior, k_mix = jax.random.split(k, 3)
                    action = jax.random.categorical(k, logits)
                    asks, known = prior(ts.state, hint)
                    ask = asks / jnp.maximum(asks.sum(-1, keepdims=True), 1)
                    take = known & (jax.random.uniform(k_mix, (n_env,)) < mix)
                    action = jnp.where(take, jax.random.categorical(k_prior, jnp.log(ask)), action)
                    probs = jax.nn.softmax(logits)
                    probs = jnp.where(known[:, None], mix * ask + (1 - mix) * probs, probs)
                    log_prob = jnp.log(probs[jnp.arange(n_env), action])
                nxt = jax.vmap(env.step)(ts, action)
                valid = ~ts.is_done()
                earned = jnp.zeros(n_env)
                if bonus is not None:  # once per hint; an auto-reset step brings the next hint
                    earned = jnp.where(valid & ~given, bonus(ts.state, nxt.state, action, hint), 0)
                    given = (given | (earned > 0)) & valid
                row = Rollout(
                    image=image, mission=mission, hint=no_hint if hint is None else hint,
                    slot=slot, action=action, log_prob=log_prob, value=value, value0=value0,
                    reward=nxt.reward, bonus=earned, done=nxt.is_done(),
                    terminated=nxt.is_termination(), valid=valid, first=first,
                    prior_actions=jnp.zeros((n_env, env.num_actions), bool),
                    prior_known=jnp.zeros(n_env, bool),
                )  # fmt: skip
                world = None if prior is None else ts.state  # for the prior, after the rollout
                return (nxt, hints.next_slot(slot, valid), carry, given), (row, nxt.t, world)

            slot, given = jnp.zeros(n_env, jnp.int32), jnp.zeros(n_env, bool)
            (ts, slot, carry, _), out = jax.lax.scan(
                step, (ts, slot, carry, given), jax.random.split(k_steps, every)
            )
            last_hint = hints.in_force(options, slot) if hinted else None
            return (ts, carry), (*out, asked, last_hint)

        keys = jax.random.split(key, n_steps // every)
        (timestep, carry), (rows, lengths, worlds, asked, last_hint) = jax.lax.scan(
            segment, (timestep, carry), keys
        )
        merge = lambda x: x.reshape(n_steps, *x.shape[2:])  # noqa: E731  [S, K, ...] -> [T, ...]
        rows = jax.tree.map(merge, rows)
        if prior is not None:  # the executor's actions for the hints in force, all rows at once
            flat = lambda x: x.reshape(n_steps * n_env, *x.shape[3:])  # noqa: E731  [S, K, N]
            hint = rows.hint.reshape(n_steps * n_env, -1)
            actions, known = prior(jax.tree.map(flat, worlds), hint)
            unflat = lambda x: x.reshape(n_steps, n_env, *x.shape[1:])  # noqa: E731
            rows = rows._replace(prior_actions=unflat(actions), prior_known=unflat(known))
        last_hint = None if last_hint is None else last_hint[-1]
        return timestep, rows, merge(lengths), asked, last_hint, carry

    def collect(state: RunnerState, key=None) -> Experience:
        """The rollout from `state` (with `key`; by default the one `update` uses) and the
        values that bootstrap its last step."""
        key = jax.random.split(state.key, 4)[1] if key is None else key
        mix = channel.mix(state.updates_done) if mixes else 0.0
        timestep, rows, lengths, asked, last_hint, carry = rollout(
            state.params, state.mode_state, state.timestep, state.carry, key, mix
        )
        # the step after the rollout is valued as the student acts there: under its hint
        obs = timestep.observation
        _, last_value, last_value0, _ = policy(
            state.params, obs.image, obs.mission, last_hint, carry, timestep.t == 0
        )
        return Experience(timestep, rows, lengths, asked, last_value, last_value0, carry)

    def update(state: RunnerState, index=None):
        key, k_roll, k_perm, k_learn = jax.random.split(state.key, 4)
        timestep, rows, lengths, asked, last_value, last_value0, carry = collect(state, k_roll)
        gamma, lam = config.student.gamma, config.student.gae_lambda
        # both critics learn the returns of the rewards the student gets ...
        if bonus is None:
            adv = gae(rows, last_value, gamma, lam)
            targets = (adv + rows.value,) * 2
        else:  # ... with the bonus; the hint-agnostic one, whose values score the hints, without
            adv = gae(rows._replace(reward=rows.reward + rows.bonus), last_value, gamma, lam)
            adv0 = gae(rows._replace(value=rows.value0), last_value0, gamma, lam)
            targets = (adv + rows.value, adv0 + rows.value0)
        prior_coef = None if prior is None else channel.coef(state.updates_done)
        loss = functools.partial(ppo_loss, policy, config, use_hints=hinted, prior_coef=prior_coef)
        params, opt_state, info = ppo_epochs(
            loss, tx, config.student.update_epochs, config.student.num_minibatches,
            state.params, state.opt_state, rows, adv, k_perm, config.run.check_finite, state.carry,
            targets,
        )  # fmt: skip
        if prior is not None:
            info["prior_coef"] = prior_coef
        if bonus is not None:  # the bonus earned per step
            info["bonus"] = masked_mean(rows.bonus, rows.valid)
        bad = {}
        if config.run.check_finite:
            info, bad = nonfinite.ppo_checks(info, params)
        mode_state = state.mode_state
        if hinted:
            score, used = hints.hint_scores(rows, last_value0, config.student.gamma, every)
            info.update(hints.hint_metrics(rows, asked, score, used))
            learn = functools.partial(source.learn, asked=asked, score=score, used=used,
                                      key=k_learn)  # fmt: skip
            index = state.updates_done if index is None else index
            mode_state, learnt, checks = every_few(learn, index, teacher_every, mode_state)
            info.update(learnt)
            bad.update(checks)
        new = RunnerState(params=params, opt_state=opt_state, timestep=timestep, key=key,
                          updates_done=state.updates_done + 1, mode_state=mode_state,
                          carry=carry)  # fmt: skip
        return new, update_metrics(config, state, episode_metrics(rows, lengths), info, bad)

    def play(state: RunnerState, env, first, steps: int, key, greedy: bool, hints=True):
        """`Trainer.play`: the student acting on mission and hint; hints asked as in training,
        at the start and every `hint_every` steps (`hints=False`: the student alone)."""

        def act(carry, ts, hint, k):
            obs = ts.observation
            logits, _, _, carry = policy(state.params, obs.image, obs.mission, hint, carry,
                                         ts.t == 0)  # fmt: skip
            return choose(logits, k, greedy), carry

        def ask(ts, k):
            asked = source.ask(state.mode_state, ts.state, k)
            return asked.hint, jnp.all(asked.hint == asked.oracle, -1).mean()

        ask = ask if hinted and hints else None
        return play_episodes(env, act, first, steps, key, every, ask, forget(first.t.shape[0]))

    evaluate = make_evaluate(config, env, play, hinted)
    train = scan_updates(init, update, config.num_updates)
    return Trainer(init=init, update=update, train=train, evaluate=evaluate, play=play,
                   policy=policy, env=env, config=config, lm=source.lm, collect=collect,
                   teacher=source.teacher)  # fmt: skip


def every_few(learn, index, every: int, state):
    """`learn(state)` -> (state, metrics, checks) on updates whose `index` is a multiple of
    `every`; on the others the state as it is, metrics NaN (nothing was learnt) and checks
    False. With an unbatched `index` (one for all seeds) only the branch taken runs."""
    if every == 1:
        return learn(state)

    def skip(state):
        _, metrics, checks = jax.eval_shape(learn, state)
        nan = lambda x: jnp.full(x.shape, jnp.nan, x.dtype)  # noqa: E731
        false = lambda x: jnp.zeros(x.shape, x.dtype)  # noqa: E731
        return state, jax.tree.map(nan, metrics), jax.tree.map(false, checks)

    return jax.lax.cond(index % every == 0, learn, skip, state)
