"""`jaxbidir reproduce`: an experiment's record is written after each arm, and a rerun keeps the
arms already recorded (an experiment longer than a session goes on from what was committed);
an arm run in groups of seeds keeps its recorded groups the same way."""

import json
from pathlib import Path

import jax
import numpy as np
import pytest
from tiny import EVALUATED, TINY

from jaxbidir import cli, experiments, training

# arms of hint sources without a language model (oracle): no teacher to compile
OVERRIDES = EVALUATED
ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow  # three arms, one again after a stop: minutes (`make test-slow`)
def test_an_experiment_goes_on_from_its_record(tmp_path, monkeypatch):
    tiny = experiments.Experiment(
        "a test", "paper_40", OVERRIDES, 2,
        {"student_only": {"mode": "student_only"}, "oracle": {"mode": "oracle"}},
    )  # fmt: skip
    monkeypatch.setitem(experiments.EXPERIMENTS, "tiny", tiny)
    runs, results = tmp_path / "runs", tmp_path / "results"
    real_run = training.run

    def killed_after_one_arm(cfg, out_dir, **kwargs):
        if cfg.mode == "oracle":
            raise KeyboardInterrupt
        return real_run(cfg, out_dir, **kwargs)

    monkeypatch.setattr(training, "run", killed_after_one_arm)
    with pytest.raises(KeyboardInterrupt):
        experiments.reproduce("tiny", runs, results, progress=False)
    record = json.loads((results / "tiny" / "table.json").read_text())
    assert list(record["modes"]) == ["student_only"]  # the first arm, recorded
    assert record["modes"]["student_only"]["seeds"] == [0, 1]

    # a new session (its summary gone from runs/): the recorded arm is not trained again
    (runs / "tiny" / "student_only" / "summary.json").unlink()
    trained = []

    def recorded(cfg, *args, **kwargs):
        trained.append(cfg.mode)
        return real_run(cfg, *args, **kwargs)

    monkeypatch.setattr(training, "run", recorded)
    assert cli.main(["reproduce", "tiny", "--runs", str(runs), "--results", str(results),
                     "--no-progress"]) == 0  # fmt: skip
    assert trained == ["oracle"]
    record = json.loads((results / "tiny" / "table.json").read_text())
    assert list(record["modes"]) == ["student_only", "oracle"]
    assert record["command"] == "jaxbidir reproduce tiny" and record["frames_per_seed"] == 1024
    assert (results / "tiny" / "curves.png").exists() and (results / "tiny" / "table.md").exists()

    # a record made before a config field was added reads as that field at its default
    saved = json.loads((results / "tiny" / "table.json").read_text())
    del saved["config"]["teacher"]["lora_rank"]
    (results / "tiny" / "table.json").write_text(json.dumps(saved))
    trained.clear()
    experiments.reproduce("tiny", runs, results, progress=False)
    assert trained == []

    # an arm added between recorded ones is trained and written with all of them, in order
    widened = {
        "student_only": tiny.arms["student_only"],
        "oracle_wrong_0.25": {"mode": "oracle", "feedback.oracle_corruption": 0.25},
        "oracle": tiny.arms["oracle"],
        "oracle_wrong": {"mode": "oracle", "feedback.oracle_corruption": 0.5},
    }
    monkeypatch.setitem(experiments.EXPERIMENTS, "tiny", experiments.Experiment(
        "a test", "paper_40", OVERRIDES, 2, widened))  # fmt: skip

    def killed_at_the_last_arm(cfg, *args, **kwargs):
        if cfg.feedback.oracle_corruption >= 0.5:
            raise KeyboardInterrupt
        return recorded(cfg, *args, **kwargs)

    monkeypatch.setattr(training, "run", killed_at_the_last_arm)
    with pytest.raises(KeyboardInterrupt):
        experiments.reproduce("tiny", runs, results, progress=False)
    assert trained == ["oracle"]  # oracle_wrong_0.25's mode
    record = json.loads((results / "tiny" / "table.json").read_text())
    assert list(record["modes"]) == ["student_only", "oracle_wrong_0.25", "oracle"]
    # the oracle at two rates: the record has its dose-response (the arms say which is which)
    assert [row["made_wrong"] for row in record["dose_response"]] == [0.0, 0.25]
    # an arm defined but never run may be redefined: it is trained (here: killed) as it is now
    redefined = {**widened, "oracle_wrong": {"mode": "oracle", "feedback.oracle_corruption": 0.75}}
    monkeypatch.setitem(experiments.EXPERIMENTS, "tiny", experiments.Experiment(
        "a test", "paper_40", OVERRIDES, 2, redefined))  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        experiments.reproduce("tiny", runs, results, progress=False)
    monkeypatch.setattr(training, "run", recorded)
    monkeypatch.setitem(experiments.EXPERIMENTS, "tiny", tiny)

    # another version of the experiment does not mix with this record
    monkeypatch.setitem(experiments.EXPERIMENTS, "tiny", experiments.Experiment(
        "a test", "paper_40", (*OVERRIDES, "student.lr=0.01"), 2, tiny.arms))  # fmt: skip
    with pytest.raises(ValueError, match="another version of experiment 'tiny'"):
        experiments.reproduce("tiny", runs, results, progress=False)
    # ... nor one whose recorded arm changed (an arm added since would be trained, and kept)
    changed = {**tiny.arms, "oracle": {"mode": "oracle", "feedback.oracle_corruption": 0.1}}
    monkeypatch.setitem(experiments.EXPERIMENTS, "tiny", experiments.Experiment(
        "a test", "paper_40", OVERRIDES, 2, changed))  # fmt: skip
    with pytest.raises(ValueError, match="or an arm's overrides differ"):
        experiments.reproduce("tiny", runs, results, progress=False)


def test_a_run_from_a_first_seed_trains_those_seeds_of_the_whole_run():
    whole = experiments.configs.load("paper_40", {**TINY, "run.num_seeds": 3})
    trainer = training.make_train(whole)
    states = training.init_seeds(trainer, whole)[0]
    part = experiments.configs.replace(whole, **{"run.num_seeds": 2, "run.first_seed": 1})
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(a[1:], b),
                 states, training.init_seeds(trainer, part)[0])  # fmt: skip


def test_an_arm_in_groups_of_seeds_goes_on_from_its_recorded_groups(tmp_path, monkeypatch):
    arms = {"oracle": {"mode": "oracle", "run.num_seeds": 1}}
    monkeypatch.setitem(experiments.EXPERIMENTS, "tiny", experiments.Experiment(
        "a test", "paper_40", OVERRIDES, 2, arms))  # fmt: skip
    runs, results = tmp_path / "runs", tmp_path / "results"
    real_run, trained = training.run, []

    def killed_in_the_second_group(cfg, out_dir, **kwargs):
        trained.append(cfg.run.first_seed)
        if cfg.run.first_seed == 1:
            raise KeyboardInterrupt
        return real_run(cfg, out_dir, **kwargs)

    monkeypatch.setattr(training, "run", killed_in_the_second_group)
    with pytest.raises(KeyboardInterrupt):
        experiments.reproduce("tiny", runs, results, progress=False)
    group = results / "tiny" / "oracle" / "seeds_0-0.json"
    first = json.loads(group.read_text())
    assert first["config"]["run"]["first_seed"] == 0 and len(first["curve"]["success"]) == 1
    assert not (results / "tiny" / "table.json").exists()  # the arm is not whole yet

    # a new session (runs/ gone): the recorded group is kept, the other one trained
    for summary in runs.glob("**/summary.json"):
        summary.unlink()
    trained.clear()
    monkeypatch.setattr(training, "run", lambda cfg, *a, **k: trained.append(
        cfg.run.first_seed) or real_run(cfg, *a, **k))  # fmt: skip
    table = experiments.reproduce("tiny", runs, results, progress=False)
    assert trained == [1]
    second = json.loads((results / "tiny" / "oracle" / "seeds_1-1.json").read_text())["curve"]
    record = table["modes"]["oracle"]
    assert record["seeds"] == [0, 1] and record["curve"]["frames"] == second["frames"]
    assert record["curve"]["success"] == first["curve"]["success"] + second["success"]


def test_every_experiment_is_a_valid_config():
    for name, exp in experiments.EXPERIMENTS.items():
        base = exp.base_config()
        for overrides in exp.arms.values():
            experiments.configs.replace(base, **overrides)
            assert exp.seeds % overrides.get("run.num_seeds", exp.seeds) == 0, name
        arms = set(exp.arms)
        # every experiment answers its question paired by seed; a one-seed probe has no pairs
        assert any(m in arms and c in arms for m, c, _ in exp.pairs) == (exp.seeds > 1), name


def test_every_committed_record_is_of_its_experiment_as_defined():
    """A default changed since a record was made (the student's PPO schedule) must not make
    `reproduce` refuse it: each experiment pins what its record was trained with."""
    records = sorted((ROOT / "results").glob("*/table.json"))
    assert records
    for saved in records:
        name = saved.parent.name
        if name in experiments.EXPERIMENTS:
            done = json.loads(saved.read_text())
            assert not experiments.is_another_version(done, experiments.experiment(name)), name
