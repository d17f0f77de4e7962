"""The one episode player (`runner.play_episodes`) and `jaxbidir evaluate`, which plays a run
with its own player: a hinted run with its hints unless `--no-hints`, named in the output."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tiny import TINY

from jaxbidir import cli, config, envs, runner, training
from jaxbidir.envs import executor, oracle

LEVEL = "BabyAI-GoToLocal-v0"
EPISODES = 16


def _play(act, ask=None, every=1):
    env = envs.make(LEVEL)
    first = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), EPISODES))
    steps = int(first.state.max_steps.max())
    played, accuracy = jax.jit(
        lambda first, key: runner.play_episodes(env, act, first, steps, key, every, ask)
    )(first, jax.random.PRNGKey(1))
    return jax.device_get(played), float(accuracy), np.asarray(first.state.max_steps)


def test_each_episode_is_counted_once_to_its_end_with_one_meaning_of_success():
    """The executor following the oracle's hint, asked at every step, solves every episode, and
    each return is the level's 1 - 0.9 steps/time limit for the steps counted; a policy that
    only turns left never succeeds, returns 0, and is counted to its time limit."""

    def follow(memory, ts, hint, key):
        return jax.vmap(executor.act)(ts.state, hint)[0], memory

    def ask(ts, key):
        return jax.vmap(oracle.subgoal)(ts.state), jnp.float32(1.0)

    played, accuracy, limits = _play(follow, ask)
    assert played.success.all() and accuracy == 1.0
    assert (played.length > 0).all() and (played.length < limits).all()
    np.testing.assert_allclose(played.returned, 1 - 0.9 * played.length / limits, rtol=1e-6)

    def turn_left(memory, ts, hint, key):
        assert hint is None  # no `ask`, no hint
        return jnp.zeros(EPISODES, jnp.int32), memory

    played, accuracy, limits = _play(turn_left, every=8)
    assert not played.success.any() and (played.returned == 0).all() and np.isnan(accuracy)
    assert (played.length == limits).all()


@pytest.fixture(scope="module")
def oracle_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("oracle") / "run"
    overrides = {**TINY, "mode": "oracle", "run.total_frames": 8 * 16 * 2,
                 "run.checkpoint_every": 2}  # fmt: skip
    training.run(config.load(None, overrides), out, progress=False)
    return out


def _evaluate(capsys, *flags) -> tuple[int, dict | str]:
    code = cli.main(["evaluate", "--episodes", "8", *flags])
    out, err = capsys.readouterr()
    return code, json.loads(out) if code == 0 else err


def test_evaluate_plays_a_hinted_run_with_its_hints_unless_told(oracle_run, capsys):
    code, hinted = _evaluate(capsys, "--checkpoint", str(oracle_run))
    assert code == 0 and hinted["hints"] == "oracle" and hinted["hint_accuracy"] == 1.0
    assert hinted["episodes"] == 8 and 0 <= hinted["success_rate"] <= 1
    code, alone = _evaluate(capsys, "--checkpoint", str(oracle_run), "--no-hints")
    assert code == 0 and alone["hints"] == "none" and "hint_accuracy" not in alone
    code, err = _evaluate(capsys, "--checkpoint", str(oracle_run), "--gym")
    assert code == 2 and "pass --no-hints as well" in err
