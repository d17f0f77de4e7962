"""What other ways of computing the student's 3x3 convolutions would give, in one process:
one update of `make train`'s default config per variant, timed in turn round after round (this
CPU's speed drifts by up to 2x between processes, so only ratios within one run are read); the
first variant is the base (docs/benchmarks.md, "Where an update's time goes").

    python benchmarks/conv_variants.py rows,patches[,...] [--rounds 9] [--solve]

Variants: `rows` (the student's own: a banded matmul per row, the view's embedding folded into
the first one's kernel), `patches` (patches @ kernel, folded too, as the student ran before
`rows`), `unfolded` (patches @ kernel, the first convolution applied to the embedded view, as
before the fold), and, unfolded too: `bf16` (the patches' matmul in bf16 with f32
accumulation), `lax` (XLA's convolution), `none` (no convolution: a bound, not a student).
`--solve`: also each variant's frames and seconds to 0.95 success on the paper's level.
Prints a table, then one JSON object.
"""

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
from student import time_to_solve

from jaxbidir import config
from jaxbidir.student import model


def patches(x):
    """f32[..., H, W, c] -> f32[..., H, W, 9c]: each cell's 3x3 neighbourhood (zeros outside),
    row by row."""
    h, w = x.shape[-3:-1]
    pad = jnp.pad(x, [(0, 0)] * (x.ndim - 3) + [(1, 1), (1, 1), (0, 0)])
    return jnp.concatenate(
        [pad[..., i : i + h, j : j + w, :] for i in range(3) for j in range(3)], -1
    )


def patches_conv(self, x):
    return patches(x) @ self.linear.kernel[...] + self.linear.bias[...]


def patches_folded(self, hot, table, base):
    return patches(hot) @ self.folded(table) + self(base)


def bf16(self, x):
    kernel = self.linear.kernel[...].astype(jnp.bfloat16)
    y = jnp.matmul(patches(x.astype(jnp.bfloat16)), kernel, preferred_element_type=jnp.float32)
    return y + self.linear.bias[...]


def lax(self, x):
    kernel = self.linear.kernel[...].reshape(3, 3, x.shape[-1], -1)  # the patches' order
    flat = x.reshape(-1, *x.shape[-3:])
    y = jax.lax.conv_general_dilated(flat, kernel, (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))  # fmt: skip
    return y.reshape(*x.shape[:-1], -1) + self.linear.bias[...]


def none(self, x):  # keeps the input's gradient path (its first channel) and the layer's shape
    return jnp.zeros((*x.shape[:-1], self.linear.out_features)) + x[..., :1] + self.linear.bias[...]


VARIANTS = {  # (the convolution, the first one's of the embedded view)
    "rows": (model.Conv3x3.__call__, model.Conv3x3.of_embedded),
    "patches": (patches_conv, patches_folded),
    "unfolded": (patches_conv, None),
    "bf16": (bf16, None),
    "lax": (lax, None),
    "none": (none, None),
}


def unfolded(self, hot, table, base):
    """The first convolution on the embedded view (its gradient goes back through the
    patches to the view), as the student ran it before the embedding was folded in."""
    return self(hot @ table + base)


def use(variant):
    model.Conv3x3.__call__, folded = VARIANTS[variant]
    model.Conv3x3.of_embedded = folded or unfolded


def interleaved(cfg, variants, rounds):
    """Median seconds of one update per variant, the variants timed in turn each round."""
    from jaxbidir.feedback import make_train

    runs = {}
    for variant in variants:  # each traces and compiles with its own convolution
        use(variant)
        trainer = make_train(cfg)
        update = jax.jit(trainer.update)
        state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
        runs[variant] = [update, jax.block_until_ready(update(state))[0]]
    times = {variant: [] for variant in variants}
    for _ in range(rounds):
        for variant, (update, state) in runs.items():
            start = time.perf_counter()
            runs[variant][1] = jax.block_until_ready(update(state))[0]
            times[variant].append(time.perf_counter() - start)
    return {variant: float(np.median(t)) for variant, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variants", help="comma-separated, from: " + ", ".join(VARIANTS))
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--solve", action="store_true")
    args = parser.parse_args()
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    cfg = config.load(None)
    seconds = interleaved(cfg, variants, args.rounds)
    base = seconds[variants[0]]
    result = {}
    print(f"{'variant':10s} {'s/update':>9s} {'frames/s':>9s} {'speed-up':>9s}")
    for variant in variants:
        row = result[variant] = {
            "update_s": round(seconds[variant], 3),
            "frames_per_s": round(cfg.frames_per_update / seconds[variant]),
            "speed_up": round(base / seconds[variant], 2),
        }
        print(f"{variant:10s} {row['update_s']:9.3f} {row['frames_per_s']:9d}", end="")
        print(f" {row['speed_up']:9.2f}")
        if args.solve:
            use(variant)
            row["solve_frames"], solve_s = time_to_solve()
            row["solve_seconds_with_compile"] = round(solve_s, 1)
            print(f"{'':10s} 0.95 after {row['solve_frames']} frames, {solve_s:.1f} s")
    print(json.dumps({"rounds": args.rounds, "variants": result}))


if __name__ == "__main__":
    main()
