"""A NaN or Inf in any seed's losses, gradients or parameters stops the run with a message naming
the update, the seed and the quantity, and leaves the last good checkpoint as the latest."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tiny import TINY

from jaxbidir import checkpoints, config, nonfinite, training

TWO_SEEDS = {**TINY, "run.num_seeds": 2}


def test_the_bitmask_names_each_quantity():
    mask = nonfinite.flags({"student_loss": jnp.bool_(True), "teacher_parameters": True})
    assert nonfinite.names(int(mask)) == ["student_loss", "teacher_parameters"]
    assert bool(nonfinite.any_nonfinite({"a": jnp.ones(3), "b": jnp.array([1.0, jnp.inf])}))
    assert not bool(nonfinite.any_nonfinite({"a": jnp.ones(3), "n": jnp.arange(3)}))
    masks = np.zeros((3, 4), np.int32)
    nonfinite.check(masks, 10)  # all finite: nothing
    masks[2, 1] = masks[0, 3] = int(mask)
    with pytest.raises(nonfinite.NonFiniteError, match=r"at update 12 in seed\(s\) 2:"):
        nonfinite.check(masks, 10)


def test_an_absurd_learning_rate_stops_the_run_before_a_checkpoint(tmp_path):
    cfg = config.load(None, {**TWO_SEEDS, "student.lr": 1e38})
    with pytest.raises(nonfinite.NonFiniteError, match=r"non-finite .*student_.* at update \d"):
        training.run(cfg, tmp_path, progress=False)
    assert checkpoints.checkpoint_manager(tmp_path).latest_step() is None


def test_a_diverging_teacher_is_named():
    """A teacher whose parameters hold a NaN, in the chunk `training.run` compiles for the
    bidirectional config of tests/test_feedback.py (the compilation cache serves both)."""
    cfg = config.load(None, {**TINY, "mode": "bidirectional"})
    trainer = training.make_train(cfg)
    state, sharding = training.init_seeds(trainer, cfg)
    params = state.mode_state.params
    poisoned = jax.tree.map(lambda x: x.at[..., 0].set(jnp.nan), params)
    state = state._replace(mode_state=state.mode_state._replace(params=poisoned))
    chunk = training.make_chunk(trainer, cfg.run.log_every, sharding, cfg.run.seed_batch)
    _, metrics = chunk(state, 0)
    says = r"non-finite .*teacher_gradients, teacher_loss, teacher_parameters at update 1 in seed"
    with pytest.raises(nonfinite.NonFiniteError, match=says):
        nonfinite.check(metrics["nonfinite"], 0)


def test_the_last_good_checkpoint_stays_the_latest(tmp_path, monkeypatch):
    """Parameters poisoned before the 6th update: the run stops naming update 6 and both
    seeds; checkpoint 4, finite, is still the latest."""
    make_train = training.make_train

    def poisoned(cfg):
        trainer = make_train(cfg)

        def update(state, index=None):
            poison = jnp.where(state.updates_done == 5, jnp.nan, 1.0)
            poisoned = state._replace(params=jax.tree.map(poison.__mul__, state.params))
            return trainer.update(poisoned, index)

        return trainer._replace(update=update)

    monkeypatch.setattr(training, "make_train", poisoned)
    cfg = config.load(None, TWO_SEEDS)
    says = r"non-finite student_gradients, student_loss, student_parameters at update 6 in seed"
    with pytest.raises(nonfinite.NonFiniteError, match=says + r"\(s\) 0, 1"):
        training.run(cfg, tmp_path, progress=False)
    manager = checkpoints.checkpoint_manager(tmp_path)
    assert manager.latest_step() == 4
    state, _ = checkpoints.restore(manager, training.init_seeds(make_train(cfg), cfg)[0])
    assert not bool(nonfinite.any_nonfinite(state.params))
