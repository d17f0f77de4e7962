"""The check shared by the teachers' parity tests: our greedy generation equals transformers'."""

import numpy as np
import torch


def assert_greedy_matches(sample, hf_model, tokens, mask, new: int, eos: int):
    """`sample` (our greedy `generate` of `new` tokens after left-padded `tokens`/`mask`, with
    end token `eos`, pad 0) has the tokens transformers' `generate` gives, and its mask covers
    each row up to and including its end token (row 0 must reach it)."""
    with torch.no_grad():
        out = hf_model.generate(
            torch.as_tensor(tokens),
            attention_mask=torch.as_tensor(mask),
            max_new_tokens=new,
            do_sample=False,
            eos_token_id=eos,
            pad_token_id=0,
        )[:, tokens.shape[1] :].numpy()
    theirs = np.zeros((len(tokens), new), np.int64)
    theirs[:, : out.shape[1]] = out  # transformers stops early when every row has ended
    np.testing.assert_array_equal(np.asarray(sample.tokens), theirs)
    ended = np.asarray(sample.tokens) == eos
    assert ended[0].any()
    stop = np.where(ended.any(1), ended.argmax(1), new - 1)
    np.testing.assert_array_equal(np.asarray(sample.mask), np.arange(new) <= stop[:, None])
