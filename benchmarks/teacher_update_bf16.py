"""Would bf16 make the teacher's update cheaper? The gradient of the update's forward passes
(`token_terms`: the teacher and the reference over prompt and hint) with the weights and
activations in float32 and in bfloat16, on the shipped teacher, timings interleaved; and one
matmul of the update's shape, for scale.

    python benchmarks/teacher_update_bf16.py [--hints 64] [--prompt 120] [--repeats 7]

Prints the medians; the last line is one JSON object.
"""

import argparse
import json

import jax
import jax.numpy as jnp
from flax import nnx
from teacher import median_seconds  # benchmarks/teacher.py: timings interleaved, medians


def timed(fns: dict, args: tuple, repeats: int) -> dict:
    """{name: median seconds} of each jitted fn of `fns` on `args`."""
    calls = [lambda fn=fn: jax.block_until_ready(fn(*args)) for fn in fns.values()]
    return dict(zip(fns, median_seconds(calls, repeats), strict=True))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hints", type=int, default=64)  # teacher.batch
    parser.add_argument("--prompt", type=int, default=120)  # ~ the prompt's tokens
    parser.add_argument("--hint-tokens", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    from jaxbidir.feedback.teacher_update import HintBatch, token_terms
    from jaxbidir.teacher import configured

    model, _ = configured.load_shipped()
    graphdef, params = nnx.split(model)
    vocab = model.config.vocab_size
    k_prompt, k_hint, k_x = jax.random.split(jax.random.key(0), 3)
    n, p, h = args.hints, args.prompt, args.hint_tokens
    batch = HintBatch(jax.random.randint(k_prompt, (n, p), 2, vocab), jnp.ones((n, p), bool),
                      jax.random.randint(k_hint, (n, h), 2, vocab), jnp.ones((n, h), bool),
                      jnp.zeros(n), jnp.ones(n, bool))  # fmt: skip

    def gradient(dtype):
        def cast(tree):
            return jax.tree.map(lambda x: x.astype(dtype) if x.dtype == jnp.float32 else x, tree)

        def terms(p, reference):
            log_prob, kl = token_terms(nnx.merge(graphdef, cast(p)),
                                       nnx.merge(graphdef, cast(reference)), batch)  # fmt: skip
            return log_prob.astype(jnp.float32).sum() + kl.astype(jnp.float32).sum()

        return jax.jit(jax.grad(terms))

    update = timed({"float32": gradient(jnp.float32), "bfloat16": gradient(jnp.bfloat16)},
                   (params, params), args.repeats)  # fmt: skip
    width = model.config.n_embd
    x = jax.random.normal(k_x, (n * (p + h), width))
    w = jax.random.normal(k_x, (width, 4 * width))
    matmul = timed({d: jax.jit(lambda x, w, d=d: x.astype(d) @ w.astype(d))
                    for d in ("float32", "bfloat16")}, (x, w), 3 * args.repeats)  # fmt: skip
    for name, figures in (("update's gradient", update), ("one matmul", matmul)):
        print(
            f"{name}: float32 {figures['float32']:.4f} s, bfloat16 {figures['bfloat16']:.4f} s,"
            f" ratio {figures['float32'] / figures['bfloat16']:.2f}"
        )
    print(json.dumps({"device": jax.devices()[0].device_kind, "update_s": update,
                      "matmul_s": matmul, "hints": n, "prompt": p}))  # fmt: skip


if __name__ == "__main__":
    main()
