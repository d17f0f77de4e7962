"""PPO on the language model as the policy (mode `glam`), PureJaxRL-style like the student's:
`make_train(config)` gives pure functions whose whole run is a `lax.scan`, vmappable over seeds.

One `update(state)`, jitted as a whole:
  1. rollout of `num_steps` in `num_envs` environments: at every step each environment's GLAM
     prompt (`prompt.py`: the last 3 observations described in words, the last 2 actions), one
     batched scoring of the 6 action strings (`agent.py`), an action sampled from their softmax;
  2. GAE on the rewards times `glam.reward_scale` (GLAM's 20) with `glam.gae_lambda`;
  3. `glam.update_epochs` epochs of clipped PPO steps on minibatches of `glam.minibatch_size`
     rows, through the whole LM (or its last `glam.train_blocks` blocks) and the value head.

`play` is the LM from an empty memory in `runner.play_episodes`, the player of every
evaluation; `evaluate(state)` plays the fixed episodes of every mode with it.

GLAM's PPO settings (Carta et al. 2023, their released configs) are the config's defaults:
Adam lr 1e-6 (eps 1e-5), gamma 0.99, lambda 0.99, clip 0.2, entropy 0.01, value 0.5, gradient
norm 0.5, 4 epochs, minibatches of 64, rewards times 20, advantages not normalized; they trained
Flan-T5 780M with 32 environments x 40 steps per update. The LM is `glam.lm` (a GPT-2, Llama or
Qwen2 Hugging Face checkpoint) or the shipped teacher; words of the template its tokenizer cannot
write are added to it, and positions a prompt needs beyond its own are added (`agent.fit_lm`).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jaxbidir import envs, nonfinite
from jaxbidir.config import Config
from jaxbidir.runner import (
    RunnerState,
    Trainer,
    choose,
    make_env,
    make_evaluate,
    play_episodes,
    scan_updates,
    update_metrics,
    zero_count,
)
from jaxbidir.student.ppo import clipped_losses, episode_metrics, gae, ppo_epochs
from jaxbidir.teacher import configured

from .agent import ValueHead, action_log_probs, fit_lm
from .prompt import HISTORY, Prompter, missing_words


class Memory(NamedTuple):
    """What each environment remembers of its episode for the prompt, leading axis N."""

    views: jax.Array  # i32[N, HISTORY - 1, D] descriptions of the previous observations
    actions: jax.Array  # i32[N, HISTORY - 1] the actions taken after them
    seen: jax.Array  # i32[N] how many of them are of this episode


class Turn(NamedTuple):
    """One row per step, leading axes [num_steps, num_envs]."""

    prompt: jax.Array  # i32[..., P]
    prompt_mask: jax.Array  # bool[..., P]
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    done: jax.Array
    terminated: jax.Array
    valid: jax.Array


def load_lm(config: Config, mission_length: int):
    """(GPT2 fitted to the prompts, its tokenizer with the template's words, Prompter) of the
    configured LM."""
    lm, tokenizer, _ = configured.load_configured(config.glam.lm, "glam.lm")
    if missing := missing_words(tokenizer):
        tokenizer.add_tokens(missing)
    prompter = Prompter.build(tokenizer, mission_length, config.glam.description_length)
    lm = fit_lm(lm, len(tokenizer), prompter.length + prompter.candidate_length)
    return lm, tokenizer, prompter


def trainable(params, train_blocks: int, n_layer: int):
    """Optimizer labels: "train" or "frozen" for every leaf of `params`. With `train_blocks` k >
    0 only the last k blocks, the final LayerNorm and the value head learn."""

    def label(path, _):
        names = [str(getattr(p, "key", getattr(p, "idx", p))) for p in path]
        if not train_blocks or names[0] != "lm":
            return "train"
        if names[1] == "h":
            return "train" if int(names[2]) >= n_layer - train_blocks else "frozen"
        return "train" if names[1] == "ln_f" else "frozen"

    return jax.tree_util.tree_map_with_path(label, params)


def make_optimizer(config: Config, n_layer: int):
    """GLAM's Adam with gradient clipping, on the parameters `glam.train_blocks` leaves free
    (the clipping norm is theirs alone)."""
    learn = optax.chain(
        optax.clip_by_global_norm(config.student.max_grad_norm),
        optax.adam(config.glam.lr, eps=1e-5),
    )
    return optax.multi_transform(
        {"train": learn, "frozen": optax.set_to_zero()},
        lambda p: trainable(p, config.glam.train_blocks, n_layer),
    )


def make_train(config: Config) -> Trainer:
    env = make_env(config)
    lm, _, prompter = load_lm(config, env.mission_length)
    lm_graphdef, lm_params = nnx.split(lm)
    head_graphdef = nnx.split(nnx.eval_shape(lambda: ValueHead(lm.config.n_embd, nnx.Rngs(0))))[0]
    ppo, glam = config.student, config.glam
    n_env, n_steps, width = config.env.num_envs, ppo.num_steps, glam.description_length
    minibatches = n_env * n_steps // glam.minibatch_size
    tx = make_optimizer(config, lm.config.n_layer)
    candidates = prompter.candidates()

    def policy(params, prompt, prompt_mask):
        """-> (action log-probs f32[B, 6], value f32[B])."""
        lm = nnx.merge(lm_graphdef, params["lm"])
        scores, last = action_log_probs(lm, prompt, prompt_mask, *candidates)
        value = nnx.merge(head_graphdef, params["value_head"])(last)
        return jax.nn.log_softmax(scores), value

    def observe(ts, memory):
        """The prompts of the current timesteps -> (tokens, mask, each current view)."""
        view = jax.vmap(envs.describe, (0, None))(ts.state, width)
        views = jnp.concatenate([memory.views, view[:, None]], 1)
        prompt, mask = jax.vmap(prompter.prompt)(
            ts.state.mission, views, memory.actions, memory.seen
        )
        return prompt, mask, view

    def remember(memory, view, action, valid):
        """After a step: push the observation acted on; a fresh episode remembers nothing."""
        push = lambda old, new: jnp.concatenate([old[:, 1:], new[:, None]], 1)  # noqa: E731
        seen = jnp.where(valid, jnp.minimum(memory.seen + 1, HISTORY - 1), 0)
        return Memory(push(memory.views, view), push(memory.actions, action), seen)

    def empty_memory(n: int) -> Memory:
        return Memory(
            jnp.zeros((n, HISTORY - 1, width), jnp.int32),
            jnp.zeros((n, HISTORY - 1), jnp.int32),
            jnp.zeros(n, jnp.int32),
        )

    def init(key) -> RunnerState:
        k_head, k_env, key = jax.random.split(key, 3)
        head = nnx.state(ValueHead(lm.config.n_embd, nnx.Rngs(k_head)))
        params = {"lm": lm_params, "value_head": head}
        timestep = jax.vmap(env.reset)(jax.random.split(k_env, n_env))
        return RunnerState(params=params, opt_state=tx.init(params), timestep=timestep, key=key,
                           updates_done=zero_count(), mode_state=empty_memory(n_env))  # fmt: skip

    def rollout(params, timestep, memory, key):
        def step(carry, k):
            ts, memory = carry
            prompt, mask, view = observe(ts, memory)
            log_probs, value = policy(params, prompt, mask)
            action = jax.random.categorical(k, log_probs)
            nxt = jax.vmap(env.step)(ts, action)
            valid = ~ts.is_done()
            row = Turn(prompt, mask, action, log_probs[jnp.arange(n_env), action], value,
                       nxt.reward, nxt.is_done(), nxt.is_termination(), valid)  # fmt: skip
            return (nxt, remember(memory, view, action, valid)), (row, nxt.t)

        keys = jax.random.split(key, n_steps)
        return jax.lax.scan(step, (timestep, memory), keys)

    def loss(params, batch: Turn, adv, targets):
        log_probs, value = policy(params, batch.prompt, batch.prompt_mask)
        info = clipped_losses(log_probs, value, batch, adv, targets, ppo.clip_eps)
        # GLAM's value loss is the mean squared error itself (no 1/2)
        total = (
            info["policy_loss"]
            + ppo.vf_coef * 2 * info["value_loss"]
            - ppo.ent_coef * info["entropy"]
        )
        return total, info

    def update(state: RunnerState, index=None):  # index unused: every update does the same
        key, k_roll, k_perm = jax.random.split(state.key, 3)
        (timestep, memory), (rows, lengths) = rollout(
            state.params, state.timestep, state.mode_state, k_roll
        )
        prompt, mask, _ = observe(timestep, memory)
        _, last_value = policy(state.params, prompt, mask)
        scaled = rows._replace(reward=rows.reward * glam.reward_scale)
        adv = gae(scaled, last_value, ppo.gamma, glam.gae_lambda)
        params, opt_state, info = ppo_epochs(
            loss, tx, glam.update_epochs, minibatches,
            state.params, state.opt_state, scaled, adv, k_perm, config.run.check_finite,
        )  # fmt: skip
        bad = {}
        if config.run.check_finite:  # the LM is the student here
            info, bad = nonfinite.ppo_checks(info, params)
        new = RunnerState(params=params, opt_state=opt_state, timestep=timestep, key=key,
                          updates_done=state.updates_done + 1, mode_state=memory)  # fmt: skip
        return new, update_metrics(config, state, episode_metrics(rows, lengths), info, bad)

    def play(state: RunnerState, env, first, steps: int, key, greedy: bool, hints=True):
        """`Trainer.play`: the LM acting from an empty memory (GLAM has no hints)."""

        def act(memory, ts, hint, k):
            prompt, mask, view = observe(ts, memory)
            log_probs, _ = policy(state.params, prompt, mask)
            action = choose(log_probs, k, greedy)
            return action, remember(memory, view, action, ~ts.is_done())

        return play_episodes(env, act, first, steps, key, memory=empty_memory(len(first.t)))

    evaluate = make_evaluate(config, env, play, hinted=False)
    train = scan_updates(init, update, config.num_updates)
    return Trainer(init=init, update=update, train=train, evaluate=evaluate, play=play,
                   policy=policy, env=env, config=config, lm=lm)  # fmt: skip
