"""The teacher: GPT-2 (`GPT2`) or the Llama family (`Llama`: Llama, Qwen2) in Flax NNX, either an
`LM`, read from and written to the Hugging Face format (`load`, `save`); batched KV-cached
generation (`generate`, after a `prefill` of the prompts into the cache) and the log-probs of
given hints (`sequence_log_probs`); the lookup tables between its tokenizer and Baby Language
(`Bridge`)."""

from .hf import load, save
from .llama import Llama, LlamaConfig
from .model import GPT2, GPT2Config, causal_mask, init_cache, positions_from_mask
from .sampling import LM, Sample, continuation_log_softmax, generate, prefill, sequence_log_probs
from .vocabulary import Bridge, word_level_tokenizer

__all__ = [
    "GPT2",
    "Bridge",
    "GPT2Config",
    "LM",
    "Llama",
    "LlamaConfig",
    "Sample",
    "causal_mask",
    "continuation_log_softmax",
    "generate",
    "init_cache",
    "load",
    "positions_from_mask",
    "prefill",
    "save",
    "sequence_log_probs",
    "word_level_tokenizer",
]
