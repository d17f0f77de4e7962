"""`jaxbidir reproduce`: an experiment's record is written after each arm, and a rerun keeps the
arms already recorded (an experiment longer than a session goes on from what was committed)."""

import json

import pytest
from tiny import EVALUATED

from jaxbidir import cli, experiments, training

# arms of hint sources without a language model (oracle): no teacher to compile
OVERRIDES = EVALUATED


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


def test_every_experiment_is_a_valid_config():
    for name, exp in experiments.EXPERIMENTS.items():
        base = experiments.configs.load(exp.config, list(exp.overrides))
        for overrides in exp.arms.values():
            experiments.configs.replace(base, **overrides)
        arms = set(exp.arms)
        # every experiment answers its question paired by seed; a one-seed probe has no pairs
        assert any(m in arms and c in arms for m, c, _ in exp.pairs) == (exp.seeds > 1), name
