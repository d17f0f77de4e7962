"""notebooks/reproduce_curves.ipynb runs top to bottom (papermill, a tiny budget) and shows the
figure and table of the curves."""

import json
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "reproduce_curves.ipynb"
# the bidirectional config of tests/test_feedback.py, so the compilation cache serves both
TINY = ["num_envs=8", "num_steps=16", "hint_every=8", "total_frames=1024", "log_every=2",
        "checkpoint_every=4", "teacher_batch=16"]  # fmt: skip


def test_the_curves_notebook_runs_top_to_bottom(tmp_path):
    import papermill

    out = tmp_path / "curves"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(tmp_path / "executed.ipynb"),
        parameters=dict(
            SEEDS=2, MODES=["student_only", "bidirectional"], OVERRIDES=TINY, OUT=str(out)
        ),  # fmt: skip
        kernel_name="python3",
        progress_bar=False,
    )
    assert (out / "curves.png").stat().st_size > 10_000 and (out / "curves.pdf").exists()
    table = json.loads((out / "table.json").read_text())
    assert set(table) == {"student_only", "bidirectional"}
    assert table["bidirectional"]["seeds"] == 2 and "hint_accuracy_final" in table["bidirectional"]
    executed = json.loads((tmp_path / "executed.ipynb").read_text())
    shown = [o for c in executed["cells"] for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in shown)
    assert any("| bidirectional |" in "".join(o.get("data", {}).get("text/markdown", ""))
               for o in shown)  # fmt: skip
