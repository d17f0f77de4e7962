"""The teacher a run uses, loaded at run time: the one shipped with the package (`pretrained/`,
built by `jaxbidir pretrain-teacher`) or any GPT-2-, Llama- or Qwen2-family checkpoint directory
a config names, checked on load so that a wrong directory is one clear error, not a failure deep
in a run."""

import json
import re
from pathlib import Path

from . import hf
from .vocabulary import ALL_WORDS, encode_words

SHIPPED_DIR = Path(__file__).resolve().parent / "pretrained"
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")  # owner/name, e.g. HuggingFaceTB/SmolLM2-135M
# what a teacher needs from a hub repository (not its other weight formats: .bin, .onnx, .gguf)
HUB_FILES = ["config.json", "generation_config.json", "*.safetensors", "*.safetensors.index.json",
             "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json",
             "merges.txt", "special_tokens_map.json", "added_tokens.json"]  # fmt: skip


def load_shipped():
    """(model, tokenizer) of the teacher shipped with the package."""
    if not (SHIPPED_DIR / "model.safetensors").exists():
        raise FileNotFoundError(
            f"the shipped teacher is missing from {SHIPPED_DIR}; rebuild it with "
            f"`make pretrain-teacher`"
        )
    return hf.load(SHIPPED_DIR)


def resolve(path: str, key: str) -> Path:
    """The checkpoint directory a config's `key` names: the shipped teacher's when `path` is
    empty, `path` itself when it exists, else `path` as a Hugging Face hub id (`owner/name`)
    through huggingface_hub's cache: the cached snapshot, or a download of it when the hub is
    reachable (not with HF_HUB_OFFLINE=1, which reads the cache only). An id that is neither
    cached nor downloadable is one error naming it and the cache folder."""
    if not path:
        return SHIPPED_DIR
    directory = Path(path)
    if directory.exists() or not HUB_ID.fullmatch(path):
        return directory
    from huggingface_hub import constants, snapshot_download

    try:
        return Path(snapshot_download(path, allow_patterns=HUB_FILES))
    except OSError as error:  # not cached, and offline / no network / no such repository
        why = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FileNotFoundError(
            f"config: {key} {path!r} is not a directory, nor a Hugging Face hub model in the "
            f"cache ({constants.HF_HUB_CACHE}) or downloadable now ({why}); download it where "
            f"there is a network (`hf download {path}`), or set HF_HUB_CACHE to a cache that "
            f"holds it"
        ) from None


def load_configured(path: str, key: str):
    """(model, tokenizer, directory) of the checkpoint a config's `key` names (`path`: a
    directory, a hub id, or empty for the shipped teacher; see `resolve`); a clear error when
    it is not a checkpoint whose tokenizer belongs to its weights and can write every word of
    Baby Language."""
    directory = resolve(path, key)
    if not (directory / "config.json").exists():
        raise FileNotFoundError(
            f"config: {key} {str(directory)!r} is not a Hugging Face checkpoint directory (no "
            f'config.json); give a directory saved by save_pretrained, or {key}="" for the '
            f"shipped teacher"
        )
    model, tokenizer = hf.load(directory)
    if tokenizer is None:
        raise ValueError(f"config: {key} {str(directory)!r} has no tokenizer files")
    tokenizer_file = next(
        (directory / n for n in ("tokenizer.json", "vocab.json") if (directory / n).exists()),
        directory / "tokenizer_config.json",
    )
    if len(tokenizer) > model.config.vocab_size:
        raise ValueError(
            f"{tokenizer_file}: the tokenizer has {len(tokenizer)} tokens but the weights "
            f"({directory / 'config.json'}: vocab_size {model.config.vocab_size}) have fewer "
            f"embeddings: the tokenizer and the weights do not belong together"
        )
    try:
        encode_words(tokenizer, ALL_WORDS)
    except ValueError as error:
        raise ValueError(f"{tokenizer_file}: {error}") from None
    return model, tokenizer, directory


def pretrained_description_length(directory: Path, default: int = 96) -> int:
    """The words of the view the teacher in `directory` was pretrained with (its
    `pretrain.json`), or `default` for a checkpoint that was not built here."""
    report = Path(directory) / "pretrain.json"
    saved = json.loads(report.read_text())["config"] if report.exists() else {}
    return saved.get("description_length", default)
