"""The hint channels (`feedback/channels.py`): the action prior's schedule, and that it teaches
the student to act as the executor carries out its hints, over several seeds; the subgoal bonus
paid once where a step carries out its hint, and never seen by the hints' scores."""

import jax
import numpy as np

from jaxbidir import config as configs
from jaxbidir.feedback import make_train
from jaxbidir.feedback.channels import make_channel

SEEDS = 3


def test_the_prior_decays_to_its_floor_then_stops():
    schedule = ["feedback.prior_decay=0.5", "feedback.prior_off=0.75"]
    config = configs.load(None, ["feedback.channel=action_prior", "run.total_frames=409600",
                                 *schedule])  # fmt: skip
    assert config.num_updates == 100
    coef = make_channel(config).coef
    np.testing.assert_allclose([coef(u) for u in (0, 25, 50, 60, 74, 75, 99)],
                               [10.0, 5.05, 0.1, 0.1, 0.1, 0.0, 0.0], rtol=1e-5)  # fmt: skip
    assert float(make_channel(configs.load()).coef(0)) == 0.0  # the input channel has none


def test_the_action_prior_teaches_the_student_the_executors_actions():
    """The cross-entropy to the executor's actions (its `prior_loss`) falls well below that of
    the first update on every seed with the prior; with text alone (the `input` channel) the
    student acts on its own, and no prior is measured."""

    def trainer(channel):
        return make_train(configs.load("paper_40", [
            "mode=oracle", f"feedback.channel={channel}", "student.num_steps=32",
            "feedback.hint_every=16", "run.total_frames=12288"]))  # fmt: skip

    keys = jax.random.split(jax.random.PRNGKey(0), SEEDS)
    text_alone = trainer("input")
    assert "prior_loss" not in jax.eval_shape(jax.vmap(text_alone.train), keys)[1]
    _, metrics = jax.jit(jax.vmap(trainer("action_prior").train))(keys)
    first, last = np.asarray(metrics["prior_loss"][:, 0]), np.asarray(metrics["prior_loss"][:, -4:])
    # measured (Python 3.13, 2 cores): first update 1.66-1.74 (ln 7 = 1.95 at random), the last
    # 4 0.53-0.68 (12 updates): a margin of 0.6 x the first on each seed
    assert (last.mean(1) < 0.6 * first).all(), (first, last.mean(1))


def test_with_prior_act_the_first_rollout_acts_as_the_prior_asks():
    """At a mixture of 1 every step with a prior takes one of its actions, and the recorded
    log-probability is the mixture's (uniform over the actions it asks for)."""
    mixture = ["feedback.prior_act=1.0", "feedback.prior_labels=shortest"]
    short = ["student.num_steps=32", "feedback.hint_every=16"]
    config = configs.load("paper_40", ["mode=oracle", "feedback.channel=action_prior", *mixture,
                                       *short])  # fmt: skip
    trainer = make_train(config)
    rows = jax.jit(trainer.collect)(trainer.init(jax.random.PRNGKey(0))).rows
    known = np.asarray(rows.prior_known & rows.valid)
    asks, action = np.asarray(rows.prior_actions), np.asarray(rows.action)
    assert known.mean() > 0.3
    assert asks[known, action[known]].all()
    np.testing.assert_allclose(np.exp(np.asarray(rows.log_prob)[known]),
                               1 / asks[known].sum(-1), rtol=1e-5)  # fmt: skip


def test_the_subgoal_bonus_pays_where_the_hint_is_carried_out_and_the_scores_never_see_it():
    """On the paper's level the oracle's hint is the mission ("go to the red ball"): the bonus is
    paid on exactly the steps that succeed. The first update's hint scores are the same as the
    input channel's (the level's reward, the critic before the update), while what the student
    learns differs (its returns gained the bonus)."""
    updates = {}
    for channel in ("input", "subgoal_bonus"):
        config = configs.load("paper_40", ["mode=oracle", f"feedback.channel={channel}",
                                           "feedback.bonus=1.0", "student.num_steps=32",
                                           "feedback.hint_every=16"])  # fmt: skip
        trainer = make_train(config)
        state = trainer.init(jax.random.PRNGKey(0))
        updates[channel] = jax.jit(trainer.update)(state)
    paid = jax.jit(trainer.collect)(state).rows  # the rollout of that update
    (plain, plain_info), (bonused, info) = updates["input"], updates["subgoal_bonus"]
    won = np.asarray(paid.terminated & paid.valid)
    assert won.sum() >= 2, "too few successes to compare"
    np.testing.assert_array_equal(np.asarray(paid.bonus), np.where(won, 1.0, 0.0))
    for name in ("hint_score", "hint_score_std", "hint_accuracy"):
        np.testing.assert_array_equal(info[name], plain_info[name], err_msg=name)
    np.testing.assert_allclose(info["bonus"], won.sum() / np.asarray(paid.valid).sum(), rtol=1e-6)
    changed = jax.tree.map(lambda a, b: bool((a != b).any()), plain.params, bonused.params)
    assert any(jax.tree.leaves(changed)), "the bonus changed nothing the student learnt"
