"""The teacher a run uses, loaded at run time: the one shipped with the package (`pretrained/`,
built by `jaxbidir pretrain-teacher`) or any GPT-2-family checkpoint directory a config names,
checked on load so that a wrong directory is one clear error, not a failure deep in a run."""

import json
from pathlib import Path

from . import hf
from .vocabulary import ALL_WORDS, encode_words

SHIPPED_DIR = Path(__file__).resolve().parent / "pretrained"


def load_shipped():
    """(model, tokenizer) of the teacher shipped with the package."""
    if not (SHIPPED_DIR / "model.safetensors").exists():
        raise FileNotFoundError(
            f"the shipped teacher is missing from {SHIPPED_DIR}; rebuild it with "
            f"`make pretrain-teacher`"
        )
    return hf.load(SHIPPED_DIR)


def load_configured(path: str, key: str):
    """(GPT2, tokenizer, directory) of the checkpoint directory a config's `key` names (`path`),
    or of the shipped teacher when it is empty; a clear error when it is not a checkpoint whose
    tokenizer belongs to its weights and can write every word of Baby Language."""
    directory = Path(path) if path else SHIPPED_DIR
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
