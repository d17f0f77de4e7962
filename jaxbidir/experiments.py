"""The project's experiments, one command each: `jaxbidir reproduce NAME` (`make reproduce
EXP=NAME`) trains every arm of the experiment on the same seeds and writes its record to
`results/NAME/` (`table.json` with every per-seed outcome and curve, `table.md`, `curves.png`).

The record is written again after each arm, and an arm already in a committed `table.json` with
the same config is not trained again: an experiment longer than one session (or one machine)
goes on from what was committed. The runs themselves (checkpoints, logs) go to
`runs/reproduce/NAME/<arm>/`, where a killed arm resumes from its last checkpoint. An arm whose
overrides set `run.num_seeds` (fewer than the experiment's seeds) runs in groups of that many
seeds, one run after another (`run.first_seed`: the same seeds as one run); each group's curve
is recorded in `results/NAME/<arm>/seeds_<first>-<last>.json` when it ends, so an arm longer
than a session goes on from its committed groups too.

Expected wall times are for the whole experiment, measured or estimated as stated.
"""

import dataclasses
import json
from pathlib import Path

from jaxbidir import config as configs
from jaxbidir import curves

CONTROLS = ("teacher_frozen", "bidirectional", "bidirectional_shuffled")
INFORMATIVE = (
    "student_only",
    "teacher_frozen",
    "bidirectional",
    "bidirectional_shuffled",
    "oracle",
)


# the student's PPO schedule the experiments below were recorded with, before the default became
# 2 epochs of 8 minibatches at lr 2e-3 (config.StudentConfig): they keep it, so that their
# records stay the runs their configs describe
RECORDED_SCHEDULE = ("student.update_epochs=4", "student.num_minibatches=4", "student.lr=0.001")


@dataclasses.dataclass(frozen=True)
class Experiment:
    question: str
    config: str  # a shipped config
    overrides: tuple[str, ...]  # dotted key=value on top of it
    seeds: int
    arms: dict  # {arm name: dotted overrides of that arm (its mode at least)}
    threshold: float = 0.9
    pairs: tuple = curves.PAIRS
    wall_time: str = "not yet measured"
    schedule: tuple[str, ...] = RECORDED_SCHEDULE  # the student's PPO schedule; () the default's

    def base_config(self) -> configs.Config:
        """The shipped config with the schedule and the overrides, before any arm's."""
        return configs.load(self.config, [*self.schedule, *self.overrides])

    def record(self) -> dict:
        """The config its `table.json` records: the base config for all its seeds, no mode."""
        record = configs.replace(self.base_config(), **{"run.num_seeds": self.seeds}).to_dict()
        record.pop("mode")  # each arm's own
        return record


def _modes(*modes) -> dict:
    return {mode: {"mode": mode} for mode in modes}


def _dose(rates=(0.25, 0.5, 0.75)) -> tuple[dict, tuple]:
    """The oracle made wrong at `rates`: arms and their pairs against the hint-free student."""
    arms = {f"oracle_wrong_{r}": {"mode": "oracle", "feedback.oracle_corruption": r} for r in rates}
    pairs = tuple((arm, "student_only", "do hints this wrong still help") for arm in arms)
    return arms, pairs


_DOSE_ARMS, _DOSE_PAIRS = _dose()
# what the hints' information is worth: half of them wrong against all right
_HALF_WRONG_COST = ("oracle_wrong_0.5", "oracle", "what half the hints wrong cost")

# the learning teacher as adapters: at the full update's learning rate (teacher.lr, 1e-4), at
# 10x (adapters start at zero and move little at 1e-4: KL 1e-4 after 17 updates), and every 4th
_LORA = {"mode": "bidirectional", "teacher.update": "lora"}
_LORA_ARMS = {
    "bidirectional_lora": _LORA,
    "bidirectional_lora_lr1e-3": {**_LORA, "teacher.lr": 1e-3},
    "bidirectional_lora_lr1e-3_every4": {**_LORA, "teacher.lr": 1e-3, "feedback.teacher_every": 4},
}

# a student that does not see its mission, so that the hint is its only goal; hint_every=16:
# an environment whose two hints of a segment are spent (a second reset within it) acts without
# one until the next segment
_BLIND = ("student.sees_mission=false", "student.hint_film=true", "feedback.hint_every=16",
          "env.num_envs=16")  # fmt: skip

# the control that says whether the budget is the limit: the blind level's student reading its
# mission (what the oracle's hint restates on GoToLocal), no hints
_SIGHTED = {"mode": "student_only", "student.sees_mission": True}
_SIGHTED_PAIR = ("student_sighted", "student_only", "does reading its mission help the student "
                 "within this budget")  # fmt: skip


def _student_variant(suffix: str, overrides: dict, change: str, changed: str):
    """Both students (blind and reading its mission) with a change to the network (`overrides`),
    as arms `student_sighted_<suffix>`, `student_only_<suffix>`, and their pairs: does the change
    speed each student, and with it, does reading its mission help."""
    sighted, blind = f"student_sighted_{suffix}", f"student_only_{suffix}"
    arms = {sighted: {**_SIGHTED, **overrides}, blind: {"mode": "student_only", **overrides}}
    pairs = (
        (sighted, "student_sighted", f"does {change} speed the student that reads its mission"),
        (blind, "student_only", f"does {change} speed the blind student"),
        (sighted, blind, f"{changed}, does reading its mission help within this budget"),
    )
    return arms, pairs


_CELLS = {"student.cell_embed": True}
# the view's cells embedded (where an object lies survives the pooling); the whole map flattened
# for the heads (where survives: no max-pool)
_CELLS_ARMS, _CELLS_PAIRS = _student_variant(
    "cells", _CELLS, "the cell embedding", "with the cell embedding"
)
_FLAT_ARMS, _FLAT_PAIRS = _student_variant(
    "flat", {"student.pool": "flatten"}, "flattening the map", "with the map flattened"
)

# the hint reaches the student's actions: the executor's action for it pulls the student's loss
# (LLM4Teach's action prior); wrong hints name another object that is there
_PRIOR = ("feedback.channel=action_prior", "feedback.wrong_hints=present", "feedback.hint_every=16",
          "student.hint_film=true", "student.cell_embed=true", "env.num_envs=16")  # fmt: skip

# its arms: the oracle's hints (all right, half wrong) against none, and as text only
_PRIOR_ARMS = {**_modes("oracle", "student_only"),
               "oracle_wrong_0.5": _DOSE_ARMS["oracle_wrong_0.5"],
               "oracle_input": {"mode": "oracle", "feedback.channel": "input"}}  # fmt: skip
_PRIOR_PAIRS = (*curves.PAIRS, _DOSE_PAIRS[1], _HALF_WRONG_COST,
                ("oracle", "oracle_input", "does the action prior carry the hint where text alone "
                 "does not"))  # fmt: skip

# ... the prior toward every first step of a shortest path (not the executor's one tie-break)
_SHORTEST = {"mode": "oracle", "feedback.prior_labels": "shortest"}
_SHORTEST_ARMS = {
    "oracle_shortest": _SHORTEST,
    "oracle_shortest_wrong_0.5": {**_SHORTEST, "feedback.oracle_corruption": 0.5},
}
# ... and at first acting as the prior asks on half the steps (falling to none at mid-run)
_MIX = {**_SHORTEST, "feedback.prior_act": 0.5}
_MIX_ARMS = {
    "oracle_mix": _MIX,
    "oracle_mix_wrong_0.5": {**_MIX, "feedback.oracle_corruption": 0.5},
    # ... and no prior at all from mid-run (LLM4Teach drops it after 3000 updates)
    "oracle_mix_off": {**_MIX, "feedback.prior_off": 0.5},
}
_MIX_PAIRS = (
    ("oracle_mix", "student_only", "can information help at all here, acting on the hint early"),
    ("oracle_mix_wrong_0.5", "student_only", "do hints this wrong still help"),
    ("oracle_mix_wrong_0.5", "oracle_mix", "what half the hints wrong cost"),
    ("oracle_mix_off", "student_only", "can information help, the prior off from mid-run"),
)
# ... with a recurrent student (a GRU core of 64 units carries the episode)
_RECURRENT_ARMS = {
    "student_recurrent": {"mode": "student_only", "student.memory": 64},
    "oracle_mix_recurrent": {**_MIX, "student.memory": 64},
}
_RECURRENT_PAIRS = (
    ("student_recurrent", "student_only", "does a memory speed the student alone"),
    ("oracle_mix_recurrent", "student_recurrent", "can information help a recurrent student, "
     "acting on the hint early"),
)  # fmt: skip
# the hint reaches the student's reward: a bonus once it carries out the hint in force (ELLA,
# ELLM), on a level of several steps, where a hint ("pick up the red ball") says what the
# mission does not say first
_BONUS = ("feedback.channel=subgoal_bonus", "feedback.wrong_hints=present",
          "feedback.hint_every=16", "student.hint_film=true", "student.cell_embed=true",
          "env.num_envs=16")  # fmt: skip
_BONUS_ARMS = {**_modes("student_only", "oracle"),
               "oracle_wrong_0.5": _DOSE_ARMS["oracle_wrong_0.5"],
               "oracle_input": {"mode": "oracle", "feedback.channel": "input"}}  # fmt: skip
_BONUS_PAIRS = (
    ("oracle", "student_only", "can information help at all here, as a bonus for each subgoal"),
    ("oracle_wrong_0.5", "student_only", "do hints this wrong still help"),
    _HALF_WRONG_COST,
    ("oracle", "oracle_input", "does the bonus carry the hint where text alone does not"),
)
_SHORTEST_PAIRS = (
    ("oracle_shortest", "student_only", "can information help at all here, with every shortest "
     "step asked for"),
    ("oracle_shortest", "oracle", "does asking for every shortest step beat one"),
    ("oracle_shortest_wrong_0.5", "student_only", "do hints this wrong still help"),
)  # fmt: skip

EXPERIMENTS = {
    "paper_40": Experiment(
        "both hypotheses on the paper's level, with the controls; and the learning teacher as "
        "low-rank adapters on one shared copy (bidirectional_lora), learning at every update "
        "or every 4th",
        "paper_40", (), 32,
        {**_modes(*configs.FEEDBACK_MODES), **_LORA_ARMS},
        pairs=(*curves.PAIRS,
               ("bidirectional_lora", "teacher_frozen", "does a teacher learning as adapters "
                "beat a frozen one (against the full update's gain)"),
               ("bidirectional_lora_lr1e-3", "teacher_frozen", "... at a learning rate 10x the "
                "full update's"),
               ("bidirectional_lora_lr1e-3_every4", "teacher_frozen", "... learning every 4th "
                "update only (a quarter of the teacher's cost)"),
               ("bidirectional_lora_lr1e-3", "bidirectional", "what adapters give up against "
                "the full update")),
        wall_time="about 1.5 h on a 2-core CPU",
    ),
    "paper_40_glam": Experiment(
        "the paper's own comparison: its method against the Lamorel/GLAM baseline (the language "
        "model as the policy, trained by PPO with GLAM's settings; the shipped teacher as its "
        "LM) on the paper's level at its 40 iterations",
        "paper_40", (), 8,
        {**_modes("student_only", "teacher_frozen", "bidirectional"),
         # GLAM is ~50x a student's cost per frame: one seed a run (~17 min of a 2-core CPU),
         # each recorded when it ends, and a checkpoint at every update
         "glam": {"mode": "glam", "run.num_seeds": 1, "run.log_every": 1,
                  "run.checkpoint_every": 1}},
        pairs=(("bidirectional", "glam", "does the paper's method beat the LM as the policy"),
               ("student_only", "glam", "does a small PPO student alone beat the LM as the "
                "policy"),
               ("bidirectional", "student_only", "does the paper's method beat the student "
                "alone")),
        wall_time="the student's arms minutes each; glam ~17 min a seed alone on a 2-core CPU "
        "(AMD EPYC), ~2.3 hours for its 8",
    ),
    "gotolocal_32k": Experiment(
        "what the student's scores teach the teacher on GoToLocal (second hypothesis)",
        "gotolocal",
        ("env.num_envs=16", "run.total_frames=32768", "run.log_every=4",
         "run.checkpoint_every=16", "run.eval_every=4"),
        32, _modes(*CONTROLS), threshold=0.5,
        wall_time="about 1.5 h on a 2-core CPU (bidirectional 27 min alone), ~15 GB",
    ),
    "pickuploc_1m": Experiment(
        "can hints help where they carry information (first hypothesis), and how wrong may "
        "they be (dose-response of the oracle made wrong)",
        "pickuploc",
        ("env.num_envs=64", "run.total_frames=1048576", "run.log_every=8",
         "run.checkpoint_every=32", "run.eval_every=32", "run.seed_batch=16"),
        16, {**_modes(*INFORMATIVE), **_DOSE_ARMS}, threshold=0.5,
        pairs=(*curves.PAIRS, *_DOSE_PAIRS),
        wall_time="not yet measured; sized for a GPU (about 1M frames per seed and arm)",
    ),
    "gotolocal_blind": Experiment(
        "the first hypothesis where the hint is the student's only goal: a student that does "
        "not see its mission, on GoToLocal; how wrong may hints be (the oracle made wrong); and "
        "does the student need to ground its hint in the view (FiLM) or is a bag of words enough, "
        "and does a hint refreshed every 16 steps pay over one every 32",
        "gotolocal",
        (*_BLIND, "run.total_frames=65536", "run.log_every=4", "run.checkpoint_every=16",
         "run.eval_every=8"),
        16,
        # the oracle's arms first: they need no teacher, so they cost least, and they say
        # whether a hint can help here at all and how right it must be
        {**_modes("student_only", "oracle"), **_DOSE_ARMS,
         "oracle_bow": {"mode": "oracle", "student.hint_film": False},
         "oracle_every32": {"mode": "oracle", "feedback.hint_every": 32},
         **_modes("teacher_frozen", "bidirectional", "bidirectional_shuffled")},
        # a blind student_only reaches 0.57 (objects reached at random): 0.5 would not separate
        threshold=0.8,
        pairs=(*curves.PAIRS, *_DOSE_PAIRS,
               ("oracle", "oracle_bow", "does grounding the hint in the view (FiLM) pay"),
               ("oracle", "oracle_every32", "do hints refreshed every 16 steps pay over every 32")),
        wall_time="18 min an oracle arm on a 2-core CPU; the teachers' arms not yet measured",
    ),
    "gotolocal_blind_pilot": Experiment(
        "where does the oracle's hint leave the hint-free blind student on GoToLocal: a few "
        "seeds, 4x gotolocal_blind's budget (at 65k frames the two do not separate)",
        "gotolocal",
        (*_BLIND, "run.total_frames=262144", "run.log_every=16", "run.checkpoint_every=32",
         "run.eval_every=16"),
        4,
        {**_modes("student_only", "oracle"), "student_sighted": _SIGHTED,
         **_CELLS_ARMS, **_FLAT_ARMS, "oracle_cells": {"mode": "oracle", **_CELLS}},
        threshold=0.8,
        pairs=(*curves.PAIRS, _SIGHTED_PAIR, *_CELLS_PAIRS,
               ("oracle_cells", "student_only_cells", "with the cell embedding, can the hint "
                "help"),
               *_FLAT_PAIRS),
        wall_time="about 35 min on a 2-core CPU (11 min an arm)",
    ),
    "gotolocal_blind_pilot_1m": Experiment(
        "does the goal matter within 1M frames per seed on GoToLocal: the blind student against "
        "the one that reads its mission (at 262k frames they do not separate), then the oracle",
        "gotolocal",
        (*_BLIND, "run.total_frames=1048576", "run.log_every=16", "run.checkpoint_every=64",
         "run.eval_every=32"),
        4,
        {**_modes("student_only"),
         "student_sighted": _SIGHTED,
         **_modes("oracle")},
        threshold=0.8,
        pairs=(*curves.PAIRS, _SIGHTED_PAIR),
        wall_time="about 50 min an arm alone on a 2-core CPU",
    ),
    "gotolocal_probe_3m": Experiment(
        "how many frames before the student uses its mission on GoToLocal at all: one seed of "
        "the shipped config (256 environments) to 3M frames, blind and reading its mission "
        "(sizes the blind ablation; one seed, so no intervals)",
        "gotolocal",
        ("student.sees_mission=false", "run.total_frames=3145728", "run.eval_every=16",
         "run.eval_episodes=64"),
        1,
        {**_modes("student_only"), "student_sighted": _SIGHTED},
        pairs=(),
        wall_time="about 2 h on a 2-core CPU (1 h an arm alone)",
    ),
    "gotolocal_prior_pilot": Experiment(
        "does a hint that reaches the student's actions (the action prior) make it learn "
        "faster on GoToLocal within 262k frames, do wrong hints (half of them) land between, "
        "and do the student's scores then tell right hints from wrong; the same hints as text "
        "only (channel input) as the control of the channel",
        "gotolocal",
        (*_PRIOR, "run.total_frames=262144", "run.log_every=16", "run.checkpoint_every=32",
         "run.eval_every=16"),
        4, {a: {**_PRIOR_ARMS, **_MIX_ARMS}[a] for a in ("oracle", "student_only", "oracle_mix",
            "oracle_mix_wrong_0.5", "oracle_mix_off", "oracle_wrong_0.5", "oracle_input")},
        threshold=0.8,
        pairs=(*_PRIOR_PAIRS, *_MIX_PAIRS),
        wall_time="about 40 min an arm with the prior on a shared 2-core CPU",
    ),
    "gotoredball_prior_pilot": Experiment(
        "the same question where the goal is fixed (go to the red ball among 7 distractors): "
        "the student needs no language to follow a right hint, so does the action prior speed "
        "it, and does it learn to follow wrong hints (another object that is there) and score "
        "them lower",
        "gotoredballnodists",
        ("env.id=BabyAI-GoToRedBall-v0", *_PRIOR, "run.total_frames=131072", "run.log_every=8",
         "run.checkpoint_every=32", "run.eval_every=8"),
        4, {a: {**_PRIOR_ARMS, **_MIX_ARMS, **_SHORTEST_ARMS}[a] for a in ("oracle",
            "student_only", "oracle_wrong_0.5", "oracle_mix", "oracle_mix_wrong_0.5",
            "oracle_mix_off", "oracle_shortest", "oracle_shortest_wrong_0.5", "oracle_input")},
        threshold=0.8,
        pairs=(*_PRIOR_PAIRS, *_MIX_PAIRS, *_SHORTEST_PAIRS),
        wall_time="6 to 13 min an arm on a shared 2-core CPU",
    ),
    "gotolocal_s7n4_prior_pilot": Experiment(
        "on a small GoToLocal (one room of 7, 4 objects: the student's own reward is slower to "
        "find there than the red ball's), does acting on the oracle's hint early (the action "
        "prior with its mixture) make the student learn faster, do half the hints wrong land "
        "between, and do the student's scores tell right hints from wrong",
        "gotolocal",
        ("env.id=BabyAI-GoToLocalS7N4-v0", *_PRIOR, "run.total_frames=262144",
         "run.log_every=16", "run.checkpoint_every=32", "run.eval_every=16"),
        4, {a: {**_PRIOR_ARMS, **_MIX_ARMS, **_RECURRENT_ARMS}[a] for a in ("student_only",
            "oracle_mix", "oracle_mix_wrong_0.5", "oracle", "oracle_input", "student_recurrent",
            "oracle_mix_recurrent")},
        threshold=0.8,
        pairs=(*_PRIOR_PAIRS, *_MIX_PAIRS, *_RECURRENT_PAIRS),
        wall_time="11 min (student_only) to 22 min an arm alone on 2 cores",
    ),
    "putnextlocal_bonus_pilot": Experiment(
        "on PutNextLocal (pick up one of 8 objects, put it next to another), does a bonus for "
        "each of the oracle's subgoals carried out (the subgoal_bonus channel) make the student "
        "learn faster within 262k frames, do half the hints wrong land between, and do the "
        "student's scores tell right hints from wrong; the same hints as text only as the "
        "control of the channel",
        "putnextlocal",
        (*_BONUS, "student.embed_dim=16", "student.channels=16", "run.total_frames=262144",
         "run.log_every=16", "run.checkpoint_every=32", "run.eval_every=16"),
        4, {a: _BONUS_ARMS[a] for a in ("student_only", "oracle", "oracle_wrong_0.5",
                                        "oracle_input")},
        threshold=0.5,
        pairs=_BONUS_PAIRS,
        wall_time="about 20-30 min an arm on a shared 2-core CPU",
    ),
    "putnextlocal_bonus": Experiment(
        "the paper's two questions where the oracle's hints help (putnextlocal_bonus_pilot: "
        "+0.028 AUC as a bonus for each subgoal carried out): does the shipped teacher's "
        "imperfect hint help (H1), does the student's feedback make the teacher better than "
        "the same update with its scores shuffled (H2), and where the teachers sit on the "
        "oracle's dose-response",
        "putnextlocal",
        (*_BONUS, "student.embed_dim=16", "student.channels=16", "run.total_frames=262144",
         "run.log_every=16", "run.checkpoint_every=32", "run.eval_every=16"),
        16,
        # the oracle's arms first (no teacher: cheapest, and they bound the teachers' arms)
        {**_modes("student_only", "oracle"), **_DOSE_ARMS, **_modes("teacher_frozen"),
         # the teachers' arms after it in runs of 8 seeds: a group (~40 min alone) fits a session
         **{arm: {**overrides, "run.num_seeds": 8} for arm, overrides in {
             **_modes("teacher_greedy", "bidirectional", "bidirectional_shuffled"),
             "bidirectional_lora_lr1e-3_every4": _LORA_ARMS["bidirectional_lora_lr1e-3_every4"],
         }.items()}},
        threshold=0.5,
        pairs=(*curves.PAIRS, *_DOSE_PAIRS, _HALF_WRONG_COST,
               ("bidirectional_lora_lr1e-3_every4", "teacher_frozen",
                "do adapters learning every 4th update beat a frozen teacher")),
        wall_time="about 7 hours of a 2-core CPU in all: student_only, the oracle and the oracle "
        "made wrong ~26 min an arm alone, teacher_frozen 67 min, the other teachers' arms two "
        "groups of 8 seeds each, 13-30 min a group",
    ),
}  # fmt: skip


def experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise ValueError(f"no experiment {name!r}; the experiments: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def _as_read_now(recorded: dict) -> dict:
    """A recorded config as this version reads it: fields added since at their defaults."""
    config = configs.from_dict(recorded).to_dict()
    config.pop("mode")
    return config


def _trained(overrides: dict | None) -> dict | None:
    """What an arm trains: its overrides but for `run.num_seeds` (the seeds of each run when
    the arm runs in groups), which changes how its seeds are batched, not which."""
    return overrides and {k: v for k, v in overrides.items() if k != "run.num_seeds"}


def is_another_version(done: dict, exp: Experiment) -> bool:
    """Whether the record `done` (a `table.json`) is of another version of `exp`: its config, or
    the overrides of an arm it holds, differ. An arm added (or redefined before it ran) is
    welcome; a changed one is not."""
    return _as_read_now(done["config"]) != exp.record() or any(
        _trained(done["arms"].get(a)) != _trained(exp.arms.get(a, done["arms"].get(a)))
        for a in done["modes"]
    )


def reproduce(name: str, runs="runs/reproduce", results="results", progress=True) -> dict:
    """Run (or go on with) experiment `name`; -> its table, also in `results/name/`."""
    exp = experiment(name)
    base, record = exp.base_config(), exp.record()
    out = Path(results) / name
    out.mkdir(parents=True, exist_ok=True)
    saved = out / "table.json"
    done = json.loads(saved.read_text()) if saved.exists() else None
    if done and is_another_version(done, exp):
        raise ValueError(
            f"{saved} holds another version of experiment {name!r} (its config or an arm's "
            f"overrides differ); move it aside to run this one again"
        )

    def write(curve: dict) -> dict:
        table = curves.make_table(curve, exp.threshold, record, f"jaxbidir reproduce {name}",
                                  exp.pairs, exp.arms)  # fmt: skip
        table.update(question=exp.question, wall_time=exp.wall_time)
        curves.write(table, out)
        return table

    recorded = {
        arm: {**mode["curve"], "source": mode["source"]}
        for arm, mode in (done["modes"].items() if done else ())
        if arm in exp.arms and len(mode["seeds"]) == exp.seeds
    }
    in_order = lambda: {a: recorded[a] for a in exp.arms if a in recorded}  # noqa: E731
    for arm, overrides in exp.arms.items():
        if arm in recorded:
            print(f"{arm}: already in {saved}", flush=True)
            continue
        recorded[arm] = _run_arm(base, exp.seeds, Path(runs) / name / arm, overrides, out / arm,
                                 progress)  # fmt: skip
        write(in_order())  # after each arm, with every arm recorded before: what to commit
    return write(in_order())


def _run_arm(base, seeds: int, arm_dir: Path, overrides: dict, groups_dir: Path, progress):
    """One arm's curve (`curves.load`) on `seeds` seeds; in runs of `run.num_seeds` seeds
    where the arm's overrides say so, each group's curve recorded in `groups_dir` when it ends
    (a small JSON to commit) and not trained again: an arm longer than a session goes on from
    its committed groups."""
    overrides = dict(overrides)
    group = overrides.pop("run.num_seeds", seeds)
    if group == seeds:
        return curves.run_arm(base, seeds, arm_dir, overrides, progress)
    if seeds % group:
        raise ValueError(f"an arm's run.num_seeds={group} does not divide the experiment's "
                         f"{seeds} seeds: make it a divisor")  # fmt: skip
    parts = []
    for first in range(0, seeds, group):
        seeds_name = f"seeds_{first}-{first + group - 1}"
        record, at = groups_dir / f"{seeds_name}.json", {**overrides, "run.first_seed": first}
        config = configs.replace(base, **at, **{"run.num_seeds": group})
        kept = json.loads(record.read_text()) if record.exists() else None
        if kept and configs.from_dict(kept["config"]) == config:  # as this version reads it
            print(f"{groups_dir.name} {seeds_name}: already in {record}", flush=True)
            parts.append(kept["curve"])
            continue
        curve = curves.run_arm(base, group, arm_dir / seeds_name, at, progress)
        groups_dir.mkdir(parents=True, exist_ok=True)
        temporary = record.with_suffix(".tmp")  # a stop mid-write leaves no half a record
        temporary.write_text(json.dumps({"config": config.to_dict(), "curve": curve}) + "\n")
        temporary.replace(record)
        parts.append(curve)
    return curves.joined(parts)
