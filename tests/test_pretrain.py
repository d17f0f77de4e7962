"""The default teacher: its corpus's imperfection does what the config says, pretraining learns
and is reproducible, the shipped checkpoint is what `make pretrain-teacher` reports, and the
teacher's training state survives an orbax checkpoint exactly."""

import json
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxbidir import checkpoints, cli, config, envs, teacher
from jaxbidir.envs import language as L
from jaxbidir.teacher import configured, pretrain

TINY = dict(
    levels="BabyAI-GoToRedBallNoDists-v0,BabyAI-PickupLoc-v0", envs_per_level=40,
    rollout_steps=12, snapshot_every=6, description_length=32, n_embd=32, n_layer=1, n_head=2,
    n_positions=64, steps=150, batch_size=32, warmup=10,
)  # fmt: skip


def test_a_wrong_hint_swaps_one_word_for_another_of_its_kind():
    hint = jnp.asarray(envs.encode("put the red ball next to the blue key", envs.HINT_LENGTH))
    colours, types = set(L.ids(*envs.constants.COLOUR_NAMES)), set(L.ids("ball", "box", "key"))
    for seed in range(20):
        wrong = np.asarray(L.wrong_word(hint, jax.random.PRNGKey(seed)))
        changed = np.flatnonzero(wrong != np.asarray(hint))
        assert len(changed) == 1
        before, after = int(hint[changed[0]]), int(wrong[changed[0]])
        assert {before, after} <= colours or {before, after} <= types | {L.VOCAB["door"]}
    drop = jnp.asarray(envs.encode("drop", envs.HINT_LENGTH))
    np.testing.assert_array_equal(L.wrong_word(drop, jax.random.PRNGKey(0)), drop)


def test_a_partial_view_keeps_a_strict_prefix_of_whole_sentences():
    text = "you carry a red key. you see a wall 2 steps forward. you see a blue ball 1 step left."
    description = jnp.asarray(envs.encode(text, 40))
    sentences = [s.strip() + "." for s in text.split(".")[:-1]]
    seen = set()
    for seed in range(30):
        cut = envs.decode(pretrain.partial(description, jax.random.PRNGKey(seed)))
        k = len([s for s in cut.split(".") if s.strip()])
        assert k < 3 and cut == " ".join(sentences[:k])
        seen.add(k)
    assert seen == {0, 1, 2}


def test_bad_pretrain_configs_are_clear_errors():
    with pytest.raises(ValueError, match="wrong_hint must be < 1; got 1.5"):
        config.load(None, ["wrong_hint=1.5"], cls=pretrain.PretrainConfig)
    with pytest.raises(ValueError, match="unknown key 'layers'"):
        config.load(None, ["layers=2"], cls=pretrain.PretrainConfig)
    with pytest.raises(ValueError, match="BabyAI-Nope-v0"):
        pretrain.PretrainConfig(levels="BabyAI-Nope-v0")


def test_an_existing_teacher_is_not_replaced_without_overwrite(tmp_path, capsys):
    (tmp_path / "config.json").write_text("{}")
    assert cli.main(["pretrain-teacher", "--out", str(tmp_path)]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert (tmp_path / "config.json").read_text() == "{}"


@pytest.fixture(scope="module")
def tiny_teachers(tmp_path_factory):
    cfg = pretrain.PretrainConfig(**TINY)
    dirs = [tmp_path_factory.mktemp(f"teacher{i}") for i in range(2)]
    reports = [pretrain.pretrain(cfg, d, progress=False) for d in dirs]
    return cfg, dirs, reports


@pytest.mark.slow  # two pretraining runs, over a minute: `make test-slow`
def test_pretraining_learns_and_rebuilds_the_same_teacher(tiny_teachers):
    cfg, (a, b), (report, again) = tiny_teachers
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    assert report["held_out_hint_accuracy"] == again["held_out_hint_accuracy"]
    saved = json.loads((a / "pretrain.json").read_text())["config"]
    assert {k: saved[k] for k in TINY} == TINY
    # the level whose hint never changes is learnt outright; the noise was applied as configured
    greedy = report["held_out_hint_accuracy"]["greedy"]
    assert greedy["BabyAI-GoToRedBallNoDists-v0"] == 1.0
    for level in report["corpus"]["levels"].values():
        assert abs(level["wrong_hint"] - cfg.wrong_hint) < 0.1
    model, tokenizer = teacher.load(a)
    assert tokenizer.decode([L.VOCAB["go"], L.VOCAB["to"]]) == "go to"


def test_the_shipped_teacher_gives_the_reported_accuracy():
    report = json.loads((configured.SHIPPED_DIR / "pretrain.json").read_text())
    model, tokenizer = configured.load_shipped()
    assert 5e5 <= report["parameters"] <= 2e6 and len(tokenizer) == model.config.vocab_size
    cfg = pretrain.PretrainConfig(**report["config"])
    bridge = teacher.Bridge.build(tokenizer)
    # fresh examples (another seed than the build's) from two of its levels, full view, true hint
    fresh = dict(report["config"], levels="BabyAI-GoToLocal-v0,BabyAI-PutNextLocal-v0",
                 envs_per_level=48, held_out=0.5, seed=cfg.seed + 1)  # fmt: skip
    _, held, _ = pretrain.build_corpus(
        pretrain.PretrainConfig(**fresh), bridge, jax.random.PRNGKey(1)
    )
    greedy, _ = pretrain.hint_accuracy(model, bridge, held, jax.random.PRNGKey(2))
    reported = report["held_out_hint_accuracy"]["greedy"]["all"]
    assert greedy > 0.8 and abs(greedy - reported) < 0.1, (greedy, reported)


class _TeacherState(NamedTuple):
    params: nnx.State
    opt_state: optax.OptState
    updates_done: jnp.ndarray


@pytest.mark.slow  # two pretraining runs, over a minute: `make test-slow`
def test_teacher_and_optimizer_state_round_trip_through_orbax(tmp_path, tiny_teachers):
    _, (a, _), _ = tiny_teachers
    model, _ = teacher.load(a)
    tx = optax.adamw(1e-3)
    params = nnx.state(model, nnx.Param)
    opt_state = tx.init(params)
    grads = jax.tree.map(lambda p: jnp.ones_like(p) * 0.1, params)
    updates, opt_state = tx.update(grads, opt_state, params)  # non-trivial moments
    state = _TeacherState(optax.apply_updates(params, updates), opt_state, jnp.int32(7))
    manager = checkpoints.checkpoint_manager(tmp_path)
    checkpoints.save(manager, state, config.Config())
    back, _ = checkpoints.restore(manager, jax.eval_shape(lambda: state))
    for x, y in zip(jax.tree.leaves(state), jax.tree.leaves(back), strict=True):
        np.testing.assert_array_equal(x, y)
    assert jax.tree.structure(state) == jax.tree.structure(back)
