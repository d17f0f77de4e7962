"""The student's network and the hint sources' knobs for the first hypothesis: what reaches the
critic that scores hints, a student that does not see its mission, and an oracle made wrong at a
controlled rate."""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxbidir import config, envs
from jaxbidir.feedback import hints
from jaxbidir.runner import make_env
from jaxbidir.student.ppo import make_model


def _inputs(env_id="BabyAI-GoToLocal-v0", n=16):
    env = envs.make(env_id)
    ts = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), n))
    oracle = jax.vmap(envs.subgoal)(ts.state)
    return ts.observation.image, ts.observation.mission, oracle, ts.state


def test_value0_never_sees_the_hint_even_when_the_hint_conditions_the_convolutions():
    image, mission, oracle, _ = _inputs()
    other = jnp.roll(oracle, 1, axis=0)  # the hints of other states
    for hint_film in (False, True):
        cfg = config.load(None, {"student.hint_film": hint_film})
        model = make_model(cfg, make_env(cfg), jax.random.PRNGKey(1))
        # FiLM's scale starts at 0: move the weights so the conditioning matters
        graphdef, params = nnx.split(model)
        params = jax.tree.map(lambda x: x + 0.1 * jnp.sin(jnp.arange(x.size)).reshape(x.shape),
                              params)  # fmt: skip
        model = nnx.merge(graphdef, params)
        logits, value, value0 = model(image, mission, oracle)
        logits_b, value_b, value0_b = model(image, mission, other)
        np.testing.assert_array_equal(value0, value0_b)
        assert not np.allclose(value, value_b) and not np.allclose(logits, logits_b)
        np.testing.assert_array_equal(model(image, mission, None)[2], value0)


def test_the_cell_embedding_adds_a_learned_vector_per_cell_of_the_view():
    image, mission, _, _ = _inputs()
    cfg = config.load(None, {"student.cell_embed": True})
    model = make_model(cfg, make_env(cfg), jax.random.PRNGKey(1))
    assert model.cells.embedding[...].shape == (49, cfg.student.embed_dim)
    m = model.text(mission)
    with_cells = model.features(image, m, jnp.zeros_like(m))
    model.cells.embedding[...] = jnp.zeros_like(model.cells.embedding[...])
    assert not np.allclose(with_cells, model.features(image, m, jnp.zeros_like(m)))
    default = config.load(None, {})  # off by default: the students trained before have none
    assert make_model(default, make_env(default), jax.random.PRNGKey(1)).cells is None


def test_the_flattened_view_is_the_map_the_max_pool_reduces():
    image, mission, _, _ = _inputs()
    models = {
        pool: make_model(cfg, make_env(cfg), jax.random.PRNGKey(1))
        for pool in ("max", "flatten")
        for cfg in [config.load(None, {"student.pool": pool})]
    }  # the same key: the same embeddings and convolutions (the heads come after them)
    m = models["max"].text(mission)
    pooled = models["max"].features(image, m, jnp.zeros_like(m))
    flat = models["flatten"].features(image, m, jnp.zeros_like(m))
    assert flat.shape == (image.shape[0], 49 * pooled.shape[-1])
    np.testing.assert_allclose(flat.reshape(image.shape[0], 49, -1).max(1), pooled, rtol=1e-6)
    logits, value, value0 = models["flatten"](image, mission, None)
    assert logits.shape == (image.shape[0], 7) and value.shape == value0.shape == (image.shape[0],)


def test_a_student_that_does_not_see_its_mission():
    from jaxbidir.feedback.train import make_train

    image, mission, oracle, _ = _inputs()
    cfg = config.load(None, {"student.sees_mission": False, "mode": "oracle", "run.eval_every": 0})
    trainer = make_train(cfg)
    params = nnx.state(make_model(cfg, trainer.env, jax.random.PRNGKey(1)), nnx.Param)
    shuffled = jnp.roll(mission, 1, axis=0)
    one = trainer.policy(params, image, mission, oracle)
    other = trainer.policy(params, image, shuffled, oracle)
    for a, b in zip(one, other, strict=True):
        np.testing.assert_array_equal(a, b)
    seeing = make_train(config.replace(cfg, **{"student.sees_mission": True}))
    assert not np.allclose(seeing.policy(params, image, mission, oracle)[1],
                           seeing.policy(params, image, shuffled, oracle)[1])  # fmt: skip


def test_the_oracle_made_wrong_at_a_controlled_rate():
    """Half the hints corrupted: about half differ from the oracle's, each in exactly one
    word (a colour or an object type, swapped for another of its kind)."""
    *_, states = _inputs("BabyAI-GoToLocal-v0", n=512)
    clean = hints.ask_oracle(states)
    np.testing.assert_array_equal(clean.hint, clean.oracle)
    asked = jax.jit(hints.ask_oracle, static_argnums=2)(states, jax.random.PRNGKey(2), 0.5)
    wrong = np.any(asked.hint != asked.oracle, -1)
    assert 0.4 < wrong.mean() < 0.6, wrong.mean()
    assert (np.sum(asked.hint != asked.oracle, -1)[wrong] == 1).all()
    assert (np.sum(asked.hint != 0, -1) == np.sum(asked.oracle != 0, -1)).all()
