"""Missions: our sentences equal minigrid's, and our samplers draw the same mix as minigrid's."""

import collections
import contextlib
import io
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from reference.minigrid_envs import make_minigrid
from scipy.stats import chi2_contingency
from tiny import levels_but_most_small_ones, per_level

from jaxbidir import envs
from jaxbidir.envs import constants as C
from jaxbidir.envs import instruction as I
from jaxbidir.envs import language as L
from jaxbidir.envs.layout import Layout

CLAUSE = {
    "GoToInstr": L.GOTO,
    "PickupInstr": L.PICKUP,
    "OpenInstr": L.OPEN_DOOR,
    "PutNextInstr": L.PUTNEXT,
}
CONNECTIVE = {"BeforeInstr": I.BEFORE, "AfterInstr": I.AFTER, "AndInstr": I.AND}


def _desc(d):
    if d is None:
        return I.NO_DESC
    return np.array([
        C.OBJECT_NAMES.index(d.type) if d.type else -1,
        C.COLOUR_NAMES.index(d.color) if d.color else -1,
        L.LOC_NAMES.index(d.loc) if d.loc else -1,
    ], np.int32)  # fmt: skip


def _spec(instrs):
    """minigrid instruction -> (connective, kinds, descs, fixeds) as written."""
    name = type(instrs).__name__
    parts = [instrs, instrs] if name in CLAUSE else [instrs.instr_a, instrs.instr_b]
    connective = I.SINGLE if name in CLAUSE else CONNECTIVE[name]
    kinds = [CLAUSE[type(p).__name__] for p in parts]
    descs = [_desc(getattr(p, "desc_move", None) or p.desc) for p in parts]
    fixeds = [_desc(getattr(p, "desc_fixed", None)) for p in parts]
    return connective, np.array(kinds), np.stack(descs), np.stack(fixeds)


@pytest.mark.parametrize("env_id", per_level(levels_but_most_small_ones()))
def test_mission_text_from_our_builder(env_id):
    """The sentence our JAX builder writes for minigrid's own instruction, on minigrid's layout,
    is minigrid's mission string, token for token."""
    env = envs.make(env_id)
    build = jax.jit(I.build, static_argnums=(5,))
    for seed in range(40):
        with contextlib.redirect_stdout(io.StringIO()):
            mg = make_minigrid(env_id, seed)
        st = envs.from_minigrid(mg, env=env).state
        lay = Layout(st.grid, st.ids, st.agent_pos, st.agent_dir, jnp.zeros((), jnp.int32))
        connective, kinds, descs, fixeds = _spec(mg.instrs)
        instr, mission, _, valid = build(lay, connective, kinds, descs, fixeds, 24)
        assert bool(valid)
        assert L.decode(mission) == mg.mission
        np.testing.assert_array_equal(instr.objs, st.instruction.objs, err_msg=mg.mission)
        np.testing.assert_array_equal(instr.fixed, st.instruction.fixed, err_msg=mg.mission)


def features(mission: str) -> dict[str, list[str]]:
    """What a level's mix is made of: the sentence pattern, colours, object types, locations."""
    colours = "|".join(C.COLOUR_NAMES)
    types = "ball|box|key|door"
    pattern = re.sub(rf"\b({colours})\b", "C", mission)
    pattern = re.sub(rf"\b({types})\b", "T", pattern)
    pattern = re.sub(r"\b(on your left|on your right|in front of you|behind you)\b", "LOC", pattern)
    objects = re.findall(rf"\b(?:the|a) (?:({colours}) )?({types}|object)\b", mission)
    return {
        "pattern": [pattern],
        "colour": [colour or "none" for colour, _ in objects],
        "type": [type_ for _, type_ in objects],
        "loc": re.findall(r"(on your left|on your right|in front of you|behind you)", mission),
    }


def _ours(env_id, n):
    env = envs.make(env_id)
    keys = jax.random.split(jax.random.PRNGKey(123), n)
    missions = jax.jit(jax.vmap(lambda k: env.reset(k).state.mission))(keys)
    return [L.decode(m) for m in np.asarray(missions)]


def _theirs(env_id, n):
    out = []
    with contextlib.redirect_stdout(io.StringIO()):
        for seed in range(n):
            out.append(make_minigrid(env_id, 10_000 + seed, random_task=True).mission)
    return out


@pytest.mark.parametrize("env_id", per_level(levels_but_most_small_ones()))
def test_mission_mix_matches_minigrid(env_id):
    """Chi-square test of homogeneity, feature by feature, between our sampler and minigrid's."""
    n = 300 if "Mixed" in env_id else 500
    ours, theirs = _ours(env_id, n), _theirs(env_id, n)
    for name in ("pattern", "colour", "type", "loc"):
        a = collections.Counter(v for m in ours for v in features(m)[name])
        b = collections.Counter(v for m in theirs for v in features(m)[name])
        cats = sorted(set(a) | set(b))
        if len(cats) < 2:
            assert a.keys() == b.keys(), (name, a, b)
            continue
        table = np.array([[a[c] for c in cats], [b[c] for c in cats]])
        p = chi2_contingency(table).pvalue
        assert p > 1e-3, f"{env_id} {name}: ours {dict(a)} vs minigrid {dict(b)} (p={p:.2g})"
