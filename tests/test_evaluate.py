"""The one episode player (`runner.play_episodes`) and `jaxbidir evaluate`, which plays a run
with its own player: a hinted run with its hints unless `--no-hints`, named in the output."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tiny import TINY

from jaxbidir import cli, config, envs, runner, training

LEVEL = "BabyAI-GoToRedBallNoDists-v0"
EPISODES = 32


def test_each_episode_is_counted_once_to_its_end_with_one_meaning_of_success():
    """Random actions on the paper's level, the hint asked every 8 steps: some episodes reach
    the ball, some time out. Each success returns the level's 1 - 0.9 steps/time limit for the
    steps counted, each failure 0 after the whole time limit; the first hints' accuracy is what
    `ask` said. Without `ask` the policy gets no hint and the accuracy is NaN."""
    env = envs.make(LEVEL)
    first = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), EPISODES))
    steps, limits = int(first.state.max_steps.max()), np.asarray(first.state.max_steps)
    asked = []

    def act(memory, ts, hint, key):
        asked.append(hint is not None)
        return jax.random.randint(key, (EPISODES,), 0, env.num_actions), memory

    def ask(ts, key):
        return jnp.zeros((EPISODES, envs.HINT_LENGTH), jnp.int32), jnp.float32(0.25)

    def play(ask):
        fn = lambda first, key: runner.play_episodes(env, act, first, steps, key, 8, ask)  # noqa: E731
        played, accuracy = jax.jit(fn)(first, jax.random.PRNGKey(1))
        return jax.device_get(played), float(accuracy)

    played, accuracy = play(ask)
    assert 0 < played.success.sum() < EPISODES and accuracy == 0.25 and asked == [True]
    won, lost = played.success, ~played.success
    np.testing.assert_allclose(played.returned[won], 1 - 0.9 * played.length[won] / limits[won],
                               rtol=1e-6)  # fmt: skip
    assert (played.length[won] < limits[won]).all()
    assert (played.returned[lost] == 0).all() and (played.length[lost] == limits[lost]).all()
    played, accuracy = play(None)
    assert np.isnan(accuracy) and asked == [True, False]


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
