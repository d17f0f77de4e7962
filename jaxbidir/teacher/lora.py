"""Low-rank adapters (LoRA) on a teacher of either family, so that a learning teacher per seed
costs its adapters, not a copy of the model.

`adapt(model, rank, targets)` wraps the chosen projections in `nnx.LoRA`: `x W + x A B`, with
A f32[in, rank] random and B f32[rank, out] zero, so the adapted teacher starts exactly as the
pretrained one. `nnx.split(adapted, nnx.LoRAParam, ...)` then gives the adapters (trained, one
set per seed) apart from the pretrained weights (frozen, one copy shared by all seeds), and
`merged(adapted)` folds the adapters back into plain weights (`W + A B`) for export.

Targets: "attention" (GPT-2's c_attn and c_proj; Llama's q, k, v and o projections) and "mlp"
(GPT-2's c_fc and c_proj; Llama's gate, up and down projections). Embeddings, norms and the LM
head stay frozen.
"""

import jax
from flax import nnx

from . import llama, model

TARGETS = {"attention": (model.Attention, llama.Attention), "mlp": (model.MLP, llama.MLP)}


def _projections(module: nnx.Module, kind: type = nnx.Linear):
    """(name, layer) of `module`'s own attributes that are `kind` layers."""
    return [(name, layer) for name, layer in vars(module).items() if isinstance(layer, kind)]


def adapt(lm, rank: int, targets=tuple(TARGETS), key=None):
    """A copy of `lm` with LoRA adapters of `rank` on the projections of `targets`."""
    unknown = set(targets) - set(TARGETS)
    if unknown:
        raise ValueError(f"LoRA targets {sorted(unknown)} unknown; choose among {list(TARGETS)}")
    adapted = nnx.clone(lm)
    rngs = nnx.Rngs(jax.random.PRNGKey(0) if key is None else key)
    kinds = tuple(cls for target in targets for cls in TARGETS[target])
    for _, module in list(nnx.iter_modules(adapted)):
        if isinstance(module, kinds):
            for name, linear in _projections(module):
                lora = nnx.LoRA(linear.in_features, rank, linear.out_features,
                                base_module=linear, rngs=rngs)  # fmt: skip
                setattr(module, name, lora)
    return adapted


def merged(adapted):
    """A copy of `adapted` with every adapter folded into its layer (`W + A B`, in W's dtype)
    and removed: a plain model of its family, as `teacher.save` writes it."""
    plain = nnx.clone(adapted)
    for _, module in list(nnx.iter_modules(plain)):
        for name, lora in _projections(module, nnx.LoRA):
            base = lora.base_module
            kernel = base.kernel.get_value()
            delta = lora.lora_a.get_value() @ lora.lora_b.get_value()
            base.kernel.set_value((kernel + delta).astype(kernel.dtype))
            setattr(module, name, base)
    return plain
