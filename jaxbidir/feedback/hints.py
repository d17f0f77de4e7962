"""When hints are asked for, which one is in force, and what the student thought they were worth.

Schedule (static, the same for every environment): the rollout is cut into segments of
`feedback.hint_every` steps. At the start of each segment every environment asks for two hints
in one batch (`ask_for_segment`): one for the state it is in, and one for the first state of
its next episode, which is already known (`Environment.next_episode`: the auto-reset draws it
from the state's key). An environment acts on the first hint until its episode ends, then on
the second ("asked on reset"); after a second reset within the same segment it acts on the
mission alone until the next segment (`slot` 2, counted by the `hinted` metric). Where the hints
come from is the mode's hint source (`sources.py`).

Score (the student's evaluation of a hint it acted on from step t for K steps, until the segment
or its episode ended):

    A_hint = sum_k gamma^k r_{t+k} + gamma^K V0(s_{t+K}) - V0(s_t)

with `V0` the student's second critic, which never sees the hint but learns the returns of the
hinted rollouts it is trained on. So A_hint is what acting on this hint earned beyond what the
student expects from the state under its usual hints (the mode's average hint), not beyond "no
hint". It is the telescoped sum of the one-step errors `r + gamma V0' - V0` over the hint's steps
(0 bootstrap after a success), computed for every row by one backward scan that restarts at
segment and episode boundaries.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxbidir import envs
from jaxbidir.envs.language import wrong_word
from jaxbidir.envs.oracle import other_object
from jaxbidir.student import Rollout
from jaxbidir.teacher import Bridge, generate


class Asked(NamedTuple):
    """One segment's questions and answers, leading axis 2N: the N current states, then the N
    next episodes' first states."""

    hint: jax.Array  # i32[2N,K] Baby Language, what the student is given
    oracle: jax.Array  # i32[2N,K] the oracle's subgoal for the same state
    prompt: jax.Array  # i32[2N,P] the teacher's prompt (absent without a teacher)
    prompt_mask: jax.Array  # bool[2N,P]
    tokens: jax.Array  # i32[2N,W] the teacher's own tokens of the hint
    mask: jax.Array  # bool[2N,W]


NO_HINT_SLOT = 2  # the slot of an environment whose two hints are spent: it acts on the mission


def ask_for_segment(ask, mode_state, env: envs.Environment, states: envs.State, key) -> Asked:
    """The hints of one segment, asked in one batch [2N]: for the N states and for the first
    states of their next episodes."""
    both = jax.tree.map(
        lambda a, b: jnp.concatenate([a, b]), states, jax.vmap(env.next_episode)(states)
    )
    return ask(mode_state, both, key)


def options(asked: Asked) -> jax.Array:
    """i32[3, N, K] what each environment may act on: its hint, the one for its next episode,
    no hint (all pad)."""
    current, next_episode = jnp.split(asked.hint, 2)
    return jnp.stack([current, next_episode, jnp.zeros_like(current)])


def in_force(options: jax.Array, slot: jax.Array) -> jax.Array:
    """i32[N, K] the hint each environment acts on, from its slot i32[N]."""
    return options[slot, jnp.arange(slot.shape[0])]


def next_slot(slot: jax.Array, valid: jax.Array) -> jax.Array:
    """After a step: an auto-reset step (not `valid`) moves on to the next episode's hint."""
    return jnp.minimum(slot + ~valid, NO_HINT_SLOT)


def ask_oracle(states: envs.State, key=None, corruption: float = 0.0, present=False) -> Asked:
    """The oracle's subgoals as the hints; with `corruption` > 0, that fraction of them (at
    random) made wrong: in one word of the same kind, a colour or an object type
    (`envs.language.wrong_word`), or with `present` naming another object that is there
    (`envs.oracle.other_object`); a hint that names no object stays right."""
    oracle = jax.vmap(envs.subgoal)(states)
    hint = oracle
    if corruption:
        k_which, k_word = jax.random.split(key)
        keys = jax.random.split(k_word, oracle.shape[0])
        if present:
            wrong = jax.vmap(other_object)(states, oracle, keys)
        else:
            wrong = jax.vmap(wrong_word)(oracle, keys)
        replace = jax.random.uniform(k_which, oracle.shape[:1]) < corruption
        hint = jnp.where(replace[:, None], wrong, oracle)
    return Asked(hint, oracle, None, None, None, None)


def make_ask_teacher(bridge: Bridge, description_length: int, temperature: float):
    """-> ask(teacher, states, key) -> Asked: prompts from the states (mission and the
    description of the view), one batched generation by `teacher`, the hints back in Baby
    Language."""
    width = bridge.hint_length()

    def ask(teacher, states: envs.State, key) -> Asked:
        description = jax.vmap(envs.describe, (0, None))(states, description_length)
        prompt, prompt_mask = jax.vmap(bridge.prompt)(states.mission, description)
        sample = generate(
            teacher, prompt, prompt_mask, key, max_new_tokens=width,
            eos_id=bridge.eos_id, pad_id=bridge.pad_id, temperature=temperature,
        )  # fmt: skip
        hint = jax.vmap(bridge.hint)(sample.tokens, sample.mask)
        oracle = jax.vmap(envs.subgoal)(states)
        return Asked(hint, oracle, prompt, prompt_mask, sample.tokens, sample.mask)

    return ask


def score_rows(rows: Rollout, last_value0, gamma: float, hint_every: int):
    """f32[T,N]: at every row, the discounted sum of the one-step errors of `V0` from that row
    to the end of its segment or episode (the score of a hint that starts there)."""
    next_value0 = jnp.concatenate([rows.value0[1:], last_value0[None]])
    delta = rows.reward + gamma * next_value0 * (1 - rows.terminated) - rows.value0
    steps = rows.reward.shape[0]
    segment_ends = (jnp.arange(steps) + 1) % hint_every == 0
    cut = rows.done | segment_ends[:, None]

    def back(acc, x):
        delta, cut = x
        acc = delta + gamma * jnp.where(cut, 0.0, acc)
        return acc, acc

    _, acc = jax.lax.scan(back, jnp.zeros_like(last_value0), (delta, cut), reverse=True)
    return acc


def hint_metrics(rows: Rollout, asked: Asked, score, used) -> dict:
    """The hints' mean score, its spread (what the reward weights' `beta` is measured against)
    and their accuracy (equal to the oracle's subgoal) over those acted on, how well the scores
    tell right hints from wrong (`score_separation`), and the fraction of valid steps acted on
    with a hint."""
    n_used = jnp.maximum(used.sum(), 1)
    correct = jnp.all(asked.hint == asked.oracle, -1)
    mean = jnp.where(used, score, 0.0).sum() / n_used
    return dict(
        hint_score=mean,
        hint_score_std=jnp.sqrt(jnp.where(used, (score - mean) ** 2, 0.0).sum() / n_used),
        hint_accuracy=(correct & used).sum() / n_used,
        **score_separation(score, used, correct),
        hinted=((rows.slot < NO_HINT_SLOT) & rows.valid).sum() / jnp.maximum(rows.valid.sum(), 1),
    )


def score_separation(score, used, correct) -> dict:
    """What the student's scores say about the hints, over those acted on (`used`):
    `hint_score_gap`, the mean score of the correct hints minus that of the wrong ones, and
    `hint_score_auc`, the ROC AUC of the score as a detector of a correct hint (the chance that
    a correct hint outscores a wrong one, ties counting half; 0.5: the scores say nothing).
    Both NaN when no correct or no wrong hint was acted on. Arrays of any one shape; the AUC by
    sorting (Mann-Whitney), O(n log n), so it stays cheap for thousands of hints."""
    score, right, wrong = score.ravel(), (used & correct).ravel(), (used & ~correct).ravel()
    n_right, n_wrong = right.sum(), wrong.sum()
    mean_of = lambda where, n: jnp.where(where, score, 0.0).sum() / jnp.maximum(n, 1)  # noqa: E731
    wrong_sorted = jnp.sort(jnp.where(wrong, score, jnp.inf))  # the wrong ones first
    below = jnp.searchsorted(wrong_sorted, score, side="left")
    tied = jnp.searchsorted(wrong_sorted, score, side="right") - below
    wins = jnp.where(right, below + 0.5 * tied, 0.0).sum()
    either = (n_right > 0) & (n_wrong > 0)
    gap = mean_of(right, n_right) - mean_of(wrong, n_wrong)
    auc = wins / jnp.maximum(n_right * n_wrong, 1)
    return dict(hint_score_gap=jnp.where(either, gap, jnp.nan),
                hint_score_auc=jnp.where(either, auc, jnp.nan))  # fmt: skip


def hint_scores(rows: Rollout, last_value0, gamma: float, hint_every: int):
    """Scores and use of the hints of every segment -> (score f32[S,2N], used bool[S,2N]) in
    `Asked`'s order: slot 0 then slot 1 of each environment."""
    acc = score_rows(rows, last_value0, gamma, hint_every)
    steps, n = rows.valid.shape
    segments = steps // hint_every
    first = jnp.arange(steps) % hint_every == 0
    after_reset = jnp.concatenate([jnp.zeros((1, n), bool), ~rows.valid[:-1]])
    starts = rows.valid & (first[:, None] | after_reset)  # a hint's first acted-on step

    def per_slot(slot):
        here = (starts & (rows.slot == slot)).reshape(segments, hint_every, n)
        score = jnp.where(here, acc.reshape(segments, hint_every, n), 0.0).sum(1)
        return score, here.any(1)

    (s0, u0), (s1, u1) = per_slot(0), per_slot(1)
    return jnp.concatenate([s0, s1], 1), jnp.concatenate([u0, u1], 1)
