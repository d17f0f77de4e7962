"""Teacher generation throughput against transformers' PyTorch `generate`, on the same weights,
in one run: new tokens/s of batched greedy generation (KV cache both sides), for the shipped tiny
teacher, a distilgpt2-sized random GPT-2 and a SmolLM2-135M-shaped random Llama.

    python benchmarks/teacher.py [--batch 256] [--repeats 7] [--smollm-batches 64 256]
                                 (the two large models: repeats // 2, at least 1)
    python benchmarks/teacher.py --write-smollm DIR   (only save the SmolLM2-135M-shaped teacher,
        random weights and the shipped word-level tokenizer, for `teacher.path=DIR`)

Every row generates exactly `new` tokens (no early stop) after a prompt of random tokens, and the
time includes the prompt's prefill. The last line is one JSON object with the figures.
"""

import argparse
import json
import statistics
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxbidir import teacher
from jaxbidir.teacher import configured

DISTILGPT2 = dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=6, n_head=12)
# HuggingFaceTB/SmolLM2-135M's config.json (134.5M parameters)
SMOLLM2_135M = dict(vocab_size=49152, hidden_size=576, intermediate_size=1536,
                    num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                    max_position_embeddings=8192, rope_theta=100000.0, tie_word_embeddings=True,
                    rms_norm_eps=1e-5, bos_token_id=0, eos_token_id=0)  # fmt: skip


def smollm_shaped(directory=None):
    """A SmolLM2-135M-shaped Llama with random weights; saved in `directory` with the shipped
    word-level tokenizer (its words are ids below the model's vocabulary) when given."""
    model = teacher.Llama(teacher.LlamaConfig(**SMOLLM2_135M), rngs=nnx.Rngs(0))
    if directory is not None:
        teacher.save(model, configured.load_shipped()[1], directory)
    return model


def median_seconds(fns, repeats):
    """Median seconds of each function; the runs alternate between them so that a noisy
    machine's drift does not favour one."""
    for fn in fns:
        fn()  # compile / warm up
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, t in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            t.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def ours(model, prompt, new):
    graphdef, state = nnx.split(model)
    mask = jnp.ones(prompt.shape, bool)

    @jax.jit
    def run(state, prompt):
        sample = teacher.generate(nnx.merge(graphdef, state), prompt, mask, jax.random.PRNGKey(0),
                                  max_new_tokens=new, eos_id=-1, temperature=0.0)  # fmt: skip
        return sample.tokens

    prompt = jnp.asarray(prompt)
    return lambda: jax.block_until_ready(run(state, prompt))


def theirs(directory, prompt, new):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(directory).eval()
    ids = torch.as_tensor(prompt)
    mask = torch.ones_like(ids)

    def run():
        with torch.no_grad():
            return model.generate(ids, attention_mask=mask, max_new_tokens=new,
                                  min_new_tokens=new, do_sample=False, pad_token_id=0)  # fmt: skip

    return run


def compare(name, model, batch, prompt_length, new, repeats):
    rng = np.random.default_rng(0)
    prompt = rng.integers(2, model.config.vocab_size, (batch, prompt_length))
    with tempfile.TemporaryDirectory() as directory:
        teacher.save(model, None, directory)
        torch_run = theirs(directory, prompt, new)
    hf_seconds, jax_seconds = median_seconds([torch_run, ours(model, prompt, new)], repeats)
    row = {
        "teacher": name,
        "parameters": int(sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))),
        "batch": batch,
        "prompt_tokens": prompt_length,
        "new_tokens": new,
        "jax_new_tokens_per_s": round(batch * new / jax_seconds),
        "transformers_new_tokens_per_s": round(batch * new / hf_seconds),
        "ratio": round(hf_seconds / jax_seconds, 2),
    }
    print(row, flush=True)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--smollm-batches", type=int, nargs="*", default=[64, 256])
    parser.add_argument("--write-smollm", metavar="DIR")
    args = parser.parse_args()
    if args.write_smollm:
        smollm_shaped(args.write_smollm)
        print(f"SmolLM2-135M-shaped teacher (random weights) saved in {args.write_smollm}")
        return
    import torch

    torch.manual_seed(0)
    few = max(1, args.repeats // 2)
    tiny, _ = configured.load_shipped()
    big = teacher.GPT2(teacher.GPT2Config(**DISTILGPT2), rngs=nnx.Rngs(0))
    rows = [
        compare("shipped tiny teacher", tiny, args.batch, 64, 11, args.repeats),
        compare("distilgpt2-sized (random)", big, args.batch, 16, 16, few),
    ]
    del big
    smol = smollm_shaped() if args.smollm_batches else None
    for batch in args.smollm_batches:
        rows.append(compare("SmolLM2-135M-shaped (random)", smol, batch, 16, 16, few))
    print(f"{'teacher':<30} {'params':>11} {'batch':>6} {'JAX tok/s':>10} {'torch tok/s':>12} "
          f"{'ratio':>6}")  # fmt: skip
    for r in rows:
        print(
            f"{r['teacher']:<30} {r['parameters']:>11,} {r['batch']:>6} "
            f"{r['jax_new_tokens_per_s']:>10,} {r['transformers_new_tokens_per_s']:>12,} "
            f"{r['ratio']:>6.2f}"
        )
    print(
        json.dumps(
            {
                "device": jax.devices()[0].device_kind,
                "torch_threads": torch.get_num_threads(),
                "rows": rows,
            }  # fmt: skip
        )
    )


if __name__ == "__main__":
    main()
