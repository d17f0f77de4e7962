"""Step-by-step parity with the real minigrid package on imported layouts: the observation, the
reward, the episode's end, and the GLAM description of every view."""

import contextlib
import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from reference.glam_text import describe as glam_describe
from reference.minigrid_envs import make_minigrid
from tiny import per_level

from jaxbidir import envs
from jaxbidir.envs import description
from jaxbidir.envs import language as L

SEEDS = 24
# uniform random actions, and a mix that picks up, drops and toggles more often
ACTION_MIXES = [np.full(7, 1 / 7), np.array([0.15, 0.15, 0.3, 0.15, 0.1, 0.1, 0.05])]


@pytest.fixture(scope="module")
def rollouts():
    """One compiled scan per level: our env stepped through a given action sequence."""
    cache = {}

    def get(env_id):
        if env_id not in cache:
            env = envs.make(env_id)

            def run(ts, actions):
                def body(ts, a):
                    ts = env.step(ts, a)
                    return ts, (
                        ts.observation.image,
                        ts.observation.direction,
                        ts.reward,
                        ts.step_type,
                        ts.t,
                        description.describe(ts.state),
                    )

                return jax.lax.scan(body, ts, actions)[1]

            cache[env_id] = env, jax.jit(run)
        return cache[env_id]

    return get


@pytest.mark.parametrize("env_id", per_level(envs.registry()))
def test_step_parity(env_id, rollouts):
    env, run = rollouts(env_id)
    successes = 0
    for seed in range(SEEDS):
        with contextlib.redirect_stdout(io.StringIO()):  # minigrid prints its rejections
            mg = make_minigrid(env_id, seed)
        ts = envs.from_minigrid(mg, env=env)
        obs0 = mg.gen_obs()
        np.testing.assert_array_equal(ts.observation.image, obs0["image"])
        assert L.decode(ts.observation.mission) == mg.mission
        rng = np.random.default_rng(seed)
        actions = rng.choice(7, size=int(mg.max_steps), p=ACTION_MIXES[seed % 2])
        assert L.decode(description.describe(ts.state)) == glam_describe(obs0["image"], mg.carrying)
        images, dirs, rewards, step_types, ts_t, texts = jax.device_get(
            run(ts, jnp.asarray(actions))
        )
        for t, a in enumerate(actions):
            obs, reward, terminated, truncated, _ = mg.step(int(a))
            where = f"{env_id} seed {seed} step {t + 1} action {a} ({mg.mission!r})"
            np.testing.assert_array_equal(images[t], obs["image"], err_msg=where)
            assert dirs[t] == obs["direction"], where
            if not (terminated or truncated):  # ours shows the next episode's first view then
                assert L.decode(texts[t]) == glam_describe(obs["image"], mg.carrying), where
            assert rewards[t] == pytest.approx(reward, abs=1e-6), where
            assert (step_types[t] == envs.StepType.TERMINATION) == terminated, where
            assert (step_types[t] == envs.StepType.TRUNCATION) == (truncated and not terminated), (
                where
            )
            if terminated or truncated:
                successes += terminated
                break
    # the random policies succeed now and then, so the success paths are compared too
    if env_id not in ("BabyAI-UnlockLocal-v0", "BabyAI-PutNextLocal-v0"):
        assert successes > 0
