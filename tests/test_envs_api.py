"""The public API: registry, make, vmapped auto-reset, determinism, and clear errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tiny import per_level

from jaxbidir import envs
from jaxbidir.envs import language as L


def test_registry_has_the_levels():
    assert set(envs.registry()) >= {
        "BabyAI-GoToRedBallNoDists-v0", "BabyAI-GoToRedBall-v0", "BabyAI-GoToObj-v0",
        "BabyAI-GoToLocal-v0", "BabyAI-PickupLoc-v0", "BabyAI-PutNextLocal-v0",
        "BabyAI-UnlockLocal-v0", "BabyAI-MixedTrainLocal-v0", "BabyAI-MixedTestLocal-v0",
    }  # fmt: skip


def test_unknown_level_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown level 'BabyAI-GoToLocal-v9'.*Known levels"):
        envs.make("BabyAI-GoToLocal-v9")


def test_unknown_or_bad_override_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['num_dist'\]"):
        envs.make("BabyAI-GoToLocal-v0", num_dist=3)
    with pytest.raises(ValueError, match="max_steps must be a positive int"):
        envs.make("BabyAI-GoToLocal-v0", max_steps=0)


def test_out_of_range_action_is_a_clear_error():
    env = envs.make("BabyAI-GoToRedBallNoDists-v0", check_actions=True)
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    ts = jax.vmap(env.reset)(keys)
    with pytest.raises(ValueError, match=r"action\(s\) \[-1\] out of range"):
        env.step(jax.tree.map(lambda x: x[0], ts), -1)  # concrete: checked eagerly
    step = jax.jit(jax.vmap(env.step))
    step(ts, jnp.array([0, 1, 2, 6]))  # fine
    with pytest.raises(Exception, match=r"action\(s\) \[7\] out of range"):
        jax.block_until_ready(step(ts, jnp.array([0, 1, 7, 2])))


def test_too_long_mission_is_a_clear_error():
    with pytest.raises(ValueError, match="raise `mission_length`"):
        L.encode("put the red ball next to the blue key", 5)
    with pytest.raises(ValueError, match="not in the Baby Language vocabulary"):
        L.encode("go to the red banana", 24)


def test_encode_decode_round_trip():
    text = "pick up a blue key on your left, then go to the red ball"
    assert L.decode(L.encode(text, 24)) == text


def test_vmapped_autoreset_and_determinism():
    env = envs.make("BabyAI-GoToLocal-v0")

    @jax.jit
    def run(key):
        ts = jax.vmap(env.reset)(jax.random.split(key, 64))

        def body(ts, k):
            a = jax.random.randint(k, (64,), 0, 7)
            ts = jax.vmap(env.step)(ts, a)
            return ts, (ts.reward, ts.step_type, ts.t)

        return jax.lax.scan(body, ts, jax.random.split(key, 200))[1]

    rewards, step_types, t = run(jax.random.PRNGKey(3))
    again = run(jax.random.PRNGKey(3))
    for a, b in zip((rewards, step_types, t), again, strict=True):
        np.testing.assert_array_equal(a, b)
    done = np.asarray(step_types) > 0
    assert done.any()
    # the step after an episode ends starts a new one at t = 0
    after = np.roll(done, 1, axis=0)
    after[0] = False
    assert (np.asarray(t)[after] == 0).all()
    assert (np.asarray(t) <= 64).all()


def test_description_leaves_out_whole_sentences_that_do_not_fit():
    env = envs.make("BabyAI-GoToLocal-v0")
    states = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), 16)).state
    full = [L.decode(t) for t in jax.vmap(envs.describe)(states)]
    short = [L.decode(t) for t in jax.vmap(lambda s: envs.describe(s, 20))(states)]
    for f, s in zip(full, short, strict=True):
        assert len(s.split()) <= 20
        assert f.startswith(s.rstrip("."))  # a prefix of the full text ...
        assert s == "" or s.endswith(".")  # ... made of whole sentences
        assert len(s) < len(f) or len(f.split()) <= 20


def test_step_types_are_navix_s():
    from navix.environments.environment import StepType

    for name in ("TRANSITION", "TRUNCATION", "TERMINATION"):
        assert getattr(envs.StepType, name) == getattr(StepType, name), name


def test_render_draws_the_grid_the_agent_and_its_view():
    from navix.rendering.registry import SPRITES_REGISTRY, TILE_SIZE

    env = envs.make("BabyAI-GoToLocal-v0")
    state = env.reset(jax.random.PRNGKey(1)).state
    plain = np.asarray(envs.render(state, scale=1, highlight=False))
    lit = np.asarray(envs.render(state, scale=2))
    w, h = state.ids.shape
    assert plain.shape == (h * TILE_SIZE, w * TILE_SIZE, 3) and plain.dtype == np.uint8
    assert lit.shape == (2 * h * TILE_SIZE, 2 * w * TILE_SIZE, 3)

    def tile(im, x, y):
        return im[y * TILE_SIZE : (y + 1) * TILE_SIZE, x * TILE_SIZE : (x + 1) * TILE_SIZE]

    x, y = np.asarray(state.agent_pos)
    np.testing.assert_array_equal(
        tile(plain, x, y), SPRITES_REGISTRY["player"][int(state.agent_dir)]
    )
    np.testing.assert_array_equal(tile(plain, 0, 0), SPRITES_REGISTRY["wall"])
    # highlighting lightens exactly the cells the agent sees
    lit = lit[::2, ::2]
    changed = {
        (i, j) for i in range(w) for j in range(h) if (tile(lit, i, j) != tile(plain, i, j)).any()
    }
    image = np.asarray(env.reset(jax.random.PRNGKey(1)).observation.image)
    assert len(changed) == (image[..., 0] > 0).sum()


def _same_states(a, b) -> np.ndarray:
    """bool[...]: whether two (batches of) states are equal bit for bit, leaf by leaf."""
    batch = a.ids.shape[:-2]  # ids: [..., W, H]
    leaves = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    equal = [np.asarray(x == y).reshape(*batch, -1).all(-1) for x, y in leaves]
    return np.logical_and.reduce(equal)


@pytest.mark.parametrize(
    "env_id", per_level(["BabyAI-GoToRedBallNoDists-v0", "BabyAI-PutNextLocal-v0"])
)
def test_next_episode_is_the_state_the_auto_reset_starts_from(env_id):
    """`next_episode` of an episode's state is exactly where the step after its end restarts, one
    environment at a time (`lax.cond`) and batched (the gathered auto-reset)."""
    env = envs.make(env_id, max_steps=12)
    step = jax.jit(env.step)
    ts = env.reset(jax.random.PRNGKey(0))
    foreseen = env.next_episode(ts.state)  # known before the episode is played
    for action in jax.random.randint(jax.random.PRNGKey(1), (12,), 0, 7):
        ts = step(ts, action)
        if ts.is_done():
            break
    assert ts.is_done()
    assert _same_states(env.next_episode(ts.state), foreseen)
    restarted = step(ts, jnp.int32(2))
    assert int(restarted.t) == 0 and _same_states(restarted.state, foreseen)
    assert not _same_states(env.next_episode(restarted.state), foreseen)

    n = 64  # restarts are gathered n // 32 at a time

    @jax.jit
    def run(key):
        def body(carry, k):
            ts, first, seen = carry
            nxt = jax.vmap(env.step)(ts, jax.random.randint(k, (n,), 0, 7))
            take = ts.is_done() & ~seen  # each environment's first restart
            first = jax.tree.map(
                lambda a, b: jnp.where(take.reshape(-1, *(1,) * (a.ndim - 1)), a, b),
                nxt.state,
                first,
            )
            return (nxt, first, seen | take), (ts.is_done(), nxt.t)

        ts = jax.vmap(env.reset)(jax.random.split(key, n))
        carry = (ts, ts.state, jnp.zeros(n, bool))
        (_, first, seen), (ended, t) = jax.lax.scan(body, carry, jax.random.split(key, 16))
        return ts.state, first, seen, ended, t

    start, first, seen, ended, t = run(jax.random.PRNGKey(2))
    assert np.asarray(seen).all()  # every environment has ended and restarted
    assert (np.asarray(t)[np.asarray(ended)] == 0).all()
    foreseen = jax.jit(jax.vmap(env.next_episode))(start)
    assert _same_states(first, foreseen).all()
