"""A Llama-2-style tokenizer for tests (TinyLlama's kind: SentencePiece BPE, `▁` for spaces,
byte fallback), trained here over the Baby Language words (no download)."""

import json

from tokenizers import SentencePieceBPETokenizer
from transformers import AutoTokenizer, LlamaTokenizer

from jaxbidir.teacher import vocabulary as V


def llama_tokenizer(directory):
    """transformers' `LlamaTokenizer` over a SentencePiece BPE vocabulary small enough that many
    words take several pieces, saved in `directory` and opened as a user's checkpoint would be."""
    text = [" ".join(V.ALL_WORDS[2:])] * 4 + ["the red ball the blue key go to pick up"] * 50
    trainer = SentencePieceBPETokenizer()
    trainer.train_from_iterator(text, vocab_size=120, min_frequency=2,
                                special_tokens=["<unk>", "<s>", "</s>"])  # fmt: skip
    model = json.loads(trainer._tokenizer.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    LlamaTokenizer(vocab=model["vocab"], merges=merges).save_pretrained(directory)
    return AutoTokenizer.from_pretrained(directory)
