"""The hint executor (`envs.executor`): it carries out the oracle's hints to success on every
level, goes where a hint says even when the hint is wrong, and says nothing about a hint it
cannot read; its check that a step carried a hint out (`completed`) agrees with the level's
verifier."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tiny import levels_but_most_small_ones, per_level

from jaxbidir import envs
from jaxbidir.envs import constants as C
from jaxbidir.envs import executor
from jaxbidir.envs import language as L

EPISODES = 16


def _follow(env, keys, hint_of, steps: int):
    """Play one episode per key for `steps` acting on `hint_of(state)` through the executor ->
    (success bool[E], steps without an executor's action i32[E], successes whose last step
    did not complete its hint by `executor.completed` i32[E])."""
    ts = jax.vmap(env.reset)(keys)
    n = keys.shape[0]

    def step(carry, _):
        ts, finished, success, unknown, missed = carry
        hint = jax.vmap(hint_of)(ts.state)
        action, known = jax.vmap(executor.act)(ts.state, hint)
        nxt = jax.vmap(env.step)(ts, action)
        live = ~finished
        won = live & nxt.is_termination()
        missed = missed + (won & ~jax.vmap(executor.completed)(ts.state, nxt.state, action, hint))
        carry = (nxt, finished | nxt.is_done(), success | won, unknown + (live & ~known), missed)
        return carry, None

    zeros = jnp.zeros(n, jnp.int32)
    start = (ts, jnp.zeros(n, bool), jnp.zeros(n, bool), zeros, zeros)
    (_, _, success, unknown, missed), _ = jax.lax.scan(step, start, None, length=steps)
    return success, unknown, missed


@pytest.mark.parametrize("env_id", per_level(levels_but_most_small_ones()))
def test_the_executor_solves_every_level_from_the_oracles_hints(env_id):
    env = envs.make(env_id)
    keys = jax.random.split(jax.random.PRNGKey(1), EPISODES)
    steps = int(jax.vmap(env.reset)(keys).state.max_steps.max())  # every episode ends within
    success, unknown, missed = jax.jit(lambda k: _follow(env, k, envs.subgoal, steps))(keys)
    assert int(unknown.sum()) == 0, f"{env_id}: an oracle's hint the executor cannot carry out"
    assert bool(success.all()), f"{env_id}: solved {int(success.sum())}/{EPISODES}"
    assert int(missed.sum()) == 0, f"{env_id}: the winning step did not complete its hint"


def test_a_step_completes_the_mission_as_a_hint_exactly_when_the_level_says_it_succeeds():
    """On GoToLocal, whose mission ("go to a red ball") the executor reads whole, with random
    actions: `completed` with the mission as the hint is the verifier's success, step for step.
    (PickupLoc's locations and PutNextLocal's moved object are words the executor ignores.)"""
    env = envs.make("BabyAI-GoToLocal-v0")

    def step(ts, key):
        action = jax.random.randint(key, ts.t.shape, 0, C.NUM_ACTIONS)
        nxt = jax.vmap(env.step)(ts, action)
        hint = ts.observation.mission[:, : envs.HINT_LENGTH]
        done = jax.vmap(executor.completed)(ts.state, nxt.state, action, hint)
        return nxt, (done, nxt.is_termination(), ts.is_done())

    ts = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(3), 64))
    keys = jax.random.split(jax.random.PRNGKey(4), 256)
    _, (done, won, reset) = jax.jit(lambda ts, k: jax.lax.scan(step, ts, k))(ts, keys)
    real = ~reset  # an auto-reset step starts the next episode: it completes nothing
    assert int((won & real).sum()) >= 10, "too few successes to compare"
    np.testing.assert_array_equal(done & real, won & real)


def test_each_kind_of_hint_is_completed_by_its_own_last_action_only():
    state = _state_with([(5, 5, C.BALL, C.RED), (2, 6, C.KEY, C.BLUE)], agent=(4, 5))
    red_ball = jnp.asarray(L.encode("go to the red ball", envs.HINT_LENGTH))
    pick_ball = jnp.asarray(L.encode("pick up the red ball", envs.HINT_LENGTH))
    blue_key = jnp.asarray(L.encode("go to the blue key", envs.HINT_LENGTH))
    facing = executor.completed(state, state, C.LEFT, red_ball)  # the ball in front of it
    assert bool(facing) and not bool(executor.completed(state, state, C.LEFT, blue_key))
    assert not bool(executor.completed(state, state, C.PICKUP, pick_ball)), "nothing was picked"
    holding = state.replace(
        grid=state.grid.at[5, 5].set(jnp.array([C.EMPTY, 0, 0], jnp.uint8)),
        carrying=jnp.array([C.BALL, C.RED, 0], jnp.uint8), carrying_id=jnp.int32(1),
    )  # fmt: skip
    assert bool(executor.completed(state, holding, C.PICKUP, pick_ball))
    assert not bool(executor.completed(state, holding, C.PICKUP, blue_key))


def _state_with(objects, agent=(1, 1), direction=0, size=8):
    """A room `size` x `size` with `objects` [(x, y, type, colour)] and the agent."""
    grid = np.zeros((size, size, 3), np.uint8)
    grid[..., 0] = C.EMPTY
    grid[[0, -1], :] = C.WALL_CELL
    grid[:, [0, -1]] = C.WALL_CELL
    for x, y, type_, colour in objects:
        grid[x, y] = (type_, colour, 0)
    state = envs.make("BabyAI-GoToLocal-v0").reset(jax.random.PRNGKey(0)).state
    return state.replace(grid=jnp.asarray(grid), agent_pos=jnp.array(agent, jnp.int32),
                         agent_dir=jnp.int32(direction))  # fmt: skip


def _walk(state, hint: str, steps=30):
    """Apply the executor's actions (turns and forward only) until it asks for its last action
    -> (state, that action)."""
    tokens = jnp.asarray(L.encode(hint, envs.HINT_LENGTH))
    for _ in range(steps):
        action, known = executor.act(state, tokens)
        assert bool(known), hint
        if int(action) > C.FORWARD:
            return state, int(action)
        dx, dy = C.DIR_TO_VEC[int(state.agent_dir)]
        if int(action) == C.FORWARD:
            state = state.replace(agent_pos=state.agent_pos + jnp.array([dx, dy]))
        else:
            turn = 1 if int(action) == C.RIGHT else -1
            state = state.replace(agent_dir=(state.agent_dir + turn) % 4)
    raise AssertionError(f"{hint!r}: no last action within {steps} steps")


def test_the_executor_goes_where_the_hint_says_even_when_it_is_wrong():
    state = _state_with([(5, 5, C.BALL, C.RED), (2, 6, C.KEY, C.BLUE)])
    for hint, cell, last in [("go to the red ball", (5, 5), C.DONE),
                             ("pick up the blue key", (2, 6), C.PICKUP)]:  # fmt: skip
        end, action = _walk(state, hint)
        dx, dy = C.DIR_TO_VEC[int(end.agent_dir)]
        assert (int(end.agent_pos[0]) + dx, int(end.agent_pos[1]) + dy) == cell, hint
        assert action == last


def test_the_executor_is_silent_on_a_hint_it_cannot_carry_out():
    state = _state_with([(5, 5, C.BALL, C.RED)])
    for hint in ["go to the blue ball", "go to", "", "the red ball"]:  # absent, no object, none
        _, known = executor.act(state, jnp.asarray(L.encode(hint, envs.HINT_LENGTH)))
        assert not bool(known), hint
    walled = _state_with([(5, 5, C.BALL, C.RED)] + [(x, 4, C.WALL, C.GREY) for x in range(1, 7)])
    _, known = executor.act(walled, jnp.asarray(L.encode("go to the red ball", envs.HINT_LENGTH)))
    assert not bool(known), "a ball behind a wall has no path"


def test_seen_only_the_executor_acts_toward_what_the_agent_sees():
    tokens = jnp.asarray(L.encode("go to the red ball", envs.HINT_LENGTH))
    behind = _state_with([(5, 5, C.BALL, C.RED)], agent=(4, 5), direction=2)  # facing away
    ahead = _state_with([(5, 5, C.BALL, C.RED)], agent=(2, 5), direction=0)
    assert bool(executor.act(behind, tokens)[1]) and not bool(executor.act(behind, tokens, True)[1])
    assert bool(executor.act(ahead, tokens, True)[1])
    assert int(executor.act(ahead, tokens, True)[0]) == C.FORWARD


def test_every_first_step_of_a_shortest_path_is_an_option():
    # the ball two cells behind: turning round by the left or by the right, both 3 actions
    state = _state_with([(2, 4, C.BALL, C.RED)], agent=(4, 4), direction=0)
    tokens = jnp.asarray(L.encode("go to the red ball", envs.HINT_LENGTH))
    good, known = executor.options(state, tokens)
    assert bool(known) and np.flatnonzero(good).tolist() == [C.LEFT, C.RIGHT]
    assert int(executor.act(state, tokens)[0]) == C.LEFT  # the first of them
