"""The accelerator check (benchmarks/device_check.py) at tiny sizes on CPU, so that it cannot rot
before it meets an accelerator: one JSON file, every section measured; a measurement that fails or
would start too late is recorded, and at the budget the watchdog writes what is done."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def tiny_check(out: Path, *options: str) -> dict:
    """device_check.py --tiny in its own process, as on the device (conftest's settings, CPU and
    the compilation cache, go with the environment) -> its JSON."""
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "device_check.py"), str(out), "--tiny", *options],
        env=os.environ, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "device_check.json").read_text())
    assert report["finished"] and report["jax"] and report["device_kind"] == "cpu"
    for section, measurements in report["results"].items():
        for name, value in measurements.items():
            assert "error" not in value and "skipped" not in value, (section, name, value)
            assert value["seconds"] > 0
    return report["results"]


def rates(tree: dict):
    """Every `steps_per_s` and `frames_per_s` in `tree`, at any depth."""
    for key, value in tree.items():
        if key in ("steps_per_s", "frames_per_s"):
            yield value
        elif isinstance(value, dict):
            yield from rates(value)


def test_the_tiny_device_check_measures_the_environments(tmp_path):
    results = tiny_check(tmp_path, "--only", "envs")
    assert set(results) == {"envs"} and len(results["envs"]) == 3  # 2 batches, and navix
    assert all(rate > 0 for rate in rates(results))


@pytest.mark.slow  # a few minutes on 2 cores: every section compiles its own programs
def test_the_tiny_device_check_measures_every_section(tmp_path):
    results = tiny_check(tmp_path)
    assert set(results) == {"envs", "student", "feedback", "paper_40"}
    assert len(results["envs"]) == 3 and len(results["student"]) == 3  # 2 seed counts, profile
    assert results["student"]["profile"]["achieved_gflops"] > 0
    feedback = next(iter(results["feedback"].values()))
    assert {"student_only", "teacher_frozen", "bidirectional"} <= set(feedback)
    run = next(iter(results["paper_40"].values()))
    assert run["updates_logged"] == run["summary"]["updates"] == 4
    found = list(rates(results))  # envs 3, student 3, feedback's arms 3, the run 1
    assert len(found) == 10 and all(rate > 0 for rate in found), found


@pytest.fixture
def device_check(monkeypatch):
    """benchmarks/device_check.py as a module (it imports its neighbours by name)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import device_check

    return device_check


def test_a_failed_or_late_measurement_is_recorded_and_the_next_one_runs(tmp_path, device_check):
    report = device_check.Report(tmp_path / "check.json", {"results": {}})

    def fails():
        raise RuntimeError("out of memory")

    device_check.measure(report, "student", "seeds_4096", 1e6, fails)
    device_check.measure(report, "student", "seeds_1", 1e6, lambda: {"frames_per_s": 5})
    device_check.measure(report, "student", "seeds_256", 0, lambda: {"frames_per_s": 5})
    written = json.loads((tmp_path / "check.json").read_text())["results"]["student"]
    assert written["seeds_4096"]["error"] == "RuntimeError: out of memory"
    assert written["seeds_1"]["frames_per_s"] == 5
    assert written["seeds_256"]["skipped"].startswith("budget")


def test_at_the_budget_the_watchdog_writes_what_is_done_and_exits(tmp_path, device_check):
    report = device_check.Report(tmp_path / "check.json", {"results": {"envs": {"a": {}}}})
    codes = []
    device_check.watchdog(report, budget=0, exit=codes.append).join(timeout=30)
    written = json.loads((tmp_path / "check.json").read_text())
    assert codes == [3] and written["stopped"].startswith("the budget") and written["results"]
