"""What other ways of computing the student's 3x3 convolutions would give: `student.py
--profile` with `model.Conv3x3` replaced, one variant per process (docs/benchmarks.md, "Where an
update's time goes").

    python benchmarks/conv_variants.py VARIANT [--chunk] [--solve]

VARIANT: `patches` (the student's own: patches @ kernel, the view's embedding folded into the
first one's kernel), `unfolded` (the same with the first convolution applied to the embedded
view, as before the fold), and, unfolded too: `bf16` (the matmul in bf16 with f32
accumulation), `lax` (XLA's convolution), `rows` (a banded matmul per row), `none` (no
convolution). `--chunk`: also frames/s of 4 updates in one scan, as a training run's
chunk runs them; `--solve`: also the frames and seconds to 0.95 success on the paper's level.
"""

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
from student import profile, time_to_solve

from jaxbidir import config
from jaxbidir.student import model


def bf16(self, x):
    kernel = self.linear.kernel[...].astype(jnp.bfloat16)
    patches = model.patches(x.astype(jnp.bfloat16))
    y = jnp.matmul(patches, kernel, preferred_element_type=jnp.float32)
    return y + self.linear.bias[...]


def lax(self, x):
    kernel = self.linear.kernel[...].reshape(3, 3, x.shape[-1], -1)  # the patches' order
    flat = x.reshape(-1, *x.shape[-3:])
    y = jax.lax.conv_general_dilated(flat, kernel, (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))  # fmt: skip
    return y.reshape(*x.shape[:-1], -1) + self.linear.bias[...]


def rows(self, x):
    """The convolution as one matmul per row of the map: the 3 rows around each row, flattened
    (3 x W x C), times a banded matrix built from the kernel (3 x W x C, W x C_out): 3 shifted
    copies of the map instead of 9, and a matmul W times wider."""
    h, w, c = x.shape[-3:]
    kernel = self.linear.kernel[...].reshape(3, 3, c, -1)
    shifts = jnp.stack([jnp.eye(w, k=1 - j) for j in range(3)])  # [j, w_in, w_out]
    banded = jnp.einsum("jab,ijco->iacbo", shifts, kernel).reshape(3 * w * c, -1)
    pad = jnp.pad(x, [(0, 0)] * (x.ndim - 3) + [(1, 1), (0, 0), (0, 0)])
    around = jnp.concatenate([pad[..., i : i + h, :, :].reshape(*x.shape[:-2], w * c)
                              for i in range(3)], -1)  # fmt: skip
    return (around @ banded).reshape(*x.shape[:-1], -1) + self.linear.bias[...]


def none(self, x):  # keeps the input's gradient path (its first channel) and the layer's shape
    return jnp.zeros((*x.shape[:-1], self.linear.out_features)) + x[..., :1] + self.linear.bias[...]


VARIANTS = {"patches": model.Conv3x3.__call__, "unfolded": model.Conv3x3.__call__, "bf16": bf16,
            "lax": lax, "rows": rows, "none": none}  # fmt: skip


def unfolded(self, hot, table, base):
    """The first convolution on the embedded view (its gradient goes back through the
    patches to the view), as the student ran it before the embedding was folded in."""
    return self(hot @ table + base)


def chunk_rate(cfg, length=4, repeats=3):
    """Frames/s of `length` updates of one seed in one scan (`training.make_chunk`)."""
    from jaxbidir.feedback import make_train
    from jaxbidir.training import make_chunk

    trainer = make_train(cfg)
    state = jax.jit(jax.vmap(trainer.init))(jax.random.split(jax.random.PRNGKey(0), 1))
    chunk = make_chunk(trainer, length, None)
    state = jax.block_until_ready(chunk(state, np.int32(0)))[0]
    times = []
    for r in range(repeats):
        start = time.perf_counter()
        state = jax.block_until_ready(chunk(state, np.int32(length * (r + 1))))[0]
        times.append(time.perf_counter() - start)
    return round(length * cfg.frames_per_update / float(np.median(times)))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variant", choices=VARIANTS)
    parser.add_argument("--chunk", action="store_true")
    parser.add_argument("--solve", action="store_true")
    args = parser.parse_args()
    model.Conv3x3.__call__ = VARIANTS[args.variant]
    if args.variant != "patches":
        model.Conv3x3.of_embedded = unfolded
    cfg = config.load(None)
    result = {"variant": args.variant, **profile(cfg, 3)}
    if args.chunk:
        result["chunk_frames_per_s"] = chunk_rate(cfg)
    if args.solve:
        result["solve_frames"], seconds = time_to_solve()
        result["solve_seconds_with_compile"] = round(seconds, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
