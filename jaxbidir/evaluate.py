"""How well a trained student does: on our JAX level, and on the real minigrid environment.

evaluate(checkpoint_dir, env_id, episodes, gym=False, greedy=False, seed_index=0) -> dict
"""

import contextlib
import io
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxbidir import envs
from jaxbidir.config import from_dict
from jaxbidir.training import (
    checkpoint_manager,
    init_seeds,
    make_train,
    restore_newest_good,
    saved_config,
)


def load_seed(checkpoint_dir, seed_index: int = 0):
    """(trainer, the RunnerState of one seed) from a run directory (or its `checkpoints/`): of
    its newest checkpoint that restores; one damaged on disk is named in a warning and left in
    place."""
    run_dir = Path(checkpoint_dir)
    if run_dir.name == "checkpoints":
        run_dir = run_dir.parent
    # the directory is checked first: the manager would create it
    manager = checkpoint_manager(run_dir) if (run_dir / "checkpoints").is_dir() else None
    if manager is None or manager.latest_step() is None:
        raise FileNotFoundError(f"no checkpoint under {run_dir / 'checkpoints'}")
    config = from_dict(saved_config(manager))
    if not 0 <= seed_index < config.run.num_seeds:
        raise ValueError(
            f"seed_index {seed_index} out of range: the run has {config.run.num_seeds} seeds"
        )
    trainer = make_train(config)
    state, _, _ = restore_newest_good(manager, init_seeds(trainer, config)[0])
    return trainer, jax.tree.map(lambda x: x[seed_index], state)


def load_student(checkpoint_dir, seed_index: int = 0):
    """(trainer, the student's params of one seed) of a run (see `load_seed`)."""
    trainer, state = load_seed(checkpoint_dir, seed_index)
    if trainer.config.mode == "glam":
        raise ValueError(
            f"{checkpoint_dir} is a glam run: its policy is the language model, not a student; "
            f"its success rate over training is in {Path(checkpoint_dir) / 'metrics.jsonl'}"
        )
    return trainer, state.params


def _act(logits, key, greedy):
    return jnp.argmax(logits, -1) if greedy else jax.random.categorical(key, logits)


def evaluate_jax(trainer, params, env_id: str, episodes: int, greedy: bool, seed: int = 0) -> dict:
    """The first episode of `episodes` fresh environments, run to their end in one jit."""
    env = envs.make(env_id, mission_length=trainer.env.mission_length)

    @jax.jit
    def run(key):
        k_reset, k_act = jax.random.split(key)
        ts = jax.vmap(env.reset)(jax.random.split(k_reset, episodes))
        zeros = jnp.zeros(episodes)

        def cond(carry):
            return ~jnp.all(carry[1])

        def body(carry):
            ts, finished, success, ret, length, key = carry
            key, k = jax.random.split(key)
            logits, _, _ = trainer.policy(params, ts.observation.image, ts.observation.mission)
            ts = jax.vmap(env.step)(ts, _act(logits, k, greedy))
            new = ~finished & ts.is_done()
            success = jnp.where(new, ts.is_termination(), success)
            ret = jnp.where(new, ts.reward, ret)
            length = jnp.where(new, ts.t, length)
            return ts, finished | ts.is_done(), success, ret, length, key

        carry = (ts, jnp.zeros(episodes, bool), zeros.astype(bool), zeros, zeros, k_act)
        _, _, success, ret, length, _ = jax.lax.while_loop(cond, body, carry)
        return success, ret, length

    success, ret, length = jax.device_get(run(jax.random.PRNGKey(seed)))
    return _summary(success, ret, length, env_id, "jax")


def evaluate_gym(trainer, params, env_id: str, episodes: int, greedy: bool, seed: int = 0) -> dict:
    """The same policy on the real minigrid environment through gymnasium: observations are
    converted in numpy (the image as is, the mission text through our vocabulary)."""
    import gymnasium as gym
    import minigrid  # noqa: F401  (registers the BabyAI ids)

    if env_id not in gym.registry:
        raise ValueError(
            f"{env_id} is not a gymnasium id of the installed minigrid (GLAM's mixed levels are "
            f"not in minigrid 3.2): evaluate it without --gym"
        )
    length_tokens = trainer.env.mission_length
    policy = jax.jit(lambda image, mission: trainer.policy(params, image, mission)[0])
    env = gym.make(env_id).unwrapped
    rng = np.random.default_rng(seed)
    success, ret, length = [], [], []
    quiet = contextlib.redirect_stdout(io.StringIO())  # minigrid prints rejected layouts
    for episode in range(episodes):
        with quiet:
            obs, _ = env.reset(seed=seed * 100_000 + episode)
        mission = envs.encode(obs["mission"], length_tokens)[None]
        for t in range(1, 10**6):
            logits = np.asarray(policy(obs["image"][None], mission))[0]
            if greedy:
                action = int(logits.argmax())
            else:
                p = np.exp(logits - logits.max())
                action = int(rng.choice(len(p), p=p / p.sum()))
            obs, reward, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                success.append(terminated)
                ret.append(reward)
                length.append(t)
                break
    return _summary(np.array(success), np.array(ret), np.array(length), env_id, "minigrid (gym)")


def _summary(success, ret, length, env_id, where) -> dict:
    return {
        "env_id": env_id,
        "on": where,
        "episodes": int(len(success)),
        "success_rate": float(np.mean(success)),
        "mean_return": float(np.mean(ret)),
        "mean_length": float(np.mean(length)),
    }


def evaluate(checkpoint_dir, env_id=None, episodes=256, gym=False, greedy=False, seed_index=0):
    trainer, params = load_student(checkpoint_dir, seed_index)
    env_id = env_id or trainer.config.env.id
    fn = evaluate_gym if gym else evaluate_jax
    return fn(trainer, params, env_id, episodes, greedy)
