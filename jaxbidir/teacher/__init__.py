"""The teacher: GPT-2 in Flax NNX (`GPT2`), read from and written to the Hugging Face format
(`load`, `save`)."""

from .hf import load, save
from .model import GPT2, GPT2Config, causal_mask, init_cache, positions_from_mask

__all__ = ["GPT2", "GPT2Config", "causal_mask", "init_cache", "load", "positions_from_mask", "save"]
