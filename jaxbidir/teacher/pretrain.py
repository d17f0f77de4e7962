"""The default teacher: a tiny GPT-2 pretrained on an oracle corpus with controlled imperfection;
or a pretrained LM (GPT-2, Llama or Qwen2 family) fine-tuned on the same corpus (warm start).

    jaxbidir pretrain-teacher [--out DIR] [key=value ...]      (make pretrain-teacher)
    jaxbidir pretrain-teacher --from DIR_OR_HUB_ID [--out DIR] [key=value ...]

The corpus comes from the JAX levels: environments act at random and, every few steps, a
snapshot gives a prompt (the mission and the description of what the agent sees, `Bridge.prompt`)
and a target (the oracle subgoal, `envs.subgoal`). Two kinds of imperfection, each on a configured
fraction of the training examples, leave the teacher something for the student's feedback to fix:
- `wrong_hint`: the target names a wrong colour or a wrong object type (one word swapped);
- `partial_view`: the prompt shows only the first sentences of the view, so the target is not
  always supported by what the prompt says.
Held-out examples (from other environments) keep the full view and the true subgoal: the hint
accuracy reported is exact agreement with the oracle there, greedy and sampled at temperature 1.

With `--from`, the model and its own tokenizer come from the checkpoint (a directory or a hub id,
resolved as `teacher.path` is), the model keys below (`n_embd` ...) are not used, and the same
corpus with the same imperfection fine-tunes it; `lr` is then the fine-tuning rate (a pretrained
LM wants a smaller one than 2e-3, e.g. `lr=1e-4`).

The result is saved in the Hugging Face format with `pretrain.json` (config, corpus figures,
accuracies); the one in `jaxbidir/teacher/pretrained/` ships with the package (loaded at run time by
`configured.py`). The same config
and seed rebuild the same weights on the same machine.
"""

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from .. import envs
from ..config import check_bounds, field
from ..envs import language as L
from . import configured, hf
from .model import GPT2, GPT2Config
from .sampling import LM, generate, sequence_log_probs
from .vocabulary import ALL_WORDS, Bridge, word_level_tokenizer

DEFAULT_LEVELS = (
    "BabyAI-GoToRedBallNoDists-v0,BabyAI-GoToLocal-v0,BabyAI-PickupLoc-v0,"
    "BabyAI-PutNextLocal-v0,BabyAI-MixedTrainLocal-v0"
)


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    """How the default teacher is built (flat `key=value` overrides on the command line)."""

    # corpus
    levels: str = DEFAULT_LEVELS  # comma-separated level ids
    envs_per_level: int = field(640, above=0)  # the last `held_out` fraction are held out
    rollout_steps: int = field(48, above=0)  # random-action steps per environment ...
    snapshot_every: int = field(6, above=0)  # ... with a snapshot every this many steps
    held_out: float = field(0.1, min=0, below=1)
    wrong_hint: float = field(0.2, min=0, below=1)  # training targets with a wrong word
    partial_view: float = field(0.2, min=0, below=1)  # training prompts cut to first sentences
    description_length: int = field(96, above=0)  # Baby Language tokens of the view
    # model
    n_embd: int = field(128, above=0)
    n_layer: int = field(3, above=0)
    n_head: int = field(4, above=0)
    n_positions: int = field(160, above=0)
    # optimisation
    steps: int = field(1500, above=0)
    batch_size: int = field(64, above=0)
    lr: float = field(2e-3, above=0)
    warmup: int = field(100, min=0)
    weight_decay: float = field(0.01, min=0)
    seed: int = field(0, min=0)

    def __post_init__(self):
        check_bounds(self)
        if self.warmup >= self.steps:
            raise ValueError(f"config: warmup ({self.warmup}) must be in [0, steps={self.steps})")
        if int(self.envs_per_level * self.held_out) < 1 and self.held_out:
            raise ValueError("config: envs_per_level * held_out must hold at least 1 environment")
        for level in self.level_ids:
            envs.make(level)  # raises with the list of known levels
        GPT2Config(n_embd=self.n_embd, n_head=self.n_head)  # raises when not divisible

    @property
    def level_ids(self) -> list[str]:
        return [s.strip() for s in self.levels.split(",") if s.strip()]


# ---------------------------------------------------------------------------------------------
# corpus


def snapshots(env, key, num_envs, steps, every, description_length):
    """Random-action play in `num_envs` environments -> Baby Language examples, a dict of
    i32[N, ...] (mission, description, hint; and `cut` bool[N], whether `description_length`
    left sentences out) with N = num_envs * (steps // every) ordered by environment."""

    def record(ts):
        s = ts.state
        description = envs.describe(s, description_length)
        whole = envs.describe(s, envs.DESCRIPTION_LENGTH)
        cut = (whole != L.PAD_ID).sum() > (description != L.PAD_ID).sum()
        return s.mission, description, envs.subgoal(s), cut

    def body(ts, key):
        action = jax.random.randint(key, (num_envs,), 0, envs.NUM_ACTIONS - 1)  # not `done`
        ts = jax.vmap(env.step)(ts, action)
        return ts, jax.vmap(record)(ts)

    k_reset, k_act = jax.random.split(key)
    ts = jax.vmap(env.reset)(jax.random.split(k_reset, num_envs))
    _, recorded = jax.lax.scan(body, ts, jax.random.split(k_act, steps))
    pick = lambda x: x[every - 1 :: every].swapaxes(0, 1).reshape(-1, *x.shape[2:])  # noqa: E731
    names = ("mission", "description", "hint", "cut")
    return {name: pick(x) for name, x in zip(names, recorded, strict=True)}


def partial(description, key):
    """The description cut to its first k sentences, k uniform below the number it has."""
    dot = description == L.VOCAB["."]
    sentence = jnp.cumsum(dot) - dot  # index of the sentence each token belongs to
    keep = jax.random.randint(key, (), 0, jnp.maximum(dot.sum(), 1))
    return jnp.where(sentence < keep, description, L.PAD_ID)


def imperfect(example, key, wrong_hint, partial_view):
    """One training example with the configured imperfection applied at random; also returns
    whether each kind was applied (and changed something)."""
    k1, k2, k3, k4 = jax.random.split(key, 4)
    hint = jnp.where(jax.random.uniform(k1) < wrong_hint, L.wrong_word(example["hint"], k2),
                     example["hint"])  # fmt: skip
    cut = jnp.where(jax.random.uniform(k3) < partial_view, partial(example["description"], k4),
                    example["description"])  # fmt: skip
    changed = {
        "wrong_hint": jnp.any(hint != example["hint"]),
        "partial_view": jnp.any(cut != example["description"]),
    }
    return {**example, "hint": hint, "description": cut}, changed


def build_corpus(config: PretrainConfig, bridge: Bridge, key):
    """(train set, held-out set, corpus figures); each set a dict of prompt i32[N,P],
    prompt_mask bool[N,P], target i32[N,T], target_mask bool[N,T] (the teacher's tokens), hint
    i32[N,K] (Baby Language) and level i32[N] (index in `config.level_ids`)."""
    train, held, figures = [], [], {"levels": {}}
    n_held = int(config.envs_per_level * config.held_out)
    per_env = config.rollout_steps // config.snapshot_every
    for level_index, level in enumerate(config.level_ids):
        key, k_play, k_noise = jax.random.split(key, 3)
        env = envs.make(level)
        play = lambda k, env=env: snapshots(  # noqa: E731
            env, k, config.envs_per_level, config.rollout_steps, config.snapshot_every,
            config.description_length,
        )  # fmt: skip
        examples = jax.jit(play)(k_play)
        examples["level"] = jnp.full(len(examples["hint"]), level_index)
        n_train = len(examples["hint"]) - n_held * per_env  # examples are ordered by environment
        train_part = jax.tree.map(lambda x, n=n_train: x[:n], examples)
        held_part = jax.tree.map(lambda x, n=n_train: x[n:], examples)
        keys = jax.random.split(k_noise, n_train)
        noisy, changed = jax.jit(jax.vmap(imperfect, in_axes=(0, 0, None, None)))(
            train_part, keys, config.wrong_hint, config.partial_view
        )
        train.append(noisy)
        held.append(held_part)
        figures["levels"][level] = {
            "train": int(n_train),
            "held_out": int(n_held * per_env),
            "wrong_hint": round(float(changed["wrong_hint"].mean()), 4),
            "partial_view": round(float(changed["partial_view"].mean()), 4),
            "view_cut_by_description_length": round(float(examples["cut"].mean()), 4),
        }
    train = jax.tree.map(lambda *x: jnp.concatenate(x), *train)
    held = jax.tree.map(lambda *x: jnp.concatenate(x), *held)
    return _tokenise(train, bridge), _tokenise(held, bridge), figures


def _tokenise(examples, bridge: Bridge):
    prompt, prompt_mask = jax.jit(jax.vmap(bridge.prompt))(
        examples["mission"], examples["description"]
    )
    width = bridge.hint_length()
    target, target_mask = jax.jit(jax.vmap(lambda h: bridge.target(h, width)))(examples["hint"])
    # every prompt is left-padded to the static maximum; drop the columns no prompt uses
    used = int(prompt_mask.sum(1).max())
    return {
        "prompt": prompt[:, -used:],
        "prompt_mask": prompt_mask[:, -used:],
        "target": target,
        "target_mask": target_mask,
        "hint": examples["hint"],
        "level": examples["level"],
    }


# ---------------------------------------------------------------------------------------------
# training and evaluation


def hint_loss(model, batch):
    """Mean negative log-likelihood per target token (the prompt is not predicted)."""
    log_probs, _ = sequence_log_probs(
        model, batch["prompt"], batch["prompt_mask"], batch["target"], batch["target_mask"]
    )
    return -log_probs.sum() / batch["target_mask"].sum()


def train(config: PretrainConfig, model: LM, data, key, progress=True):
    """Adam(W) with warm-up and cosine decay on random batches of `data` -> (the trained model,
    the loss per chunk of steps, seconds per step after compilation (None with one chunk))."""
    from tqdm import tqdm

    schedule = optax.warmup_cosine_decay_schedule(0.0, config.lr, config.warmup, config.steps)
    tx = optax.chain(
        optax.clip_by_global_norm(1.0), optax.adamw(schedule, weight_decay=config.weight_decay)
    )
    graphdef, params = nnx.split(model)
    opt_state = tx.init(params)
    size = len(data["target"])

    def step(carry, key):
        params, opt_state = carry
        index = jax.random.randint(key, (config.batch_size,), 0, size)
        batch = jax.tree.map(lambda x: x[index], data)
        loss, grads = jax.value_and_grad(lambda p: hint_loss(nnx.merge(graphdef, p), batch))(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    chunk = min(50, max(1, config.steps // 2))  # two chunks at least: one timed apart
    run = jax.jit(lambda c, k: jax.lax.scan(step, c, jax.random.split(k, chunk)))
    losses, seconds, carry = [], [], (params, opt_state)
    bar = tqdm(total=config.steps, disable=not progress, desc="pretrain teacher", unit="step")
    for k in jax.random.split(key, -(-config.steps // chunk)):
        start = time.perf_counter()
        carry, loss = run(carry, k)
        losses.append(float(loss.mean()))  # waits for the chunk
        seconds.append(time.perf_counter() - start)
        bar.update(chunk)
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    bar.close()
    # the first chunk compiles; the others give the cost of a step
    per_step = float(np.median(seconds[1:])) / chunk if len(seconds) > 1 else None
    return nnx.merge(graphdef, carry[0]), losses, per_step


def hint_accuracy(model: LM, bridge: Bridge, data, key, temperature=0.0, batch=512):
    """Fraction of examples whose generated hint equals the oracle's `hint` exactly (per level
    too, by `data["level"]`), at `temperature` (0: greedy)."""
    graphdef, state = nnx.split(model)

    @jax.jit
    def correct(state, prompt, mask, hint, key):
        sample = generate(
            nnx.merge(graphdef, state), prompt, mask, key, max_new_tokens=data["target"].shape[1],
            eos_id=bridge.eos_id, pad_id=bridge.pad_id, temperature=temperature,
        )  # fmt: skip
        said = jax.vmap(bridge.hint)(sample.tokens, sample.mask)
        return jnp.all(said == hint, -1)

    hits = []
    for start in range(0, len(data["hint"]), batch):
        part = slice(start, start + batch)
        key, k = jax.random.split(key)
        hits.append(correct(state, data["prompt"][part], data["prompt_mask"][part],
                            data["hint"][part], k))  # fmt: skip
    hits = np.concatenate(hits)
    level = np.asarray(data["level"])
    return float(hits.mean()), [float(hits[level == i].mean()) for i in range(level.max() + 1)]


def pretrain(config: PretrainConfig, out, progress=True, start_from: str = "") -> dict:
    """Build the corpus, train (from scratch, or from the checkpoint `start_from`: a directory
    or a hub id), evaluate and save the teacher in `out` (replaced atomically)."""
    start = time.perf_counter()
    key = jax.random.PRNGKey(config.seed)
    k_corpus, k_init, k_train, k_eval = jax.random.split(key, 4)
    if start_from:
        model, tokenizer, start_from = configured.load_configured(start_from, "--from")
        positions, fix = model.config.n_positions, "lower description_length"
    else:
        tokenizer = word_level_tokenizer()
        positions, fix = config.n_positions, "raise n_positions or lower description_length"
    bridge = Bridge.build(tokenizer)
    train_data, held_data, figures = build_corpus(config, bridge, k_corpus)
    length = train_data["prompt"].shape[1] + train_data["target"].shape[1]
    if length > positions:
        raise ValueError(
            f"config: prompts and hints take up to {length} tokens but the model has "
            f"{positions} positions; {fix}"
        )
    if not start_from:
        gpt = GPT2Config(
            vocab_size=len(tokenizer), n_positions=config.n_positions, n_embd=config.n_embd,
            n_layer=config.n_layer, n_head=config.n_head, bos_token_id=bridge.eos_id,
            eos_token_id=bridge.eos_id,
        )  # fmt: skip
        assert len(tokenizer) == len(ALL_WORDS) + 1
        model = GPT2(gpt, rngs=nnx.Rngs(int(jax.random.randint(k_init, (), 0, 2**30))))
    model, losses, seconds_per_step = train(config, model, train_data, k_train, progress)

    accuracy = {}
    for name, temperature in [("greedy", 0.0), ("sampled", 1.0)]:
        overall, per_level = hint_accuracy(model, bridge, held_data, k_eval, temperature)
        accuracy[name] = {
            "all": round(overall, 4),
            **{lv: round(a, 4) for lv, a in zip(config.level_ids, per_level, strict=True)},
        }
    params = sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
    report = {
        "config": dataclasses.asdict(config),
        "from": str(start_from) if start_from else None,
        "parameters": int(params),
        "corpus": figures,
        "final_loss": round(losses[-1], 4),
        "held_out_hint_accuracy": accuracy,
        "seconds": round(time.perf_counter() - start, 1),
        "seconds_per_step": seconds_per_step and round(seconds_per_step, 3),
        "device": jax.devices()[0].device_kind,
    }
    hf.save_atomically(model, tokenizer, out, {"pretrain.json": report})
    return report
