"""Damaged checkpoints and a cut metrics file: a resumed run or an evaluation skips the damaged
checkpoint with one warning line and goes on from the newest good one (the same metrics as a run
never damaged), keeps the damaged one on disk, and stops with one error line when none is good.

Every test copies one tiny run and damages the copy; the same config everywhere reuses the
compiled programs."""

import shutil

import pytest
from tiny import TINY

from jaxbidir import checkpoints, cli, config, curves, training
from jaxbidir.evaluate import evaluate


@pytest.fixture(scope="module")
def cfg():
    return config.load(None, TINY)


@pytest.fixture(scope="module")
def whole(tmp_path_factory, cfg):
    """A run of 8 updates never damaged: checkpoints 4 and 8."""
    out = tmp_path_factory.mktemp("whole")
    training.run(cfg, out, progress=False)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["4", "8"]
    return out


def _copy(whole, tmp_path):
    return shutil.copytree(whole, tmp_path / "run")


def _data_file(step_dir):
    """The largest of the checkpoint's array data files (`state/ocdbt.process_0/d/...`)."""
    files = [p for p in step_dir.rglob("*") if p.is_file() and p.parent.name == "d"]
    return max(files, key=lambda p: p.stat().st_size)


def _truncate(step_dir):
    data = _data_file(step_dir)
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])


def _remove(step_dir):
    _data_file(step_dir).unlink()


def _garbage_metadata(step_dir):
    (step_dir / "state" / "_METADATA").write_text("not json {")


def _warnings(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]


@pytest.mark.parametrize("damage", [_truncate, _remove, _garbage_metadata])
def test_damaged_latest_checkpoint_is_skipped_and_kept(damage, cfg, whole, tmp_path, capsys):
    run_dir = _copy(whole, tmp_path)
    latest = run_dir / "checkpoints" / "8"
    damage(latest)
    capsys.readouterr()

    if damage is _truncate:  # evaluate: the newest good one; the damaged one named, left alone
        result = evaluate(run_dir, episodes=16)
        assert 0 <= result["success_rate"] <= 1
        (warning,) = _warnings(capsys)
        assert "checkpoint 8 in" in warning and "left in place; using checkpoint 4" in warning
        assert latest.is_dir()

    # resume: from checkpoint 4, the damaged one set aside where orbax does not delete it
    training.run(cfg, run_dir, resume=True, progress=False)
    (warning,) = _warnings(capsys)
    assert f"checkpoint 8 in {latest} is damaged" in warning
    assert f"moved aside to {latest}.damaged; using checkpoint 4" in warning
    assert training.read_metrics(run_dir / "metrics.jsonl") == training.read_metrics(
        whole / "metrics.jsonl"
    )
    assert (run_dir / "checkpoints" / "8.damaged").is_dir() and latest.is_dir()
    assert checkpoints.checkpoint_manager(run_dir).all_steps() == [4, 8]


def test_every_checkpoint_damaged_is_one_error(cfg, whole, tmp_path, capsys):
    run_dir = _copy(whole, tmp_path)
    for step in ("4", "8"):
        _truncate(run_dir / "checkpoints" / step)
    with pytest.raises(ValueError, match="all are damaged: checkpoint 8 .*; checkpoint 4 "):
        evaluate(run_dir, episodes=8)
    capsys.readouterr()
    assert cli.main(["evaluate", "--checkpoint", str(run_dir), "--episodes", "8"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: no checkpoint in ") and "restores" in err[0]
    overrides = [f"{key}={value}" for key, value in TINY.items()]
    assert cli.main(["train", "--out", str(run_dir), "--resume", "--no-progress", *overrides]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: no checkpoint in "), err
    # nothing is set aside when nothing restores
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["4", "8"]


def test_empty_checkpoints_directory(cfg, whole, tmp_path, capsys):
    run_dir = _copy(whole, tmp_path)
    shutil.rmtree(run_dir / "checkpoints")
    (run_dir / "checkpoints").mkdir()
    capsys.readouterr()
    assert cli.main(["evaluate", "--checkpoint", str(run_dir), "--episodes", "8"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: no checkpoint under "), err
    # nothing to resume: the run starts again from scratch
    training.run(cfg, run_dir, resume=True, progress=False)
    assert not _warnings(capsys)
    assert training.read_metrics(run_dir / "metrics.jsonl") == training.read_metrics(
        whole / "metrics.jsonl"
    )


def test_cut_metrics_line_is_dropped(cfg, whole, tmp_path):
    # a run killed while writing update 7's line: what `stop_after=6` leaves (checkpoint 4, the
    # lines of updates 1-6; a resumed run is exact, test_student) and half of update 7's line
    run_dir = _copy(whole, tmp_path)
    shutil.rmtree(run_dir / "checkpoints" / "8")
    metrics = run_dir / "metrics.jsonl"
    lines = metrics.read_text().splitlines(keepends=True)
    metrics.write_text("".join(lines[:6]) + lines[6][: len(lines[6]) // 2])
    assert [r["update"] for r in training.read_metrics(metrics)] == [1, 2, 3, 4, 5, 6]
    training.run(cfg, run_dir, resume=True, progress=False)
    assert training.read_metrics(metrics) == training.read_metrics(whole / "metrics.jsonl")

    # curves reads the runs' metrics the same way
    mode_dir = tmp_path / "curves" / cfg.mode
    mode_dir.mkdir(parents=True)
    text = (whole / "metrics.jsonl").read_text()
    (mode_dir / "metrics.jsonl").write_text(text + text.splitlines()[-1][:40])
    loaded = curves.load(mode_dir)  # no evaluations: the training episodes, 3-update means
    assert loaded["frames"] == [r["frames"] for r in training.read_metrics(metrics)][2:]
    (mode_dir / "metrics.jsonl").write_text("{}\nnot json\n")
    with pytest.raises(ValueError, match="metrics.jsonl, line 2: not a JSON record"):
        curves.load(mode_dir)
