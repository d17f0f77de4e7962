"""notebooks/reproduce_curves.ipynb runs top to bottom (papermill, a tiny budget) and shows the
figure and table of the curves."""

import json
from pathlib import Path

from tiny import EVALUATED

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "reproduce_curves.ipynb"


def test_the_curves_notebook_runs_top_to_bottom(tmp_path):
    import papermill

    out = tmp_path / "curves"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(tmp_path / "executed.ipynb"),
        parameters=dict(
            SEEDS=2, MODES=["student_only", "oracle"], OVERRIDES=list(EVALUATED), OUT=str(out)
        ),  # fmt: skip
        kernel_name="python3",
        progress_bar=False,
    )
    assert (out / "curves.png").stat().st_size > 10_000 and (out / "curves.pdf").exists()
    table = json.loads((out / "table.json").read_text())
    assert set(table["modes"]) == {"student_only", "oracle"}
    oracle = table["modes"]["oracle"]
    assert oracle["seeds"] == [0, 1] and oracle["source"] == "evaluation"
    assert len(oracle["curve"]["frames"]) == 3  # updates 0, 4 and 8
    assert oracle["final_hint_accuracy"] == [1.0, 1.0]
    executed = json.loads((tmp_path / "executed.ipynb").read_text())
    shown = [o for c in executed["cells"] for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in shown)
    assert any("| oracle |" in "".join(o.get("data", {}).get("text/markdown", ""))
               for o in shown)  # fmt: skip
