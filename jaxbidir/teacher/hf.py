"""The Hugging Face format both ways: `load(dir)` reads any GPT-2-family checkpoint on disk;
`save(model, tokenizer, dir)` writes files `transformers.GPT2LMHeadModel.from_pretrained` and
`AutoTokenizer.from_pretrained` open.

Names: HF's `transformer.h.0.attn.c_attn.weight` is our `h.0.attn.c_attn.kernel` (the same
(in, out) layout), LayerNorm `weight` is our `scale`, embeddings `weight` our `embedding`.
Checkpoints saved from the bare `GPT2Model` (the original `gpt2` files) have no `transformer.`
prefix; both are read. The LM head is tied to `wte`, so `lm_head.weight` is not stored.
"""

import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from flax import nnx

from .model import GPT2, GPT2Config

_BUFFERS = (".attn.bias", ".attn.masked_bias")  # causal-mask buffers in old checkpoints


def _hf_name(path: tuple) -> str:
    """Our parameter path -> HF tensor name (without the `transformer.` prefix)."""
    *module, leaf = (str(p) for p in path)
    leaf = {"kernel": "weight", "scale": "weight", "embedding": "weight"}.get(leaf, leaf)
    return ".".join([*module, leaf])


def _read_tensors(directory: Path) -> tuple[dict, Path]:
    safetensors_file = directory / "model.safetensors"
    torch_file = directory / "pytorch_model.bin"
    if safetensors_file.exists():
        from safetensors.numpy import load_file

        return load_file(str(safetensors_file)), safetensors_file
    if torch_file.exists():
        try:
            import torch
        except ImportError:
            raise ImportError(
                f"{torch_file} is a PyTorch file and PyTorch is not installed: "
                f"pip install torch, or convert it to model.safetensors"
            ) from None
        tensors = torch.load(torch_file, map_location="cpu", weights_only=True)
        return {k: v.float().numpy() for k, v in tensors.items()}, torch_file
    raise FileNotFoundError(f"no model.safetensors or pytorch_model.bin in {directory}")


def load(directory, dtype=jnp.float32):
    """(GPT2 model, transformers tokenizer or None) from a Hugging Face checkpoint directory."""
    directory = Path(directory)
    config_file = directory / "config.json"
    if not config_file.exists():
        raise FileNotFoundError(f"no config.json in {directory} (a Hugging Face checkpoint dir?)")
    raw = json.loads(config_file.read_text())
    if raw.get("model_type") != "gpt2":
        raise ValueError(
            f"{config_file}: model_type {raw.get('model_type')!r} is not GPT-2; the teacher "
            f"reads GPT-2-family checkpoints (gpt2, distilgpt2, ...)"
        )
    config = GPT2Config.from_dict(raw)
    tensors, weights_file = _read_tensors(directory)
    tensors = {
        k.removeprefix("transformer."): v
        for k, v in tensors.items()
        if not k.endswith(_BUFFERS) and k != "lm_head.weight"
    }
    abstract = nnx.eval_shape(lambda: GPT2(config, rngs=nnx.Rngs(0)))
    graphdef, state = nnx.split(abstract)
    flat = nnx.to_flat_state(state)
    values = []
    for path, variable in flat:
        name = _hf_name(path)
        if name not in tensors:
            raise ValueError(f"{weights_file}: tensor {name!r} is missing")
        value = tensors.pop(name)
        if value.shape != variable.get_value().shape:
            raise ValueError(
                f"{weights_file}: tensor {name!r} has shape {value.shape}, but {config_file} "
                f"implies {variable.get_value().shape}"
            )
        values.append((path, variable.replace(jnp.asarray(value, dtype))))
    if tensors:
        raise ValueError(f"{weights_file}: tensors not in a GPT-2 model: {sorted(tensors)[:5]}")
    model = nnx.merge(graphdef, nnx.from_flat_state(values))
    return model, _load_tokenizer(directory)


def _load_tokenizer(directory: Path):
    names = ("tokenizer.json", "vocab.json", "tokenizer_config.json")
    if not any((directory / n).exists() for n in names):
        return None
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(directory))


def save(model: GPT2, tokenizer, directory) -> None:
    """Write config.json, model.safetensors (and the tokenizer's files when given)."""
    from safetensors.numpy import save_file
    from transformers import GPT2Config as HFConfig

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    c = model.config
    HFConfig(
        vocab_size=c.vocab_size,
        n_positions=c.n_positions,
        n_embd=c.n_embd,
        n_layer=c.n_layer,
        n_head=c.n_head,
        layer_norm_epsilon=c.layer_norm_epsilon,
        bos_token_id=c.bos_token_id,
        eos_token_id=c.eos_token_id,
        tie_word_embeddings=True,
    ).save_pretrained(str(directory))
    tensors = {
        f"transformer.{_hf_name(path)}": np.asarray(variable.get_value(), np.float32)
        for path, variable in nnx.to_flat_state(nnx.state(model, nnx.Param))
    }
    save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})
    if tokenizer is not None:
        tokenizer.save_pretrained(str(directory))
