"""How well a trained run does on fresh episodes: on our JAX level with its own player
(`Trainer.play`: the student with its hints, or GLAM's LM), and the student on the real minigrid.

evaluate(checkpoint_dir, env_id, episodes, gym=False, greedy=False, seed_index=0, hints=True)
"""

import contextlib
import io

import jax
import numpy as np

from jaxbidir import envs
from jaxbidir.checkpoints import load_seed


def evaluate_jax(trainer, state, env_id: str, episodes: int, greedy: bool, hints: bool,
                 seed: int = 0) -> dict:  # fmt: skip
    """The first episode of `episodes` fresh environments, played to its end by the run's own
    player (`Trainer.play`, as its evaluations during training), in one jit."""
    env = trainer.env
    if env_id != trainer.config.env.id:
        env = envs.make(env_id, mission_length=env.mission_length)
    k_levels, k_play = jax.random.split(jax.random.PRNGKey(seed))
    first = jax.jit(jax.vmap(env.reset))(jax.random.split(k_levels, episodes))
    steps = int(first.state.max_steps.max())
    play = jax.jit(lambda state, first, key: trainer.play(state, env, first, steps, key, greedy,
                                                         hints))  # fmt: skip
    played, accuracy = jax.device_get(play(state, first, k_play))
    out = _summary(played.success, played.returned, played.length, env_id, "jax")
    if accuracy == accuracy:  # NaN: no hints asked
        out["hint_accuracy"] = float(accuracy)
    return out


def evaluate_gym(trainer, state, env_id: str, episodes: int, greedy: bool, seed: int = 0) -> dict:
    """The student alone on the real minigrid environment through gymnasium: observations are
    converted in numpy (the image as is, the mission text through our vocabulary)."""
    import gymnasium as gym
    import minigrid  # noqa: F401  (registers the BabyAI ids)

    if env_id not in gym.registry:
        raise ValueError(
            f"{env_id} is not a gymnasium id of the installed minigrid (GLAM's mixed levels are "
            f"not in minigrid 3.2): evaluate it without --gym"
        )
    length_tokens = trainer.env.mission_length

    @jax.jit
    def policy(image, mission, carry, first):
        """-> (logits, the carry of a recurrent student's core; None for a feed-forward one)"""
        logits, _, _, carry = trainer.policy(state.params, image, mission, None, carry, first)
        return logits, carry

    env = gym.make(env_id).unwrapped
    rng = np.random.default_rng(seed)
    success, ret, length = [], [], []
    quiet = contextlib.redirect_stdout(io.StringIO())  # minigrid prints rejected layouts
    for episode in range(episodes):
        with quiet:
            obs, _ = env.reset(seed=seed * 100_000 + episode)
        mission = envs.encode(obs["mission"], length_tokens)[None]
        carry = jax.tree.map(lambda c: c[:1], state.carry)  # any carry: the first step forgets it
        for t in range(1, 10**6):
            logits, carry = policy(obs["image"][None], mission, carry, np.array([t == 1]))
            logits = np.asarray(logits)[0]
            if greedy:
                action = int(logits.argmax())
            else:
                p = np.exp(logits - logits.max())
                action = int(rng.choice(len(p), p=p / p.sum()))
            obs, reward, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                success.append(reward > 0)  # as `runner.Episodes`: a positive return
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


def evaluate(checkpoint_dir, env_id=None, episodes=256, gym=False, greedy=False, seed_index=0,
             hints=True) -> dict:  # fmt: skip
    """How one seed of a run does on fresh episodes of its level (or `env_id`): with its hint
    source, as it trained, unless `hints` is False (the student alone: `hints` in the result
    says which). `gym`: on the real minigrid, the student alone."""
    trainer, state = load_seed(checkpoint_dir, seed_index)
    config = trainer.config
    env_id = env_id or config.env.id
    hinted = config.mode not in ("student_only", "glam")
    if gym:
        if config.mode == "glam":
            raise ValueError(
                f"{checkpoint_dir} is a glam run, whose policy reads our words for the grid: "
                f"evaluate it without --gym"
            )
        if hinted and hints:
            raise ValueError(
                f"{checkpoint_dir} trained with hints ({config.mode}), which the real minigrid "
                f"cannot give: pass --no-hints as well to evaluate the student alone there"
            )
        result = evaluate_gym(trainer, state, env_id, episodes, greedy)
    else:
        result = evaluate_jax(trainer, state, env_id, episodes, greedy, hints)
    return {"mode": config.mode, "hints": config.mode if hinted and hints else "none", **result}
