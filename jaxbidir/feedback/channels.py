"""How a hint reaches the student: one small `Channel` per `feedback.channel`, beside the hint
sources (`sources.py`), so that the training step keeps one shape whatever the channel.

    channel        the student ...                        its PPO loss adds
    input          reads the hint as text (beside its     -
                   mission)
    action_prior   reads it, and is pulled toward the     -coef_t x log pi(executor's actions):
                   action that carries it out             the cross-entropy to its one action
                                                          (`prior_labels` first), or to any
                                                          that starts a shortest path
    subgoal_bonus  reads it, and earns `bonus` once when  - (its rewards gain the bonus; its
                   a step carries it out                  hint-agnostic critic learns the
                                                          level's returns without it)

`action_prior` is LLM4Teach's (arXiv 2311.13373, `algos/ppo.py`) with our hint executor as its
scripted controller (`envs.executor`: a shortest path toward what the hint names). As in LLM4Teach
the student acts on its own policy (`prior_act` 0), and the prior only shapes its loss, so that
what it learns to do with a hint is what its scores measure; with `prior_act` > 0, a step takes
one of the prior's actions instead at that chance, falling to 0 over `prior_decay`, so that early
behaviour follows the hint at once (the rollout's `log_prob` is then the mixture's, and PPO's
ratio corrects for it). coef_t falls linearly from `prior_coef` to
`prior_floor` over the first `prior_decay` of the run and is 0 from `prior_off` on (LLM4Teach:
10, down by 0.005 per update to 0.1, off after 3000 updates; here as fractions of the run). With
`prior_in_view` (the default) the executor acts only toward an object the student sees: a
shortest path from the full state toward an object out of sight cannot be read from a 7x7 view,
and a student without memory fitted to it plateaus (docs/channels.md).
`subgoal_bonus` is ELLA's and ELLM's (arXiv 2103.05825, 2302.06692): `executor.completed` checks
each step against the hint in force as minigrid's verifiers read its words, and the student's
reward gains `feedback.bonus` the first time it completes that hint (a new hint can earn it
again). It is for levels of several steps (PutNextLocal's "pick up" before "put"); where the hint
restates the mission, it only duplicates the level's reward.

The teacher's score of a hint never sees the prior or the bonus: it is the level's own reward
(`hints.score_rows`), valued by a critic that learns the level's returns alone.
"""

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxbidir.config import HINT_CHANNELS, Config
from jaxbidir.envs import executor


class Channel(NamedTuple):
    """label(states [N], hint i32[N, K]) -> (actions bool[N, A], known bool[N]): the actions
    the student's loss is pulled toward at each step (toward their total probability); None:
    the channel has no prior.
    coef(updates_done i32) -> f32: the prior's weight in the loss of that update.
    mix(updates_done i32) -> f32: the chance that a step of that update's rollout takes one of
    the prior's actions instead of the student's.
    bonus(before [N], after [N], action i32[N], hint i32[N, K]) -> f32[N]: what a step that
    carries out its hint earns beside the level's reward; None: no bonus."""

    label: Callable | None
    coef: Callable
    mix: Callable = None
    bonus: Callable | None = None


def _none(updates_done):
    return jnp.float32(0.0)


def input_channel(config: Config) -> Channel:
    return Channel(None, _none, _none)


def action_prior(config: Config) -> Channel:
    fb = config.feedback
    start, floor = fb.prior_coef, fb.prior_floor

    def coef(updates_done):
        done = updates_done / config.num_updates  # the fraction of the run before this update
        decayed = start + (floor - start) * jnp.minimum(done / fb.prior_decay, 1.0)
        return jnp.where(done >= fb.prior_off, 0.0, decayed).astype(jnp.float32)

    def label(states, hint):
        good, known = jax.vmap(functools.partial(executor.options, seen_only=fb.prior_in_view))(
            states, hint
        )
        if fb.prior_labels == "first":  # the executor's one action
            good = jax.nn.one_hot(jnp.argmax(good, -1), good.shape[-1], dtype=bool) & good
        return good, known

    def mix(updates_done):  # from prior_act down to 0 over the prior's decay
        done = updates_done / config.num_updates
        return (fb.prior_act * jnp.maximum(1 - done / fb.prior_decay, 0.0)).astype(jnp.float32)

    return Channel(label, coef, mix)


def subgoal_bonus(config: Config) -> Channel:
    size = config.feedback.bonus

    def bonus(before, after, action, hint):
        return size * jax.vmap(executor.completed)(before, after, action, hint)

    return Channel(None, _none, _none, bonus)


CHANNELS = {"input": input_channel, "action_prior": action_prior, "subgoal_bonus": subgoal_bonus}
assert set(CHANNELS) == set(HINT_CHANNELS), "every hint channel needs its piece here"


def make_channel(config: Config) -> Channel:
    return CHANNELS[config.feedback.channel](config)
