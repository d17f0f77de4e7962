"""The teacher against transformers' PyTorch GPT-2: same logits from the same files, both ways."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx
from reference.generation import assert_greedy_matches
from transformers import GPT2Config as HFConfig
from transformers import GPT2LMHeadModel

from jaxbidir import teacher

CONFIGS = [
    dict(vocab_size=97, n_positions=32, n_embd=32, n_layer=2, n_head=4),
    dict(vocab_size=211, n_positions=64, n_embd=48, n_layer=3, n_head=3),
    dict(vocab_size=64, n_positions=16, n_embd=16, n_layer=1, n_head=1),
]


def _hf_model(seed, **kwargs):
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(HFConfig(**kwargs)).eval()
    with torch.no_grad():  # non-trivial LayerNorm parameters and biases
        for name, p in model.named_parameters():
            if "ln" in name or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    return model


def _ours(model, tokens, attention_mask):
    mask = teacher.causal_mask(jnp.asarray(attention_mask, bool))
    positions = teacher.positions_from_mask(jnp.asarray(attention_mask))
    logits, hidden, _ = model(jnp.asarray(tokens), positions, mask)
    return np.asarray(logits), np.asarray(hidden)


def _theirs(model, tokens, attention_mask):
    t = torch.as_tensor(np.asarray(tokens))
    m = torch.as_tensor(np.asarray(attention_mask))
    positions = torch.clamp(m.cumsum(-1) - 1, min=0)
    with torch.no_grad():
        out = model(t, attention_mask=m, position_ids=positions, output_hidden_states=True)
    return out.logits.numpy(), out.hidden_states[-1].numpy()


def _batch(rng, config, batch=3, length=None):
    length = length or config["n_positions"] // 2
    tokens = rng.integers(0, config["vocab_size"], (batch, length))
    mask = np.ones((batch, length), np.int64)
    mask[1, :3] = 0  # left padding in one row
    return tokens, mask


@pytest.mark.parametrize("index", range(len(CONFIGS)))
def test_logits_match_transformers(tmp_path, index):
    config = CONFIGS[index]
    hf = _hf_model(index, **config)
    hf.save_pretrained(tmp_path / "hf")
    ours, tokenizer = teacher.load(tmp_path / "hf")
    assert tokenizer is None
    tokens, mask = _batch(np.random.default_rng(index), config)
    logits, hidden = _ours(ours, tokens, mask)
    ref_logits, ref_hidden = _theirs(hf, tokens, mask)
    real = mask.astype(bool)  # padded positions' outputs are not defined
    assert np.abs(logits - ref_logits)[real].max() < 1e-4
    assert np.abs(hidden - ref_hidden)[real].max() < 1e-4

    # our files open in transformers and give the same logits
    teacher.save(ours, None, tmp_path / "ours")
    back = GPT2LMHeadModel.from_pretrained(tmp_path / "ours").eval()
    again, _ = _theirs(back, tokens, mask)
    assert np.abs(again - ref_logits)[real].max() < 1e-4


def test_bad_checkpoints_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        teacher.load(tmp_path)
    hf = _hf_model(0, **CONFIGS[0])
    hf.save_pretrained(tmp_path / "ok")
    raw = json.loads((tmp_path / "ok" / "config.json").read_text())

    other = tmp_path / "mamba"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({**raw, "model_type": "mamba"}))
    with pytest.raises(ValueError, match="'mamba' is not supported.*gpt2, llama, qwen2"):
        teacher.load(other)

    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "config.json").write_text(json.dumps({**raw, "n_embd": 64}))
    (wrong / "model.safetensors").write_bytes((tmp_path / "ok" / "model.safetensors").read_bytes())
    says = r"model.safetensors: tensor 'h.0.attn.c_attn.bias' has shape \(96,\), but .*config.json"
    with pytest.raises(ValueError, match=says):
        teacher.load(wrong)

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text(json.dumps(raw))
    with pytest.raises(FileNotFoundError, match="no model.safetensors or pytorch_model.bin"):
        teacher.load(empty)


def _generate(model, tokens, mask, key=0, **kwargs):
    return teacher.generate(
        model, jnp.asarray(tokens), jnp.asarray(mask, bool), jax.random.PRNGKey(key), **kwargs
    )


@pytest.mark.parametrize("index", range(2))
def test_greedy_generation_matches_transformers(tmp_path, index):
    config = CONFIGS[index]
    hf = _hf_model(index, **config)
    hf.save_pretrained(tmp_path)
    ours, _ = teacher.load(tmp_path)
    tokens, mask = _batch(np.random.default_rng(index), config, batch=4, length=9)
    new = 8
    # end token: one that greedy decoding reaches mid-way in row 0, so that stopping is tested
    eos = int(_generate(ours, tokens, mask, max_new_tokens=new, eos_id=-1, temperature=0)[0][0, 3])
    sample = _generate(ours, tokens, mask, max_new_tokens=new, eos_id=eos, pad_id=0, temperature=0)
    assert_greedy_matches(sample, hf, tokens, mask, new, eos)


def test_sampled_log_probs_are_the_sequence_log_probs():
    config = teacher.GPT2Config(**CONFIGS[1])
    model = teacher.GPT2(config, rngs=nnx.Rngs(0))
    tokens, mask = _batch(np.random.default_rng(0), CONFIGS[1], batch=16, length=7)
    for temperature, top_k in [(1.0, 0), (0.7, 5)]:
        sample = _generate(model, tokens, mask, 3, max_new_tokens=6, eos_id=5,
                           temperature=temperature, top_k=top_k)  # fmt: skip
        again, hidden = teacher.sequence_log_probs(
            model, jnp.asarray(tokens), jnp.asarray(mask, bool), sample.tokens, sample.mask
        )
        np.testing.assert_allclose(again, sample.log_probs, atol=1e-5)
        assert hidden.shape == (16, 6, config.n_embd)
    # top-k keeps only the k most likely tokens
    logits, _, _ = model(jnp.asarray(tokens), teacher.positions_from_mask(jnp.asarray(mask)),
                         teacher.causal_mask(jnp.asarray(mask, bool)))  # fmt: skip
    top = np.argsort(np.asarray(logits[:, -1]), -1)[:, -5:]
    first = np.asarray(sample.tokens[:, 0])
    assert all(first[i] in top[i] for i in range(16))


def test_reads_a_pytorch_bin_of_the_bare_model(tmp_path):
    """The original gpt2 / distilgpt2 files: `pytorch_model.bin`, no `transformer.` prefix."""
    hf = _hf_model(0, **CONFIGS[0])
    hf.config.save_pretrained(tmp_path)
    torch.save(hf.transformer.state_dict(), tmp_path / "pytorch_model.bin")
    ours, _ = teacher.load(tmp_path)
    tokens, mask = _batch(np.random.default_rng(0), CONFIGS[0])
    logits, _ = _ours(ours, tokens, mask)
    ref, _ = _theirs(hf, tokens, mask)
    assert np.abs(logits - ref)[mask.astype(bool)].max() < 1e-4
