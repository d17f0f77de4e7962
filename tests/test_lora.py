"""Low-rank adapters on the teacher (`teacher.update=lora`): the adapted teacher starts as the
pretrained one, only its adapters learn (one shared frozen copy of the weights for all seeds),
folding them in gives the same model, and a run's teacher exports to a checkpoint transformers
loads with the same logits."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx
from tiny import TINY, whole_and_resumed
from transformers import AutoModelForCausalLM

from jaxbidir import cli, config, teacher, training
from jaxbidir.feedback import teacher_update
from jaxbidir.teacher import configured, lora

TINY_LLAMA = dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2)  # fmt: skip


def _logits(model, tokens):
    t = tokens.shape[1]
    mask = jnp.broadcast_to(jnp.tril(jnp.ones((t, t), bool)), (len(tokens), t, t))
    positions = jnp.broadcast_to(jnp.arange(t), tokens.shape)
    return np.asarray(model(tokens, positions, mask)[0])


def _families():
    return {
        "gpt2": configured.load_shipped()[0],
        "llama": teacher.Llama(teacher.LlamaConfig(**TINY_LLAMA), rngs=nnx.Rngs(0)),
    }


def _size(state) -> int:
    return sum(x.size for x in jax.tree.leaves(state))


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_adapters_start_at_zero_and_fold_into_the_same_model(family):
    lm = _families()[family]
    tokens = jax.random.randint(jax.random.PRNGKey(0), (3, 9), 1, 60)
    adapted = lora.adapt(lm, rank=4)
    graphdef, adapters, base = nnx.split(adapted, nnx.LoRAParam, ...)
    np.testing.assert_array_equal(_logits(adapted, tokens), _logits(lm, tokens))
    assert _size(base) == _size(nnx.state(lm, nnx.Param))  # the pretrained weights, unchanged
    # rank x (in + out) per projection: GPT-2's c_attn, c_proj, c_fc, c_proj; Llama's q and o,
    # k and v (2 K/V heads of 8), gate, up, down
    per_layer = {"gpt2": 4 * (128 + 384 + 128 + 128 + 128 + 512 + 512 + 128),
                 "llama": 4 * (2 * (32 + 32) + 2 * (32 + 16) + 3 * (32 + 48))}  # fmt: skip
    assert _size(adapters) == per_layer[family] * lm.config.n_layer

    moved = jax.tree.map(lambda x: x + 0.05 * jnp.sign(x + 1e-3), adapters)
    trained = nnx.merge(graphdef, moved, base)
    assert not np.allclose(_logits(trained, tokens), _logits(lm, tokens), atol=1e-3)
    plain = lora.merged(trained)
    assert type(plain) is type(lm) and not jax.tree.leaves(nnx.state(plain, nnx.LoRAParam))
    np.testing.assert_allclose(_logits(plain, tokens), _logits(trained, tokens), atol=1e-4)
    with pytest.raises(ValueError, match=r"LoRA targets \['embeddings'\] unknown"):
        lora.adapt(lm, 4, ["embeddings"])


def test_a_full_update_trains_every_weight():
    cfg = config.load(None, {**TINY, "mode": "bidirectional"})
    lm = configured.load_shipped()[0]
    learnable = teacher_update.split_teacher(cfg, lm)
    assert _size(learnable.start) == _size(nnx.state(lm, nnx.Param))


@pytest.mark.slow  # a run killed and resumed, an export, a run alone: minutes (`make test-slow`)
def test_a_lora_run_trains_only_adapters_and_exports_a_checkpoint_transformers_loads(
    tmp_path, capsys
):
    """A bidirectional run of 2 seeds with `teacher.update=lora`: each seed's teacher state is
    its adapters and their Adam moments only (the pretrained weights are one constant of the
    step, whatever the number of seeds), every adapter learnt, and the run killed and resumed
    goes on exactly. `jaxbidir export-teacher` of seed 1 writes a GPT-2 checkpoint (adapters
    folded in) whose transformers logits equal the run's teacher's, not the shipped one's, and
    that a config takes as `teacher.path`."""
    from jaxbidir.checkpoints import load_seed
    from jaxbidir.export import export_teacher
    from jaxbidir.feedback import sources

    cfg = config.load(None, {**TINY, "mode": "bidirectional", "teacher.update": "lora",
                             "teacher.lr": 1e-2, "run.num_seeds": 2})  # fmt: skip
    # killed after 6 updates and resumed: the same run, adapters and their optimizer included
    whole, resumed = whole_and_resumed(cfg, tmp_path)
    assert whole == resumed and len(whole) == 8
    run = tmp_path / "whole"
    trainer, seed = load_seed(run, 1)
    source = sources.make_source(trainer.config, trainer.env)
    start = teacher_update.split_teacher(cfg, trainer.lm).start
    assert jax.tree.structure(seed.mode_state.params) == jax.tree.structure(start)
    variables = jax.tree.leaves(start, is_leaf=lambda x: isinstance(x, nnx.Variable))
    assert variables and all(isinstance(v, nnx.LoRAParam) for v in variables)  # adapters only
    per_seed = _size(seed.mode_state)
    assert per_seed == 3 * _size(start) + 1  # adapters, Adam's two moments, its count
    full = 3 * _size(nnx.state(trainer.lm, nnx.Param)) + 1  # what the full update carries
    assert per_seed * 10 < full, (per_seed, full)  # rank 8 on the shipped teacher: 12.7x less
    moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), start, seed.mode_state.params)
    assert all(jax.tree.leaves(moved))

    out = tmp_path / "exported"
    argv = ["export-teacher", "--checkpoint", str(run), "--seed-index", "1", "--out", str(out)]
    assert cli.main(argv) == 0
    assert '"teacher_update": "lora"' in capsys.readouterr().out
    ours = source.teacher(seed.mode_state)
    tokens = jax.random.randint(jax.random.PRNGKey(1), (2, 12), 1, 40)
    hf_model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    with torch.no_grad():
        theirs = hf_model(torch.as_tensor(np.array(tokens))).logits.numpy()
    np.testing.assert_allclose(theirs, _logits(ours, tokens), atol=1e-4)
    assert not np.allclose(theirs, _logits(trainer.lm, tokens), atol=1e-3)  # it learnt
    lm, _, _ = configured.load_configured(str(out), "teacher.path")
    np.testing.assert_allclose(_logits(lm, tokens), theirs, atol=1e-4)

    training.run(config.replace(cfg, mode="student_only"), tmp_path / "alone", progress=False)
    with pytest.raises(ValueError, match="student_only run: no teacher learnt in it"):
        export_teacher(tmp_path / "alone", tmp_path / "nothing")
