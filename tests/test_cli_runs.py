"""`jaxbidir train`'s run directory: a new one per run, `runs/latest` pointing at the newest,
`--resume` continuing it; and the lines it ends with."""

import pytest

from jaxbidir import cli


def test_each_run_gets_its_own_directory_and_latest_points_at_the_newest(tmp_path):
    runs = tmp_path / "runs"
    first = cli.run_directory(None, resume=False, runs=runs)
    second = cli.run_directory(None, resume=False, runs=runs)
    assert first != second and first.is_dir() and second.is_dir()
    assert (runs / "latest").resolve() == second.resolve()
    assert cli.run_directory(None, resume=True, runs=runs) == second.resolve()
    assert cli.run_directory("elsewhere", resume=True, runs=runs).name == "elsewhere"
    with pytest.raises(ValueError, match="needs --out"):
        cli.run_directory(None, resume=False, several=True, runs=runs)
    with pytest.raises(ValueError, match="no .*latest to continue"):
        cli.run_directory(None, resume=True, runs=tmp_path / "none")


def test_a_latest_directory_of_an_older_version_is_left_as_it_is(tmp_path):
    old = tmp_path / "runs" / "latest"
    old.mkdir(parents=True)
    (old / "summary.json").write_text("{}")
    new = cli.run_directory(None, resume=False, runs=tmp_path / "runs")
    assert not old.is_symlink() and (old / "summary.json").exists() and new.is_dir()


def test_train_ends_with_lines_a_person_reads(tmp_path):
    summary = {"env_id": "BabyAI-GoToLocal-v0", "mode": "oracle", "num_seeds": 2,
               "frames_per_seed": 262144, "wall_clock_s": 95.2, "first_chunk_s (compile)": 16.1,
               "eval_episodes": 32, "final_evaluation": {"eval_success": 0.9,
               "eval_success_greedy": 0.95, "eval_return": 0.7}}  # fmt: skip
    text = cli.train_report(summary, tmp_path / "run")
    assert "262,144 frames per seed in 95 s" in text and "success 0.900 (greedy 0.950)" in text
    assert f"jaxbidir evaluate --checkpoint {tmp_path / 'run'}" in text and "{" not in text
