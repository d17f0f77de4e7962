"""A BabyAI level as a navix-style environment: `reset(key)` and `step(timestep, action)`, pure,
jittable and vmappable, with navix's deferred auto-reset."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from . import constants as C
from . import observation
from .dynamics import transition
from .levels import LEVELS, Level
from .state import Observation, State, StepType, Timestep
from .verifier import verify


def _check_actions(action):
    action = np.asarray(action)
    bad = (action < 0) | (action >= C.NUM_ACTIONS)
    if bad.any():
        raise ValueError(
            f"action(s) {np.unique(action[bad])[:8].tolist()} out of range: minigrid's actions are "
            f"0..{C.NUM_ACTIONS - 1} ({', '.join(C.ACTION_NAMES)})"
        )


def observe(state: State) -> Observation:
    """The agent's observation of `state`."""
    return Observation(
        image=observation.image(state), direction=state.agent_dir, mission=state.mission
    )


@dataclasses.dataclass(frozen=True)
class Environment:
    """One level. `level` holds the generator. Actions given as concrete values are always
    checked; `check_actions=True` also checks traced actions inside `jit` with a host callback,
    which costs a lot inside `lax.scan` (5.7k vs 132k steps/s at batch 4096 on 2 CPU cores), so it
    is for debugging."""

    level: Level
    check_actions: bool = False

    @property
    def env_id(self) -> str:
        return self.level.env_id

    @property
    def num_actions(self) -> int:
        return C.NUM_ACTIONS

    @property
    def mission_length(self) -> int:
        return self.level.mission_length

    def new_state(self, key) -> State:
        """A fresh episode's world: minigrid's rejection loop over generator attempts."""

        key, episode_key = jax.random.split(key)

        def attempt(k):
            return self.level.attempt(k, self.level, episode_key)

        def again(carry):
            return ~carry[1][-1]

        def retry(carry):
            k, _ = carry
            k, sub = jax.random.split(k)
            return k, attempt(sub)

        k, sub = jax.random.split(key)
        _, (lay, instr, mission, navs, _) = jax.lax.while_loop(again, retry, (k, attempt(sub)))
        fixed, room = self.level.max_steps, self.level.room
        max_steps = jnp.asarray(fixed if fixed is not None else navs * room**2, jnp.int32)
        return State(
            grid=lay.grid,
            ids=lay.ids,
            agent_pos=lay.agent_pos,
            agent_dir=lay.agent_dir.astype(jnp.int32),
            carrying=jnp.zeros(3, jnp.uint8),
            carrying_id=jnp.zeros((), jnp.int32),
            instruction=instr,
            mission=mission,
            max_steps=max_steps,
            key=key,
        )

    def _timestep(self, state, t, action, reward, step_type) -> Timestep:
        return Timestep(
            t=t,
            observation=observe(state),
            action=action,
            reward=reward,
            step_type=step_type,
            state=state,
        )

    def _fresh(self, key) -> State:
        k_state, k_next = jax.random.split(key)
        return self.new_state(k_state).replace(key=k_next)

    def next_episode(self, state: State) -> State:
        """The state the next auto-reset after `state` will start from (it is drawn from
        `state.key`): what a teacher asked "on reset" is shown before the episode begins."""
        return self._fresh(state.key)

    def _fresh_where(self, restart, state: State) -> State:
        """`state`, or a new episode's state where `restart`. Under `vmap` only the environments
        that restart pay for a new layout (see `_fresh_where_batched`)."""

        @jax.custom_batching.custom_vmap
        def fresh_where(restart, state):
            return jax.lax.cond(restart, lambda: self._fresh(state.key), lambda: state)

        @fresh_where.def_vmap
        def fresh_where_batched(axis_size, in_batched, restart, state):
            out = _fresh_where_batched(self._fresh, axis_size, in_batched, restart, state)
            return out, jax.tree.map(lambda _: True, out)

        return fresh_where(restart, state)

    def reset(self, key) -> Timestep:
        """Start an episode. `key`: a PRNG key; vmap over a batch of keys for many envs."""
        state = self._fresh(key)
        zero = jnp.zeros((), jnp.int32)
        return self._timestep(state, zero, zero, jnp.zeros((), jnp.float32), StepType.TRANSITION)

    def step(self, timestep: Timestep, action) -> Timestep:
        """Advance one step, or start a new episode if `timestep` ended one (navix's deferred
        auto-reset: the action is then ignored).

        Reward `1 - 0.9 * t / max_steps` on success, else 0. `step_type`: TERMINATION on success
        (even on the last allowed step), TRUNCATION when `t` reaches `max_steps`."""
        if not isinstance(action, jax.core.Tracer):
            _check_actions(action)  # concrete actions are always checked, for free
        elif self.check_actions:
            jax.debug.callback(_check_actions, action)
        return self._jitted_step(timestep, jnp.asarray(action, jnp.int32))

    @functools.cached_property
    def _jitted_step(self):
        """`_step`, jitted once per environment: the training chunk and the evaluation then
        share one trace of it (tracing a step is a good part of a run's start)."""
        return jax.jit(self._step)

    def _step(self, timestep: Timestep, action) -> Timestep:
        state = timestep.state
        moved = transition(state, action)
        instr, success = verify(state.instruction, moved, action)
        moved = moved.replace(instruction=instr)
        t = timestep.t + 1
        reward = jnp.where(success, 1.0 - 0.9 * t / state.max_steps, 0.0).astype(jnp.float32)
        step_type = jnp.where(
            success,
            StepType.TERMINATION,
            jnp.where(t >= state.max_steps, StepType.TRUNCATION, StepType.TRANSITION),
        )

        # auto-reset: choose the state first, then observe once
        restart = timestep.step_type != StepType.TRANSITION
        state = self._fresh_where(restart, moved)
        pick = lambda a, b: jnp.where(restart, a, b)  # noqa: E731
        return self._timestep(
            state,
            pick(0, t),
            pick(0, action),
            pick(0.0, reward).astype(jnp.float32),
            pick(StepType.TRANSITION, step_type),
        )


def _fresh_where_batched(fresh, axis_size, in_batched, restart, state, share=32):
    """Auto-reset for a batch without generating a layout for every environment.

    A select-based auto-reset (navix's `cond` under `vmap`) builds a new level for all `B`
    environments at every step, though only about `B / episode length` of them end. Here the
    restarting environments are gathered `B / share` at a time (`nonzero` with a static size),
    only those get new layouts, and the loop runs as often as needed: zero times when none
    restarts, once in the usual case."""
    restart, state = jax.tree.map(
        lambda x, b: x if b else jnp.broadcast_to(x, (axis_size, *jnp.shape(x))),
        (restart, state),
        tuple(in_batched),
    )
    chunk = max(1, axis_size // share)

    def body(carry):
        state, pending = carry
        idx = jnp.nonzero(pending, size=chunk, fill_value=axis_size)[0]
        new = jax.vmap(fresh)(state.key[jnp.minimum(idx, axis_size - 1)])
        state = jax.tree.map(lambda s, n: s.at[idx].set(n, mode="drop"), state, new)
        return state, pending.at[idx].set(False, mode="drop")

    state, _ = jax.lax.while_loop(lambda c: jnp.any(c[1]), body, (state, restart))
    return state


def make(env_id: str, **overrides) -> Environment:
    """The environment `env_id` (see `registry()`).

    Overrides: `max_steps` (a fixed time limit instead of minigrid's per-mission one),
    `mission_length` (tokens per mission, default 24), `check_actions` (default False: actions
    traced inside `jit` go unchecked)."""
    if env_id not in LEVELS:
        close = [k for k in LEVELS if env_id.lower().replace("-v0", "") in k.lower()]
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown level {env_id!r}.{hint} Known levels: {', '.join(LEVELS)}")
    level = LEVELS[env_id]
    env_fields = {"check_actions"}
    level_fields = {"max_steps", "mission_length"}
    unknown = set(overrides) - env_fields - level_fields
    if unknown:
        raise ValueError(
            f"unknown option(s) {sorted(unknown)} for make({env_id!r}); "
            f"known: {sorted(env_fields | level_fields)}"
        )
    for name in level_fields & set(overrides):
        value = overrides[name]
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    level = dataclasses.replace(level, **{k: v for k, v in overrides.items() if k in level_fields})
    return Environment(level, **{k: v for k, v in overrides.items() if k in env_fields})


def registry() -> list[str]:
    """The level ids `make` knows."""
    return list(LEVELS)
