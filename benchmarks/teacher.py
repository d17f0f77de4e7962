"""Teacher generation throughput against transformers' PyTorch `generate`, on the same weights,
in one run: new tokens/s of batched greedy generation (KV cache both sides), for the shipped tiny
teacher and a distilgpt2-sized random GPT-2.

    python benchmarks/teacher.py [--batch 256] [--repeats 7]   (the distilgpt2 size: repeats // 2)

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
    from transformers import GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained(directory).eval()
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
    args = parser.parse_args()
    import torch

    torch.manual_seed(0)
    tiny, _ = configured.load_shipped()
    big = teacher.GPT2(teacher.GPT2Config(**DISTILGPT2), rngs=nnx.Rngs(0))
    rows = [
        compare("shipped tiny teacher", tiny, args.batch, 64, 11, args.repeats),
        compare("distilgpt2-sized (random)", big, args.batch, 16, 16, max(1, args.repeats // 2)),
    ]
    print(f"{'teacher':<28} {'params':>11} {'JAX tok/s':>10} {'torch tok/s':>12} {'ratio':>6}")
    for r in rows:
        print(
            f"{r['teacher']:<28} {r['parameters']:>11,} {r['jax_new_tokens_per_s']:>10,}"
            f" {r['transformers_new_tokens_per_s']:>12,} {r['ratio']:>6.2f}"
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
