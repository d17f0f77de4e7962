"""Where a mode's hints come from: one small `HintSource` per mode, so that the training step
(`train.py`) is the same loop for all of them, and a new mode is one new source here.

    mode                     hints                                  learns
    student_only             none                                   -
    oracle                   the oracle's subgoal (a fraction made  -
                             wrong: feedback.oracle_corruption,
                             how: feedback.wrong_hints)
    teacher_frozen           the initial teacher, sampled           -
    teacher_greedy           the initial teacher, most likely hint  -
    bidirectional            the teacher, sampled                   from the student's scores
    bidirectional_shuffled   the teacher, sampled                   from the scores shuffled among
                                                                    the hints (the control)

The teacher is loaded once ([teacher] path, the shipped one by default) and is also the frozen
reference of the KL; only a learning source carries a copy per seed (its `TeacherState`).
"""

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

from jaxbidir import envs
from jaxbidir.config import FEEDBACK_MODES, Config
from jaxbidir.teacher import Bridge, configured

from . import hints, teacher_update


class HintSource(NamedTuple):
    """ask(mode_state, states [B], key) -> hints.Asked [B]; None: the mode gives no hints.
    init() -> the source's state for one seed (None unless it learns).
    learn(mode_state, asked [S, 2N], score f32[S, 2N], used bool[S, 2N], key) ->
        (mode_state, metrics, nonfinite checks): after each student update.
    lm, bridge: the teacher as loaded and its `Bridge` (None without one).
    teacher(mode_state) -> the teacher as it is now, for one seed (None without one)."""

    ask: Callable | None
    init: Callable
    learn: Callable
    lm: Any = None
    bridge: Bridge | None = None
    teacher: Callable | None = None


def _nothing():
    return None


def _no_learning(state, asked, score, used, key):
    return state, {}, {}


def no_hints(config: Config, env: envs.Environment) -> HintSource:
    return HintSource(None, _nothing, _no_learning)


def oracle(config: Config, env: envs.Environment) -> HintSource:
    """The oracle's subgoals, a fraction `feedback.oracle_corruption` of them made wrong."""
    corruption, present = config.feedback.oracle_corruption, config.feedback.wrong_hints

    def ask(_, states, key):
        return hints.ask_oracle(states, key, corruption, present == "present")

    return HintSource(ask, _nothing, _no_learning)


def teacher(
    config: Config,
    env: envs.Environment,
    temperature: float | None = None,
    learns: bool = False,
    shuffled: bool = False,
) -> HintSource:
    """The configured teacher's hints, sampled at `temperature` ([teacher]'s by default);
    with `learns`, updated from the student's scores (`shuffled`: the control)."""
    lm, tokenizer, directory = configured.load_configured(config.teacher.path, "teacher.path")
    description_length = config.teacher.description_length or (
        configured.pretrained_description_length(directory)
    )
    bridge = Bridge.build(tokenizer)
    needed = bridge.prompt_length(env.mission_length, description_length) + bridge.hint_length()
    if needed > lm.config.n_positions:
        raise ValueError(
            f"config: the teacher's prompts and hints take {needed} tokens but it has "
            f"{lm.config.n_positions} positions; lower teacher.description_length"
        )
    temperature = config.teacher.temperature if temperature is None else temperature
    ask = hints.make_ask_teacher(bridge, description_length, temperature)
    if not learns:  # one copy of the frozen teacher for all seeds
        return HintSource(lambda _, states, key: ask(lm, states, key), _nothing, _no_learning,
                          lm, bridge, lambda _: lm)  # fmt: skip
    learnable = teacher_update.split_teacher(config, lm)
    init, learn = teacher_update.make_learner(config, learnable, shuffled)
    teacher_now = lambda state: learnable.teacher_of(state.params)  # noqa: E731
    return HintSource(lambda state, states, key: ask(teacher_now(state), states, key), init,
                      learn, lm, bridge, teacher_now)  # fmt: skip


SOURCES = {
    "student_only": no_hints,
    "oracle": oracle,
    "teacher_frozen": teacher,
    "teacher_greedy": functools.partial(teacher, temperature=0.0),
    "bidirectional": functools.partial(teacher, learns=True),
    "bidirectional_shuffled": functools.partial(teacher, learns=True, shuffled=True),
}
assert set(SOURCES) == set(FEEDBACK_MODES), "every feedback mode needs a hint source"


def make_source(config: Config, env: envs.Environment) -> HintSource:
    return SOURCES[config.mode](config, env)
