"""Non-finite values (NaN, Inf) caught where they appear, at the cost of a few reductions.

Inside the jitted update, `flags({quantity: bad})` packs one bool per quantity into an i32
bitmask, returned as the metric `nonfinite` (one per seed and update: no host callback). After
each chunk the run calls `check(...)` on the host, which raises `NonFiniteError` naming the first
update, seed and quantities, before the chunk's state can reach a checkpoint: the run's last
checkpoint stays the last good one.
"""

import jax
import jax.numpy as jnp
import numpy as np

QUANTITIES = (
    "student_loss",
    "student_gradients",
    "student_parameters",
    "teacher_loss",
    "teacher_gradients",
    "teacher_parameters",
)


class NonFiniteError(ValueError):
    """A NaN or Inf in a run's losses, gradients or parameters."""


def any_nonfinite(tree) -> jax.Array:
    """bool[]: some floating-point leaf of `tree` holds a NaN or an Inf."""
    leaves = [x for x in jax.tree.leaves(tree) if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)]
    if not leaves:
        return jnp.zeros((), bool)
    return jnp.any(jnp.stack([~jnp.all(jnp.isfinite(x)) for x in leaves]))


def flags(bad: dict) -> jax.Array:
    """i32[] bitmask: bit i set when `bad[QUANTITIES[i]]` (bool[]) is true."""
    mask = jnp.zeros((), jnp.int32)
    for name, value in bad.items():
        mask = mask | (jnp.asarray(value, jnp.int32) << QUANTITIES.index(name))
    return mask


def ppo_checks(info: dict, params) -> tuple[dict, dict]:
    """(info without its gradient flag, {quantity: bad}) of the student's PPO update
    (`ppo_epochs` with `check_finite`) that produced `params`."""
    info = dict(info)
    bad = {
        "student_gradients": info.pop("nonfinite_gradients") > 0,
        "student_loss": any_nonfinite(info),
        "student_parameters": any_nonfinite(params),
    }
    return info, bad


def names(mask: int) -> list[str]:
    return [name for i, name in enumerate(QUANTITIES) if int(mask) >> i & 1]


def check(masks, first_update: int, out_dir=None) -> None:
    """Raise `NonFiniteError` if any seed's mask of a chunk (i32[seeds, length], updates
    `first_update + 1 ...`) is set, naming the first update, every seed hit then, and what."""
    masks = np.asarray(masks)
    if not masks.any():
        return
    step = int(np.flatnonzero(masks.any(0))[0])
    seeds = np.flatnonzero(masks[:, step])
    what = sorted({n for s in seeds for n in names(masks[s, step])})
    where = f"; its last good checkpoint is in {out_dir}/checkpoints" if out_dir else ""
    raise NonFiniteError(
        f"non-finite {', '.join(what)} at update {first_update + step + 1} in seed(s) "
        f"{', '.join(map(str, seeds.tolist()))}: the run stopped{where}. Lower the learning "
        f"rate (student.lr, teacher.lr, glam.lr) or student.max_grad_norm, or check the config"
    )
