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


def _moved(cfg):
    """The student of `cfg` with every weight moved off its initial value (FiLM's scale starts
    at 0), so that every input it has matters."""
    model = make_model(cfg, make_env(cfg), jax.random.PRNGKey(1))
    graphdef, params = nnx.split(model)
    params = jax.tree.map(lambda x: x + 0.1 * jnp.sin(jnp.arange(x.size)).reshape(x.shape),
                          params)  # fmt: skip
    return nnx.merge(graphdef, params)


def test_value0_never_sees_the_hint_even_when_the_hint_conditions_the_convolutions():
    """... nor through a recurrent core, which reads the hint-free view."""
    image, mission, oracle, _ = _inputs()
    n = len(image)
    other = jnp.roll(oracle, 1, axis=0)  # the hints of other states
    for hint_film, memory in ((False, 0), (True, 0), (True, 8)):
        model = _moved(config.load(None, {"student.hint_film": hint_film,
                                          "student.memory": memory}))  # fmt: skip
        carry = jnp.full((n, memory), 0.3) if memory else None
        past = (carry, jnp.zeros(n, bool))  # episodes under way: the carry counts
        logits, value, value0, _ = model(image, mission, oracle, *past)
        logits_b, value_b, value0_b, _ = model(image, mission, other, *past)
        np.testing.assert_array_equal(value0, value0_b)
        assert not np.allclose(value, value_b) and not np.allclose(logits, logits_b)
        np.testing.assert_array_equal(model(image, mission, None, *past)[2], value0)


def test_the_recurrent_core_runs_a_sequence_as_its_steps_and_forgets_at_each_episode_start():
    image, mission, oracle, _ = _inputs(n=12)
    steps = lambda x: x.reshape(4, 3, *x.shape[1:])  # noqa: E731  [T=4, B=3]: 4 steps of 3 envs
    image, mission, hint = steps(image), steps(mission), steps(oracle)
    first = jnp.array([[0, 1, 0], [0, 0, 0], [1, 0, 0], [0, 0, 1]], bool)
    model = _moved(config.load(None, {"student.memory": 8}))
    start = jnp.linspace(-1, 1, 24).reshape(3, 8)
    logits, value, value0, carry = model(image, mission, hint, start, first)
    stepped, step_carry = [], start
    for t in range(4):
        *out, step_carry = model(image[t], mission[t], hint[t], step_carry, first[t])
        stepped.append(out)
    for whole, one_by_one in zip((logits, value, value0), zip(*stepped, strict=True), strict=True):
        np.testing.assert_allclose(whole, jnp.stack(one_by_one), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(carry, step_carry, rtol=1e-5, atol=1e-6)
    # where an episode starts, what came before is forgotten: any carry gives the same step
    again = model(image[2], mission[2], hint[2], 5.0 + start, first[2])
    np.testing.assert_allclose(again[1][0], value[2, 0], rtol=1e-6)
    assert not np.allclose(again[1][1:], value[2, 1:])  # ... and only there
    assert float(jnp.abs(carry).max()) > 0.01 and carry.shape == (3, 8)


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


def test_the_convolutions_equal_xlas_and_the_folded_embedding_equals_embedding_first():
    """Conv3x3's row-banded matmuls are XLA's own 3x3 'same' convolution (HWIO kernel, zero
    padding), on a map that is not square too, and so are their gradients, vmapped over seeds
    too; and the first convolution of the codes with the embedding table folded into its kernel
    is the convolution of the embedded view."""
    from jaxbidir.student.model import Conv3x3, rows_conv

    def xlas(x, kernel):
        flat = x.reshape(-1, *x.shape[-3:])
        hwio = kernel.reshape(3, 3, x.shape[-1], -1)
        y = jax.lax.conv_general_dilated(flat, hwio, (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))  # fmt: skip
        return y.reshape(*x.shape[:-1], -1)

    conv = Conv3x3(5, 4, rngs=nnx.Rngs(0))
    kernel = conv.linear.kernel[...]
    for shape in [(2, 3, 7, 7, 5), (3, 5, 6, 5)]:
        x = jax.random.normal(jax.random.PRNGKey(1), shape)
        np.testing.assert_allclose(conv(x), xlas(x, kernel) + conv.linear.bias[...], atol=1e-5)
        dy = jax.random.normal(jax.random.PRNGKey(5), (*shape[:-1], 4))
        got, want = (jax.vjp(f, x, kernel)[1](dy) for f in (rows_conv, xlas))
        for ours, its in zip(got, want, strict=True):  # d x, d kernel
            np.testing.assert_allclose(ours, its, atol=1e-4, rtol=1e-5)
    seeds = jax.random.normal(jax.random.PRNGKey(6), (2, 9 * 5, 4))  # a kernel per seed
    grad = lambda conv: jax.vmap(jax.grad(lambda k: (conv(x, k) ** 2).sum()))  # noqa: E731
    np.testing.assert_allclose(grad(rows_conv)(seeds), grad(xlas)(seeds), atol=1e-3, rtol=1e-5)
    hot = jax.random.bernoulli(jax.random.PRNGKey(2), 0.2, (4, 7, 7, 20)).astype(jnp.float32)
    table = jax.random.normal(jax.random.PRNGKey(3), (20, 5))
    base = jax.random.normal(jax.random.PRNGKey(4), (7, 7, 5))
    np.testing.assert_allclose(conv.of_embedded(hot, table, base), conv(hot @ table + base),
                               atol=1e-5)  # fmt: skip


def test_actor_scale_is_the_scale_of_the_actors_last_layer_at_initialisation():
    """An orthogonal [hidden, 7] kernel at scale s has every column of norm s."""
    for scale in (0.01, 1.0):
        cfg = config.load(None, {"student.actor_scale": scale})
        kernel = make_model(cfg, make_env(cfg), jax.random.PRNGKey(1)).actor.layers[-1].kernel
        np.testing.assert_allclose(np.linalg.norm(kernel[...], axis=0), scale, rtol=1e-5)


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
    logits, value, value0, _ = models["flatten"](image, mission, None)
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
