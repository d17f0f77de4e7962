"""The Llama family (Llama, Qwen2) against transformers' PyTorch models on random configs of odd
shapes: the same logits from the same files (single, sharded, bf16), both ways, the same greedy
generations; its own tokenizers (byte-level BPE, SentencePiece) through the Bridge; hub ids from
the local cache offline; bidirectional runs with it as the teacher, a GLAM run with it as the
policy."""

import dataclasses
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx
from reference.bpe import bpe_tokenizer
from reference.generation import assert_greedy_matches
from reference.sentencepiece import llama_tokenizer
from tiny import TINY
from transformers import (
    AutoModelForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from jaxbidir import config as C
from jaxbidir import envs, teacher, training
from jaxbidir.envs import language as L
from jaxbidir.teacher import configured

LLAMA3_ROPE = dict(rope_type="llama3", rope_theta=10000.0, factor=8.0, low_freq_factor=1.0,
                   high_freq_factor=4.0, original_max_position_embeddings=64)  # fmt: skip
# name: (family, config, how it is saved). Heads : K/V heads 4:4 (multi-head), 6:2 and 4:2
# (grouped), 5:1 and 3:1 (multi-query); tied and untied; with and without biases; the three rope
# kinds (llama3 with head_dim 8 and theta 1e4 has a high, a medium and two low frequencies).
CASES = {
    "llama-mha": ("llama", dict(vocab_size=97, hidden_size=32, intermediate_size=72,
                  num_attention_heads=4, num_key_value_heads=4, rms_norm_eps=1e-5), "single"),
    "llama-gqa-tied-bias-llama3": ("llama", dict(vocab_size=131, hidden_size=48,
                  intermediate_size=80, num_attention_heads=6, num_key_value_heads=2,
                  tie_word_embeddings=True, attention_bias=True, mlp_bias=True,
                  rope_parameters=LLAMA3_ROPE), "sharded"),
    "llama-mqa-head_dim-linear": ("llama", dict(vocab_size=89, hidden_size=40,
                  intermediate_size=56, num_attention_heads=5, num_key_value_heads=1, head_dim=12,
                  rope_parameters=dict(rope_type="linear", rope_theta=1000.0, factor=2.0)),
                  "single"),
    "qwen2-gqa-tied": ("qwen2", dict(vocab_size=151, hidden_size=64, intermediate_size=96,
                  num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
                  rope_parameters=dict(rope_type="default", rope_theta=1e6)), "bf16"),
    "qwen2-mqa": ("qwen2", dict(vocab_size=103, hidden_size=36, intermediate_size=50,
                  num_attention_heads=3, num_key_value_heads=1), "single"),
}  # fmt: skip
FAMILIES = {"llama": (LlamaConfig, LlamaForCausalLM), "qwen2": (Qwen2Config, Qwen2ForCausalLM)}


def _hf_model(name, seed=0, **overrides):
    """A random transformers model of case `name` (2 layers), with non-trivial norm scales and
    biases (transformers starts them at 1 and 0)."""
    family, kwargs, _ = CASES[name]
    config_class, model_class = FAMILIES[family]
    config = config_class(**{"num_hidden_layers": 2, "max_position_embeddings": 128, **kwargs,
                             **overrides})  # fmt: skip
    torch.manual_seed(seed)
    model = model_class(config).eval()
    with torch.no_grad():
        for p_name, p in model.named_parameters():
            if "norm" in p_name or p_name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    return model


def _saved(model, directory, how):
    """Save `model` as the case says: one file, shards with an index, or in bf16 -> the model as
    transformers reads those files back, in f32 (the reference)."""
    if how == "sharded":
        model.save_pretrained(directory, max_shard_size="20KB")
        assert (directory / "model.safetensors.index.json").exists()
        assert len(list(directory.glob("model-*.safetensors"))) > 2
    elif how == "bf16":
        model.to(torch.bfloat16).save_pretrained(directory)
        header = json.loads(_header(directory / "model.safetensors"))
        assert {v["dtype"] for k, v in header.items() if k != "__metadata__"} == {"BF16"}
    else:
        model.save_pretrained(directory)
    return AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).eval()


def _header(file):
    raw = file.read_bytes()
    return raw[8 : 8 + int.from_bytes(raw[:8], "little")]


def _batch(rng, vocab_size, batch=4, length=13):
    """Random tokens, left-padded: row 1 by 3 tokens, row 2 by 6."""
    tokens = rng.integers(0, vocab_size, (batch, length))
    mask = np.ones((batch, length), np.int64)
    mask[1, :3] = 0
    mask[2, :6] = 0
    return tokens, mask


def _ours(model, tokens, attention_mask):
    mask = teacher.causal_mask(jnp.asarray(attention_mask, bool))
    positions = teacher.positions_from_mask(jnp.asarray(attention_mask))
    logits, hidden, _ = model(jnp.asarray(tokens), positions, mask)
    return np.asarray(logits, np.float32), np.asarray(hidden, np.float32)


def _theirs(model, tokens, attention_mask):
    t, m = torch.as_tensor(np.asarray(tokens)), torch.as_tensor(np.asarray(attention_mask))
    positions = torch.clamp(m.cumsum(-1) - 1, min=0)
    with torch.no_grad():
        out = model(t, attention_mask=m, position_ids=positions, output_hidden_states=True)
    return out.logits.numpy(), out.hidden_states[-1].numpy()


@pytest.mark.parametrize("name", CASES)
def test_logits_match_transformers(tmp_path, name):
    family, kwargs, how = CASES[name]
    reference = _saved(_hf_model(name), tmp_path / "hf", how)
    ours, tokenizer = teacher.load(tmp_path / "hf")
    assert isinstance(ours, teacher.Llama) and tokenizer is None
    assert ours.config.model_type == family
    assert ours.config.tie_word_embeddings == kwargs.get("tie_word_embeddings", False)
    assert hasattr(ours, "lm_head") != ours.config.tie_word_embeddings
    tokens, mask = _batch(np.random.default_rng(1), kwargs["vocab_size"])
    logits, hidden = _ours(ours, tokens, mask)
    ref_logits, ref_hidden = _theirs(reference, tokens, mask)
    real = mask.astype(bool)  # padded positions' outputs are not defined
    diff = np.abs(logits - ref_logits)[real].max()
    print(f"{name} ({how}): max |logit difference| {diff:.2e}")
    assert diff < 1e-4
    assert np.abs(hidden - ref_hidden)[real].max() < 1e-4

    # our files open in transformers as the same family, with the same logits
    teacher.save(ours, None, tmp_path / "ours")
    back = AutoModelForCausalLM.from_pretrained(tmp_path / "ours").eval()
    assert type(back) is FAMILIES[family][1]
    again, _ = _theirs(back, tokens, mask)
    assert np.abs(again - ref_logits)[real].max() < 1e-4
    # and back into ours: the same parameters
    reread, _ = teacher.load(tmp_path / "ours")
    assert reread.config == ours.config
    jax.tree.map(np.testing.assert_array_equal, nnx.state(reread), nnx.state(ours))


def _generate(model, tokens, mask, key=0, **kwargs):
    return teacher.generate(
        model, jnp.asarray(tokens), jnp.asarray(mask, bool), jax.random.PRNGKey(key), **kwargs
    )


@pytest.mark.parametrize("name", CASES)
def test_greedy_generation_matches_transformers(tmp_path, name):
    """20 new tokens from left-padded prompts, with the KV cache, against transformers'
    `generate`; the end token is one that greedy decoding reaches mid-way in row 0."""
    _, kwargs, how = CASES[name]
    # larger weights than transformers' init (std 0.02): peaked distributions, varied tokens
    reference = _saved(_hf_model(name, seed=1, initializer_range=0.2), tmp_path, how)
    ours, _ = teacher.load(tmp_path)
    tokens, mask = _batch(np.random.default_rng(2), kwargs["vocab_size"], length=9)
    new = 20
    run = jax.jit(_generate, static_argnames=("max_new_tokens", "eos_id", "pad_id", "temperature"))
    free = np.asarray(run(ours, tokens, mask, max_new_tokens=new, eos_id=-1, temperature=0)[0])
    assert len(set(free.ravel())) > 10  # not one token over and over
    eos = int(free[0, 7])
    sample = run(ours, tokens, mask, max_new_tokens=new, eos_id=eos, pad_id=0, temperature=0)
    assert_greedy_matches(sample, reference, tokens, mask, new, eos)


def test_sampled_log_probs_are_the_sequence_log_probs():
    """The log-probs `generate` reports (KV cache, one token at a time) are those of one
    forward pass over prompt + continuation: the teacher's loss relies on it."""
    config = teacher.LlamaConfig(vocab_size=61, hidden_size=48, intermediate_size=64,
                                 num_hidden_layers=2, num_attention_heads=6,
                                 num_key_value_heads=3)  # fmt: skip
    model = teacher.Llama(config, rngs=nnx.Rngs(0))
    tokens, mask = _batch(np.random.default_rng(0), 61, batch=8, length=7)
    sample = _generate(model, tokens, mask, 3, max_new_tokens=6, eos_id=5, temperature=1.0)
    again, hidden = teacher.sequence_log_probs(
        model, jnp.asarray(tokens), jnp.asarray(mask, bool), sample.tokens, sample.mask
    )
    np.testing.assert_allclose(again, sample.log_probs, atol=1e-5)
    assert hidden.shape == (8, 6, 48)
    assert model.init_cache(8, 20)[0][0].shape == (8, 3, 20, 8)  # only the K/V heads


def test_bf16_weights_compute_in_bf16(tmp_path):
    """Loaded as bf16, the model computes in bf16 (close to f32, not equal); saved, it writes
    bf16 tensors that transformers reads."""
    reference = _saved(_hf_model("qwen2-gqa-tied"), tmp_path / "hf", "bf16")
    ours, _ = teacher.load(tmp_path / "hf", dtype=jnp.bfloat16)
    assert ours.wte.embedding[...].dtype == jnp.bfloat16
    tokens, mask = _batch(np.random.default_rng(1), 151)
    logits, _ = _ours(ours, tokens, mask)
    ref, _ = _theirs(reference, tokens, mask)
    real = mask.astype(bool)
    assert np.abs(logits - ref)[real].max() < 0.05 * np.abs(ref).max()
    teacher.save(ours, None, tmp_path / "ours")
    header = json.loads(_header(tmp_path / "ours" / "model.safetensors"))
    assert {v["dtype"] for k, v in header.items() if k != "__metadata__"} == {"BF16"}
    back = AutoModelForCausalLM.from_pretrained(tmp_path / "ours", dtype=torch.float32).eval()
    np.testing.assert_allclose(_theirs(back, tokens, mask)[0][real], ref[real], atol=1e-4)


def test_bad_checkpoints_are_clear_errors(tmp_path):
    _hf_model("llama-mha").save_pretrained(tmp_path / "ok")
    raw = json.loads((tmp_path / "ok" / "config.json").read_text())
    weights = (tmp_path / "ok" / "model.safetensors").read_bytes()

    def directory(name, **changes):
        d = tmp_path / name
        d.mkdir()
        (d / "config.json").write_text(json.dumps({**raw, **changes}))
        (d / "model.safetensors").write_bytes(weights)
        return d

    with pytest.raises(ValueError, match=r"'mamba' is not supported.*gpt2, llama, qwen2"):
        teacher.load(directory("mamba", model_type="mamba"))
    with pytest.raises(ValueError, match=r"config.json: rope type 'yarn' is not supported"):
        teacher.load(directory("yarn", rope_parameters={"rope_type": "yarn", "factor": 2.0}))
    with pytest.raises(ValueError, match=r"config.json: hidden_size missing"):
        teacher.load(directory("sizeless", hidden_size=None))
    with pytest.raises(ValueError, match=r"config.json: sliding-window attention"):
        teacher.load(directory("sliding", model_type="qwen2", use_sliding_window=True))
    with pytest.raises(ValueError, match=r"config.json: hidden_act 'gelu'"):
        teacher.load(directory("gelu", hidden_act="gelu"))
    says = r"safetensors: tensor 'model.layers.0.self_attn.k_proj.weight' has shape \(32, 32\)"
    with pytest.raises(ValueError, match=says + r", but .*config.json implies \(16, 32\)"):
        teacher.load(directory("gqa", num_key_value_heads=2))
    says = r"model.safetensors: tensor 'model.layers.0.self_attn.[qkv]_proj.bias' is missing"
    with pytest.raises(ValueError, match=says):
        teacher.load(directory("qwen", model_type="qwen2"))  # Qwen2 has q, k, v biases
    says = r"model.safetensors: tensors not in a llama model: \['model.layers.1.input_layernorm"
    with pytest.raises(ValueError, match=says):
        teacher.load(directory("shallow", num_hidden_layers=1))


def test_the_older_rope_format_reads_the_same(tmp_path):
    """Checkpoints written before transformers 5 (Llama 3.2's, TinyLlama's) keep `rope_theta`
    at the top level and the scaling in `rope_scaling`, with `eos_token_id` a list for Llama 3:
    the same config as the new format."""
    _hf_model("llama-gqa-tied-bias-llama3").save_pretrained(tmp_path / "new")
    new, _ = teacher.load(tmp_path / "new")
    raw = json.loads((tmp_path / "new" / "config.json").read_text())
    rope = raw.pop("rope_parameters")
    old = {**raw, "rope_theta": rope.pop("rope_theta"), "rope_scaling": rope,
           "eos_token_id": [2, 5]}  # fmt: skip
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "config.json").write_text(json.dumps(old))
    (tmp_path / "old" / "model.safetensors").write_bytes(
        (tmp_path / "new" / "model.safetensors").read_bytes()
    )
    config = teacher.load(tmp_path / "old")[0].config
    assert config == dataclasses.replace(new.config, eos_token_id=(2, 5))
    assert config.rope_type == "llama3" and config.rope_original_max_position_embeddings == 64


def _checkpoint(directory, family, tokenizer, **overrides):
    """A random model of `family` saved by transformers with `tokenizer`, positions enough for
    the tiny runs' prompts and hints."""
    name = {"llama": "llama-gqa-tied-bias-llama3", "qwen2": "qwen2-mqa"}[family]
    model = _hf_model(name, vocab_size=len(tokenizer), max_position_embeddings=512,
                      eos_token_id=tokenizer.eos_token_id, **overrides)  # fmt: skip
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


TOKENIZERS = {"byte-level-bpe": bpe_tokenizer, "sentencepiece": llama_tokenizer}


@pytest.mark.parametrize("kind", TOKENIZERS)
def test_the_models_own_tokenizer_goes_through_the_bridge(tmp_path, kind):
    """A Llama saved by transformers with its own tokenizer, byte-level BPE (Llama 3's, Qwen2's,
    SmolLM2's kind) or SentencePiece BPE (Llama 2's, TinyLlama's), loads as a configured
    teacher; its prompts are the tokenizer's encoding of the prompt's text, its hints decode
    back into Baby Language, inside one jitted function."""
    tokenizer = TOKENIZERS[kind](tmp_path / "tokenizer")
    directory = _checkpoint(tmp_path / "lm", "llama", tokenizer)
    lm, tokenizer, _ = configured.load_configured(str(directory), "teacher.path")
    assert isinstance(lm, teacher.Llama)
    bridge = teacher.Bridge.build(tokenizer)
    assert bridge.pieces.shape[1] > 1  # words take several pieces
    env = envs.make("BabyAI-GoToLocal-v0")
    states = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), 8)).state

    @jax.jit
    def hints(states, key):
        view = jax.vmap(envs.describe, (0, None))(states, 16)  # 16 words: a short prompt
        prompt, mask = jax.vmap(bridge.prompt)(states.mission, view)
        sample = teacher.generate(lm, prompt, mask, key, max_new_tokens=bridge.hint_length(),
                                  eos_id=bridge.eos_id)  # fmt: skip
        return view, prompt, mask, jax.vmap(bridge.hint)(sample.tokens, sample.mask)

    view, prompt, mask, said = hints(states, jax.random.PRNGKey(0))
    for i in range(len(prompt)):
        words = [L.WORDS[t] for t in np.asarray(states.mission[i]) if t]
        words += ["."] + [L.WORDS[t] for t in np.asarray(view[i]) if t]
        text = " ".join(["goal", ":", *words, "hint", ":"])
        expected = tokenizer.encode(" " + text, add_special_tokens=False)
        assert np.asarray(prompt[i])[np.asarray(mask[i])].tolist() == expected
    assert ((said >= 0) & (said < envs.VOCAB_SIZE)).all()

    @jax.jit
    def round_trip(states):  # the oracle's subgoals, as the teacher's tokens, and back
        subgoals = jax.vmap(envs.subgoal)(states)
        tokens, masks = jax.vmap(lambda h: bridge.target(h, bridge.hint_length()))(subgoals)
        return subgoals, jax.vmap(bridge.hint)(tokens, masks)

    subgoals, back = round_trip(states)
    np.testing.assert_array_equal(back, subgoals)


def test_a_tokenizer_that_cannot_write_a_word_is_refused_at_load(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from jaxbidir.teacher import vocabulary as V

    vocab = {w: i for i, w in enumerate(w for w in (*V.ALL_WORDS, V.UNK) if w != "key")}
    backend = Tokenizer(models.WordLevel(vocab, unk_token=V.UNK))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token=L.PAD, eos_token=L.EOS, unk_token=V.UNK
    )
    # with a Qwen2 model: the tokenizer is read as saved, not rebuilt as Qwen2's own (which
    # would lose every word of a word-level vocabulary, "go" first)
    directory = _checkpoint(tmp_path / "mute", "qwen2", tokenizer)
    with pytest.raises(ValueError, match=rf"{directory}/tokenizer.json: .* cannot write .* 'key'"):
        configured.load_configured(str(directory), "teacher.path")


@pytest.mark.parametrize("family", ["llama", pytest.param("qwen2", marks=pytest.mark.slow)])
def test_a_bidirectional_run_learns_with_a_llama_family_teacher(tmp_path, family):
    """The fused step end to end with a random Llama / Qwen2 saved by transformers as the
    teacher: two updates, finite metrics, the teacher's parameters moved."""
    directory = _checkpoint(tmp_path / family, family, bpe_tokenizer(tmp_path / "bpe"))
    cfg = C.load(None, {**TINY, "mode": "bidirectional", "teacher.path": str(directory),
                        "teacher.description_length": 16})  # fmt: skip
    start = time.perf_counter()
    trainer = training.make_train(cfg)
    assert isinstance(trainer.lm, teacher.Llama)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    before = state.mode_state.params
    update = jax.jit(trainer.update)
    for _ in range(2):
        state, metrics = update(state)
    metrics = jax.device_get(metrics)
    print(f"{family}: two bidirectional updates in {time.perf_counter() - start:.1f}s")
    # the scores' separation of right from wrong hints is NaN while the hints are all of one
    # kind (this random teacher's are all wrong); everything else is a number
    defined = {k: v for k, v in metrics.items() if k not in ("hint_score_gap", "hint_score_auc")}
    assert all(np.isfinite(v).all() for v in jax.tree.leaves(defined)), metrics
    assert {"teacher_loss", "kl"} <= set(metrics)
    moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), before, state.mode_state.params)
    assert all(jax.tree.leaves(moved))  # every parameter of the teacher learned something


def test_glam_scores_actions_with_a_llama_family_lm(tmp_path):
    """GLAM's policy LM may be a Llama: `fit_lm` grows its vocabulary (an untied head too) for
    the template's new words, leaving the old logits as they were, and the scores of the action
    strings from the shared KV cache are the sums of their tokens' log-probs in one pass."""
    from jaxbidir.glam.agent import action_log_probs, fit_lm

    reference = _hf_model("qwen2-mqa")  # untied head
    reference.save_pretrained(tmp_path)
    lm, _ = teacher.load(tmp_path)
    grown = fit_lm(lm, vocab_size=110, n_positions=300)
    assert (grown.config.vocab_size, grown.config.n_positions) == (110, 300)
    assert grown.lm_head.kernel[...].shape == (36, 110)
    tokens, mask = _batch(np.random.default_rng(0), 103)
    before, _ = _ours(lm, tokens, mask)
    after, _ = _ours(grown, tokens, mask)
    np.testing.assert_allclose(after[..., :103], before, atol=1e-6)

    candidates = jnp.array([[104, 7, 0], [3, 108, 109], [50, 0, 0]])  # right-padded
    candidate_mask = jnp.array([[1, 1, 0], [1, 1, 1], [1, 0, 0]], bool)
    prompt, prompt_mask = jnp.asarray(tokens), jnp.asarray(mask, bool)
    scores, _ = jax.jit(action_log_probs)(grown, prompt, prompt_mask, candidates, candidate_mask)
    for c in range(len(candidates)):
        each, _ = teacher.sequence_log_probs(
            grown, prompt, prompt_mask, jnp.tile(candidates[c], (4, 1)),
            jnp.tile(candidate_mask[c], (4, 1)),
        )  # fmt: skip
        np.testing.assert_allclose(scores[:, c], each.sum(-1), atol=1e-5)


def test_a_glam_run_learns_with_a_llama_lm(tmp_path):
    """mode glam end to end with a random Llama saved by transformers as the policy: one
    update, finite metrics, the LM's parameters moved. The word-level tokenizer keeps GLAM's
    long prompts short (one token a word): a BPE one is the Bridge's business, tested above."""
    directory = _checkpoint(tmp_path / "lm", "llama", teacher.word_level_tokenizer())
    cfg = C.load(None, {"mode": "glam", "glam.lm": str(directory), "env.num_envs": 8,
                        "student.num_steps": 8, "glam.minibatch_size": 32,
                        "glam.description_length": 8, "glam.lr": 1e-3})  # fmt: skip
    trainer = training.make_train(cfg)
    assert isinstance(trainer.lm, teacher.Llama)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    new, metrics = jax.jit(trainer.update)(state)
    assert all(np.isfinite(v).all() for v in jax.tree.leaves(jax.device_get(metrics))), metrics
    moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), state.params["lm"], new.params["lm"])
    assert any(jax.tree.leaves(moved))


def test_a_hub_id_resolves_from_the_local_cache_offline(tmp_path, monkeypatch):
    """`teacher.path=HuggingFaceTB/SmolLM2-135M` with HF_HUB_OFFLINE=1: read from huggingface_hub's
    cache when the files are there (a cache this test lays out itself, as a download would:
    refs/main names the commit, snapshots/<commit>/ holds the files); when they are not, one
    error naming the id and the cache folder."""
    import huggingface_hub.constants as hub

    from jaxbidir.feedback import sources

    cache, repo = tmp_path / "hub", "HuggingFaceTB/SmolLM2-135M"
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(cache))  # what HF_HUB_CACHE=... sets
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)  # what HF_HUB_OFFLINE=1 sets
    says = rf"teacher.path '{repo}' is not a directory, nor .* in the cache \({cache}\)"
    with pytest.raises(FileNotFoundError, match=says):
        configured.load_configured(repo, "teacher.path")

    commit = "0123456789abcdef0123456789abcdef01234567"
    storage = cache / "models--HuggingFaceTB--SmolLM2-135M"
    (storage / "refs").mkdir(parents=True)
    (storage / "refs" / "main").write_text(commit)
    snapshot = _checkpoint(storage / "snapshots" / commit, "llama",
                           bpe_tokenizer(tmp_path / "bpe"))  # fmt: skip
    lm, _, directory = configured.load_configured(repo, "teacher.path")
    assert isinstance(lm, teacher.Llama) and directory == snapshot

    # a run's config names it (`teacher.path=<id>`), and the teacher's hint source loads it
    cfg = C.load(None, {**TINY, "mode": "teacher_frozen", "teacher.path": repo,
                        "teacher.description_length": 16})  # fmt: skip
    assert cfg.teacher.path == repo
    source = sources.make_source(cfg, envs.make(cfg.env.id))
    assert isinstance(source.lm, teacher.Llama)


def test_a_pretrained_lm_is_warm_started_on_the_oracle_corpus(tmp_path):
    """`jaxbidir pretrain-teacher --from DIR`: a Llama saved by transformers, with its own BPE
    tokenizer, fine-tuned on the oracle corpus. Its greedy hints go from wrong to right on the
    level whose hint never changes, and what it writes is a Llama checkpoint that transformers
    loads and generates from as we do, and that a run takes as its teacher."""
    from jaxbidir import cli
    from jaxbidir.teacher import pretrain

    start = _checkpoint(tmp_path / "lm", "llama", bpe_tokenizer(tmp_path / "bpe"))
    tiny = dict(levels="BabyAI-GoToRedBallNoDists-v0", envs_per_level=40, rollout_steps=12,
                snapshot_every=6, description_length=16, steps=100, batch_size=16, lr=3e-3,
                warmup=10)  # fmt: skip
    out = tmp_path / "warm"
    overrides = [f"{k}={v}" for k, v in tiny.items()]
    assert cli.main(["pretrain-teacher", "--from", str(start), "--out", str(out),
                     "--no-progress", *overrides]) == 0  # fmt: skip
    report = json.loads((out / "pretrain.json").read_text())
    assert report["from"] == str(start)

    lm, tokenizer, _ = configured.load_configured(str(out), "teacher.path")
    assert isinstance(lm, teacher.Llama) and lm.config == teacher.load(start)[0].config
    bridge = teacher.Bridge.build(tokenizer)
    cfg = pretrain.PretrainConfig(**tiny)
    _, held, _ = pretrain.build_corpus(cfg, bridge, jax.random.PRNGKey(1))  # other examples
    before, _ = pretrain.hint_accuracy(teacher.load(start)[0], bridge, held, jax.random.PRNGKey(2))
    after, _ = pretrain.hint_accuracy(lm, bridge, held, jax.random.PRNGKey(2))
    assert before == 0.0 and after == 1.0, (before, after)
    assert report["held_out_hint_accuracy"]["greedy"]["all"] == 1.0

    prompt, mask = np.asarray(held["prompt"][:4]), np.asarray(held["prompt_mask"][:4])
    new = held["target"].shape[1]
    sample = teacher.generate(lm, prompt, mask, jax.random.PRNGKey(0), max_new_tokens=new,
                              eos_id=bridge.eos_id, temperature=0.0)  # fmt: skip
    hf_model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    assert_greedy_matches(sample, hf_model, prompt, mask, new, bridge.eos_id)
