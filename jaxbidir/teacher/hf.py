"""The Hugging Face format both ways: `load(dir)` reads a GPT-2-, Llama- or Qwen2-family checkpoint
on disk, the family from `config.json`'s `model_type`; `save(model, tokenizer, dir)` writes files
that transformers' `AutoModelForCausalLM.from_pretrained` and `AutoTokenizer.from_pretrained` open.

Weights: `model.safetensors`, or shards listed in `model.safetensors.index.json`, or
`pytorch_model.bin` where PyTorch is installed; f32 or bf16 on disk, cast to the `dtype`
asked for.

GPT-2 names: HF's `transformer.h.0.attn.c_attn.weight` is our `h.0.attn.c_attn.kernel` (the same
(in, out) layout), LayerNorm `weight` is our `scale`, embeddings `weight` our `embedding`.
Checkpoints saved from the bare `GPT2Model` (the original `gpt2` files) have no `transformer.`
prefix; both are read. The LM head is tied to `wte`, so `lm_head.weight` is not stored.

Llama / Qwen2 names: `model.embed_tokens` is our `wte`, `model.layers` our `h`, `model.norm` our
`ln_f`; inside a block the names are the same. PyTorch's `nn.Linear.weight` is (out, in), the
transpose of `nnx.Linear.kernel`. A tied LM head is not stored (or ignored when it is).
"""

import json
import shutil
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from flax import nnx

from .llama import Llama, LlamaConfig
from .model import GPT2, GPT2Config

SUPPORTED = ("gpt2", "llama", "qwen2")  # config.json's model_type
_GPT2_BUFFERS = (".attn.bias", ".attn.masked_bias")  # causal-mask buffers in old checkpoints
_LLAMA_BUFFERS = (".rotary_emb.inv_freq",)  # rotary tables in old checkpoints
_LLAMA_TOP = {"wte": "model.embed_tokens", "h": "model.layers", "ln_f": "model.norm"}


def _hf_name(path: tuple) -> str:
    """Our GPT-2 parameter path -> HF tensor name (without the `transformer.` prefix)."""
    *module, leaf = (str(p) for p in path)
    leaf = {"kernel": "weight", "scale": "weight", "embedding": "weight"}.get(leaf, leaf)
    return ".".join([*module, leaf])


def _llama_hf_name(path: tuple) -> str:
    """Our Llama parameter path -> HF tensor name (`h.0.self_attn.q_proj.kernel` ->
    `model.layers.0.self_attn.q_proj.weight`)."""
    top, *rest = _hf_name(path).split(".")
    return ".".join([_LLAMA_TOP.get(top, top), *rest])


def _read_safetensors(file: Path) -> dict:
    """{name: array} of one safetensors file, in its own dtype (bf16 too, which
    `safetensors.numpy` cannot read: the arrays come through jax)."""
    from safetensors import safe_open

    with safe_open(str(file), framework="flax") as f:
        return {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 (not a dict)


def _read_tensors(directory: Path) -> tuple[dict, Path]:
    """({name: array}, the file that names them) from a single safetensors file, sharded ones
    (listed by the index file), or a PyTorch file."""
    safetensors_file = directory / "model.safetensors"
    index_file = directory / "model.safetensors.index.json"
    torch_file = directory / "pytorch_model.bin"
    if safetensors_file.exists():
        return _read_safetensors(safetensors_file), safetensors_file
    if index_file.exists():
        shards = sorted(set(json.loads(index_file.read_text())["weight_map"].values()))
        if missing := [s for s in shards if not (directory / s).exists()]:
            raise FileNotFoundError(f"{index_file}: shard {missing[0]} is missing")
        tensors = {}
        for shard in shards:
            tensors.update(_read_safetensors(directory / shard))
        return tensors, index_file
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
    raise FileNotFoundError(
        f"no model.safetensors or pytorch_model.bin (nor model.safetensors.index.json) in "
        f"{directory}"
    )


def load(directory, dtype=jnp.float32):
    """(model, transformers tokenizer or None) from a Hugging Face checkpoint directory: a `GPT2`
    for `model_type` gpt2, a `Llama` for llama and qwen2; parameters in `dtype`."""
    directory = Path(directory)
    config_file = directory / "config.json"
    if not config_file.exists():
        raise FileNotFoundError(f"no config.json in {directory} (a Hugging Face checkpoint dir?)")
    raw = json.loads(config_file.read_text())
    model_type = raw.get("model_type")
    if model_type not in SUPPORTED:
        raise ValueError(
            f"{config_file}: model_type {model_type!r} is not supported; the teacher reads "
            f"{', '.join(SUPPORTED)} checkpoints (gpt2, distilgpt2; SmolLM2, TinyLlama, Llama 3.2; "
            f"Qwen2.5)"
        )
    # the config first: a config this port cannot run is an error before any weight is read
    if model_type == "gpt2":
        config = GPT2Config.from_dict(raw)
    else:
        config = LlamaConfig.from_dict(raw, str(config_file))
    tensors, weights_file = _read_tensors(directory)
    if model_type == "gpt2":
        abstract = nnx.eval_shape(lambda: GPT2(config, rngs=nnx.Rngs(0)))
        tensors = {
            k.removeprefix("transformer."): v
            for k, v in tensors.items()
            if not k.endswith(_GPT2_BUFFERS) and k != "lm_head.weight"
        }
        name_of, transposed = _hf_name, False
    else:
        abstract = nnx.eval_shape(lambda: Llama(config, rngs=nnx.Rngs(0)))
        tensors = {
            k: v
            for k, v in tensors.items()
            if not k.endswith(_LLAMA_BUFFERS)
            and not (k == "lm_head.weight" and config.tie_word_embeddings)
        }
        name_of, transposed = _llama_hf_name, True  # torch's Linear is (out, in)
    graphdef, state = nnx.split(abstract)
    values = []
    for path, variable in nnx.to_flat_state(state):
        name = name_of(path)
        if name not in tensors:
            raise ValueError(f"{weights_file}: tensor {name!r} is missing")
        value = tensors.pop(name)
        expected = variable.get_value().shape
        flip = transposed and path[-1] == "kernel"
        if flip:
            expected = expected[::-1]  # say it in the file's layout
        if tuple(value.shape) != expected:
            raise ValueError(
                f"{weights_file}: tensor {name!r} has shape {tuple(value.shape)}, but "
                f"{config_file} implies {expected}"
            )
        value = jnp.asarray(value, dtype)
        values.append((path, variable.replace(value.T if flip else value)))
    if tensors:
        raise ValueError(
            f"{weights_file}: tensors not in a {model_type} model: {sorted(tensors)[:5]}"
        )
    model = nnx.merge(graphdef, nnx.from_flat_state(values))
    return model, load_tokenizer(directory)


_GENERIC_TOKENIZERS = ("TokenizersBackend", "PreTrainedTokenizerFast")


def load_tokenizer(directory: Path):
    """The tokenizer saved in `directory`, or None. A generic fast tokenizer (ours, the tests')
    is read from its `tokenizer.json` as saved: transformers' `AutoTokenizer` would rebuild it
    as the model family's own class for some families (Qwen2's byte-level pre-tokenizer over a
    word-level vocabulary loses every word)."""
    names = ("tokenizer.json", "vocab.json", "tokenizer.model", "tokenizer_config.json")
    if not any((directory / n).exists() for n in names):
        return None
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    settings = directory / "tokenizer_config.json"
    declared = (
        json.loads(settings.read_text()).get("tokenizer_class") if settings.exists() else None
    )
    if declared in _GENERIC_TOKENIZERS and (directory / "tokenizer.json").exists():
        return PreTrainedTokenizerFast.from_pretrained(str(directory))
    return AutoTokenizer.from_pretrained(str(directory))


def save(model: GPT2 | Llama, tokenizer, directory) -> None:
    """Write config.json, model.safetensors (and the tokenizer's files when given). GPT-2's
    weights are written in f32; a Llama-family model's in its parameters' dtype (f32 or bf16)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if isinstance(model, Llama):
        _save_llama(model, directory)
    else:
        _save_gpt2(model, directory)
    if tokenizer is not None:
        tokenizer.save_pretrained(str(directory))


def save_atomically(model: GPT2 | Llama, tokenizer, out, notes: dict) -> None:
    """`save` into `out` with JSON files `notes` ({file name: content}) beside the weights,
    written into a fresh sibling directory and then swapped in: an interrupted save leaves what
    was in `out` before in place."""
    out = Path(out).resolve()
    tmp, old = out.with_name(out.name + ".tmp"), out.with_name(out.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    save(model, tokenizer, tmp)
    for name, content in notes.items():
        (tmp / name).write_text(json.dumps(content, indent=2) + "\n")
    if out.exists():
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def _write_weights(model, directory: Path, tensor) -> None:
    """model.safetensors of `model`'s parameters, each written as `tensor(path, value)` ->
    (its Hugging Face name, the array in that family's layout)."""
    from safetensors.numpy import save_file

    state = nnx.to_flat_state(nnx.state(model, nnx.Param))
    tensors = dict(tensor(path, np.asarray(variable.get_value())) for path, variable in state)
    save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})


def _save_gpt2(model: GPT2, directory: Path) -> None:
    from transformers import GPT2Config as HFConfig

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
    _write_weights(
        model,
        directory,
        lambda path, value: (f"transformer.{_hf_name(path)}", value.astype(np.float32)),
    )


def _save_llama(model: Llama, directory: Path) -> None:
    from transformers import LlamaConfig as HFLlama
    from transformers import Qwen2Config as HFQwen2

    c = model.config
    common = dict(
        vocab_size=c.vocab_size,
        hidden_size=c.hidden_size,
        intermediate_size=c.intermediate_size,
        num_hidden_layers=c.num_hidden_layers,
        num_attention_heads=c.num_attention_heads,
        num_key_value_heads=c.num_key_value_heads,
        head_dim=c.head_dim,
        max_position_embeddings=c.max_position_embeddings,
        rms_norm_eps=c.rms_norm_eps,
        rope_parameters=c.rope_parameters(),
        tie_word_embeddings=c.tie_word_embeddings,
        bos_token_id=c.bos_token_id,
        eos_token_id=list(c.eos_token_id) if isinstance(c.eos_token_id, tuple) else c.eos_token_id,
    )
    if c.model_type == "qwen2":  # its biases are fixed by the family: nothing to say
        HFQwen2(**common).save_pretrained(str(directory))
    else:
        HFLlama(**common, attention_bias=c.attention_bias, mlp_bias=c.mlp_bias).save_pretrained(
            str(directory)
        )
    # bf16 stays bf16 (an ml_dtypes array); kernels are stored as torch's [out, in]
    _write_weights(model, directory, lambda path, value: (
        _llama_hf_name(path), np.ascontiguousarray(value.T if path[-1] == "kernel" else value)
    ))  # fmt: skip
