"""The curves' table on hand-made runs: frames to the threshold, and the teacher's gain from the
student's scores paired by seed."""

import numpy as np

from jaxbidir import curves

FRAMES = np.arange(1, 11) * 100  # 10 updates of 100 frames


def _run(success, accuracy=None):
    return {"frames": FRAMES, "success": np.asarray(success, float), "hint_accuracy": accuracy}


def test_frames_to_threshold_needs_three_updates_and_counts_misses_as_the_budget():
    success = np.zeros((2, 10))
    success[0, 4:] = 1.0  # updates 5, 6, 7 are the first three at 1.0: reached at 700 frames
    success[0, 2] = 1.0  # one lucky update alone does not count
    success[1, :] = 0.5  # never reaches 0.9: counts as the whole budget
    row = curves.table({"student_only": _run(success)}, threshold=0.9)["student_only"]
    assert row["seeds_reaching"] == 1
    assert row["frames_to_0.9"][0] == (700 + 1000) / 2
    assert row["final_success"][0] == 0.75  # the last tenth: update 10


def test_hint_accuracy_gain_is_paired_by_seed():
    rng = np.random.default_rng(0)
    # seeds differ a lot from one another, but bidirectional is 0.1 above frozen on every seed
    frozen = 0.3 + 0.4 * rng.random((8, 1)) + np.zeros((8, 10))
    success = np.full((8, 10), 0.5)
    runs = {
        "teacher_frozen": _run(success, frozen),
        "bidirectional": _run(success, frozen + np.linspace(0.0, 0.1, 10)),
    }
    rows = curves.table(runs)
    point, low, high = rows["bidirectional"]["hint_accuracy_gain"]
    assert np.isclose(point, 0.1) and np.isclose(low, 0.1) and np.isclose(high, 0.1)
    # unpaired, the two final accuracies' intervals overlap: the pairing is what separates them
    bidirectional, frozen = rows["bidirectional"], rows["teacher_frozen"]
    assert bidirectional["hint_accuracy_final"][1] < frozen["hint_accuracy_final"][2]
    assert "paired by seed: 0.100 [0.100, 0.100]" in curves.markdown(rows)
    alone = curves.table({"bidirectional": runs["bidirectional"]})["bidirectional"]
    assert "hint_accuracy_gain" not in alone
