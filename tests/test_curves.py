"""The curves' table on hand-made runs: per-seed outcomes of the evaluation curve, differences
paired by seed, and a table redrawn from its JSON alone."""

import json

import numpy as np

from jaxbidir import curves

FRAMES = list(np.arange(0, 11) * 100)  # evaluations at update 0..10, 100 frames per update


def _curve(success, accuracy=None, returns=None):
    listed = lambda x: None if x is None else np.asarray(x, float).tolist()  # noqa: E731
    return {"frames": FRAMES, "success": listed(success), "hint_accuracy": listed(accuracy),
            "return": listed(returns), "source": "evaluation"}  # fmt: skip


def test_outcomes_per_seed_and_misses_count_as_the_budget():
    success = np.zeros((2, 11))
    success[0, 5:] = 1.0  # reaches 0.9 at the evaluation after 500 frames
    success[1, :] = 0.5  # never: counts as the whole budget
    out = curves.outcomes(_curve(success), threshold=0.9)
    assert out["frames_to_threshold"] == [500.0, 1000.0]
    assert out["final_success"] == [1.0, 0.5]
    assert np.allclose(out["auc"], [6 / 11, 0.5])
    assert "final_hint_accuracy" not in out


def test_differences_are_paired_by_seed():
    rng = np.random.default_rng(0)
    # seeds differ a lot from one another, but bidirectional is 0.1 above its control on each
    control = 0.3 + 0.4 * rng.random((8, 1)) + np.zeros((8, 11))
    success = np.full((8, 11), 0.5)
    runs = {
        "bidirectional_shuffled": _curve(success, control),
        "bidirectional": _curve(success, control + np.linspace(0.0, 0.1, 11)),
    }
    table = curves.make_table(runs, 0.9, {"env": {"id": "BabyAI-GoToLocal-v0"}}, "cmd")
    (pair,) = table["paired"]
    assert (pair["mode"], pair["control"]) == ("bidirectional", "bidirectional_shuffled")
    assert np.allclose(pair["difference"]["final_hint_accuracy"], 0.1)  # point and interval
    assert np.allclose(pair["difference"]["auc"], 0.0)
    # unpaired, the two final accuracies' intervals overlap: the pairing is what separates them
    ours, theirs = (table["summary"][m]["final_hint_accuracy"] for m in runs)
    assert ours[1] < theirs[2]
    text = curves.markdown(table)
    assert (
        "| bidirectional - bidirectional_shuffled |" in text and "**0.100 [0.100, 0.100]**" in text
    )
    # the record holds every per-seed list in seed order, in the shape results/ commits
    mode = table["modes"]["bidirectional"]
    assert mode["seeds"] == list(range(8)) and len(mode["final_hint_accuracy"]) == 8
    assert table["env_id"] == "BabyAI-GoToLocal-v0" and table["frames_per_seed"] == 1000


def test_the_return_tells_a_student_that_goes_straight_from_one_that_wanders(tmp_path):
    # the same success on every seed; the sighted student gets there in fewer steps
    success = np.full((6, 11), 0.6)
    slow = 0.2 + 0.1 * np.random.default_rng(3).random((6, 1)) + np.zeros((6, 11))
    runs = {"student_only": _curve(success, returns=slow),
            "student_sighted": _curve(success, returns=slow + 0.15)}  # fmt: skip
    pairs = (("student_sighted", "student_only", "does reading its mission help"),)
    table = curves.make_table(runs, 0.8, {"env": {"id": "BabyAI-GoToLocal-v0"}}, "cmd", pairs)
    (pair,) = table["paired"]
    assert np.allclose(pair["difference"]["auc"], 0.0)
    assert np.allclose(pair["difference"]["auc_return"], 0.15)
    assert np.allclose(table["modes"]["student_only"]["auc_return"], slow[:, 0], atol=1e-6)
    assert "| **0.150 [0.150, 0.150]** | does reading its mission help? |" in curves.markdown(table)
    curves.write(table, tmp_path)  # the figure draws the return beside the success
    assert curves.redraw(tmp_path / "table.json")["paired"] == table["paired"]
    # a record made before the return was evaluated has none, and says so
    old = curves.make_table({m: _curve(success) for m in runs}, 0.8, table["config"], "cmd", pairs)
    assert "auc_return" not in old["paired"][0]["difference"]
    assert "| student_only | 6 |" in curves.markdown(
        old
    ) and "| - | evaluation |" in curves.markdown(old)


def test_a_table_is_redrawn_from_its_json_alone(tmp_path):
    rng = np.random.default_rng(1)
    runs = {m: _curve(rng.random((4, 11))) for m in ("student_only", "oracle")}
    table = curves.make_table(runs, 0.9, {"env": {"id": "BabyAI-PickupLoc-v0"}}, "cmd")
    curves.write(table, tmp_path)
    saved = json.loads((tmp_path / "table.json").read_text())
    for name in ("summary", "paired"):  # what redraw computes again
        saved.pop(name)
    (tmp_path / "table.json").write_text(json.dumps(saved))
    (tmp_path / "table.md").unlink()
    (tmp_path / "curves.png").unlink()
    again = curves.redraw(tmp_path / "table.json")
    assert set(again["summary"]) == {"student_only", "oracle"}
    for mode, summary in table["summary"].items():  # to the 6 digits the table keeps
        for name, value in summary.items():
            np.testing.assert_allclose(again["summary"][mode][name], value, atol=2e-6)
    assert [p["mode"] for p in again["paired"]] == ["oracle"]
    assert (tmp_path / "curves.png").stat().st_size > 10_000
    assert (tmp_path / "table.md").read_text() == curves.markdown(again)


def test_the_dose_response_places_teachers_on_the_curve_of_the_oracle_made_wrong(tmp_path):
    rng = np.random.default_rng(2)
    base = 0.2 + 0.3 * rng.random((6, 1)) + np.zeros((6, 11))  # seeds differ, shared by arms
    accuracy = lambda a: np.full((6, 11), a)  # noqa: E731
    runs = {
        "student_only": _curve(base),
        "oracle": _curve(base + 0.3, accuracy(1.0)),
        "oracle_wrong_0.5": _curve(base + 0.1, accuracy(0.5)),
        "teacher_frozen": _curve(base + 0.05, np.linspace(0.6, 0.8, 11) + np.zeros((6, 11))),
    }
    table = curves.make_table(runs, 0.9, {"env": {"id": "BabyAI-GoToLocal-v0"}}, "cmd")
    assert table["dose_response"] == []  # without the arms' overrides: the oracle at one rate
    table["arms"] = {
        "student_only": {"mode": "student_only"},
        "oracle": {"mode": "oracle"},
        "oracle_wrong_0.5": {"mode": "oracle", "feedback.oracle_corruption": 0.5},
        "teacher_frozen": {"mode": "teacher_frozen"},
    }
    rows = {row["arm"]: row for row in curves.summarise(table)["dose_response"]}
    assert [r["arm"] for r in table["dose_response"]] == ["oracle", "teacher_frozen",
                                                          "oracle_wrong_0.5"]  # fmt: skip
    assert (rows["oracle"]["made_wrong"], rows["oracle_wrong_0.5"]["made_wrong"]) == (0.0, 0.5)
    assert rows["teacher_frozen"]["made_wrong"] is None
    np.testing.assert_allclose(rows["teacher_frozen"]["hint_accuracy"], 0.7)  # over the run
    for arm, gain in (("oracle", 0.3), ("oracle_wrong_0.5", 0.1), ("teacher_frozen", 0.05)):
        np.testing.assert_allclose(rows[arm]["auc_minus_control"], gain, atol=1e-6)  # paired
    text = curves.markdown(table)
    assert "| oracle_wrong_0.5 | 0.5 | 0.500 [0.500, 0.500] |" in text
    assert (
        "| teacher_frozen | - | 0.700 [0.700, 0.700] |" in text
        and "**0.050 [0.050, 0.050]**" in text
    )
    curves.write(table, tmp_path)  # the figure's third panel draws
    assert curves.redraw(tmp_path / "table.json")["dose_response"] == table["dose_response"]
