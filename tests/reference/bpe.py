"""A GPT-2-style byte-level BPE tokenizer for tests, trained here (no download)."""

from tokenizers import ByteLevelBPETokenizer
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from jaxbidir.teacher import vocabulary as V


def bpe_tokenizer(directory, extra_words=()):
    """A tokenizer small enough that many words take several pieces, saved in `directory` and
    opened as a user's checkpoint would be."""
    words = (*V.ALL_WORDS[2:], *extra_words)
    text = [" ".join(words)] * 4 + ["the red ball the blue key go to pick up"] * 50
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(text, vocab_size=300, min_frequency=2, special_tokens=["<|endoftext|>"])
    PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer, eos_token="<|endoftext|>"
    ).save_pretrained(directory)
    return AutoTokenizer.from_pretrained(directory)
