"""Every mode on the same seeds, and what the runs show: `jaxbidir curves` (`make curves`).

    run(config, seeds, out_dir, modes) -> table

Each mode is an ordinary training run in `out_dir/<mode>/` (metrics, TensorBoard, checkpoints:
a killed `curves` resumes where it stopped; a finished mode is not run again). Then:
- `curves.png` / `curves.pdf`: success rate against frames per seed, the mean over seeds with a
  95% stratified-bootstrap band (rliable), one line per mode; and the teacher's hint accuracy
  against the oracle over training for the modes with hints;
- `table.md` / `table.json`: per mode, frames to `threshold` success (a seed that never gets
  there counts as the whole budget: the figure is then a lower bound, and the table says how
  many seeds got there), final success (the last tenth of the updates), and the area under the
  success curve (its mean over training), each the mean over seeds with its 95% interval.
  A seed reaches the threshold at the last of the first 3 consecutive updates whose mean
  success is at or above it. With both `bidirectional` and `teacher_frozen`, the table adds the
  difference of their final hint accuracies, paired by seed, with its interval.
"""

import dataclasses
import json
from pathlib import Path

import numpy as np

from jaxbidir import training
from jaxbidir.config import FEEDBACK_MODES, MODES, Config


def run(config: Config, seeds: int, out_dir, modes=FEEDBACK_MODES, progress=True, threshold=0.9):
    out_dir = Path(out_dir)
    for mode in modes:
        cfg = dataclasses.replace(config, mode=mode, num_seeds=seeds)
        mode_dir = out_dir / mode
        summary = mode_dir / "summary.json"
        saved = mode_dir / "config.json"
        if summary.exists() and json.loads(saved.read_text()) == cfg.to_dict():
            print(f"{mode}: already done in {mode_dir}", flush=True)
            continue
        resume = training.checkpoint_manager(mode_dir).latest_step() is not None
        print(f"{mode}: {'resuming' if resume else 'training'} in {mode_dir}", flush=True)
        training.run(cfg, mode_dir, resume=resume, progress=progress)
    return analyse(out_dir, modes, threshold)


def load(out_dir, modes) -> dict:
    """{mode: {"frames": i64[U], "success": f64[S,U], "hint_accuracy": f64[S,U] or None}}."""
    runs = {}
    for mode in modes:
        lines = training.read_metrics(Path(out_dir) / mode / "metrics.jsonl")
        runs[mode] = {
            "frames": np.array([line["frames"] for line in lines]),
            "success": _per_seed(lines, "success_rate"),
            "hint_accuracy": _per_seed(lines, "hint_accuracy"),
        }
    return runs


def _per_seed(lines, name):
    """f64[S, U] of a per-seed metric from the metrics lines, None when it is not recorded."""
    key = f"{name}_per_seed"
    return np.array([line[key] for line in lines]).T if key in lines[0] else None


def _interval(scores, statistic, reps=2000):
    """(point, low, high) of `statistic` over runs f64[S] (rliable's stratified bootstrap)."""
    from rliable import library as rly

    point, interval = rly.get_interval_estimates({"x": scores[:, None]}, statistic, reps=reps)
    return float(np.squeeze(point["x"])), *(float(v) for v in np.ravel(interval["x"]))


def table(runs: dict, threshold=0.9) -> dict:
    out, final_accuracy = {}, {}
    for mode, run in runs.items():
        success, frames = run["success"], run["frames"]
        # reached: the mean of 3 consecutive updates (one update's rate rests on few episodes)
        window = min(3, success.shape[1])
        kernel = np.ones(window) / window
        smooth = np.array([np.convolve(s, kernel, "valid") for s in success])
        reached = np.pad(smooth >= threshold, ((0, 0), (window - 1, 0)))
        first = np.where(reached.any(1), frames[np.argmax(reached, 1)], frames[-1])
        tail = max(1, success.shape[1] // 10)
        out[mode] = {
            "seeds": int(success.shape[0]),
            "frames_per_seed": int(frames[-1]),
            f"frames_to_{threshold}": _interval(first.astype(float), np.mean),
            "seeds_reaching": int(reached.any(1).sum()),
            "final_success": _interval(success[:, -tail:].mean(1), np.mean),
            "auc": _interval(success.mean(1), np.mean),
        }
        if run["hint_accuracy"] is not None:
            accuracy = run["hint_accuracy"]
            out[mode]["hint_accuracy_first"] = _interval(accuracy[:, :tail].mean(1), np.mean)
            final_accuracy[mode] = accuracy[:, -tail:].mean(1)
            out[mode]["hint_accuracy_final"] = _interval(final_accuracy[mode], np.mean)
    if {"bidirectional", "teacher_frozen"} <= final_accuracy.keys():
        # paired by seed (every mode runs the same seeds): what the student's scores taught the
        # teacher, beyond the drift of a frozen teacher's accuracy as the visited states change
        gain = final_accuracy["bidirectional"] - final_accuracy["teacher_frozen"]
        out["bidirectional"]["hint_accuracy_gain"] = _interval(gain, np.mean)
    return out


def markdown(rows: dict, threshold=0.9) -> str:
    fmt = lambda x, d=3: f"{x[0]:.{d}f} [{x[1]:.{d}f}, {x[2]:.{d}f}]"  # noqa: E731
    frames = lambda x: f"{x[0]:,.0f} [{x[1]:,.0f}, {x[2]:,.0f}]"  # noqa: E731
    out = [
        f"| mode | seeds | frames to {threshold} (reached) | final success | AUC "
        "| hint accuracy first -> final |",
        "|---|---|---|---|---|---|",
    ]
    for mode, r in rows.items():
        acc = (
            f"{fmt(r['hint_accuracy_first'])} -> {fmt(r['hint_accuracy_final'])}"
            if "hint_accuracy_final" in r
            else "-"
        )
        out.append(
            f"| {mode} | {r['seeds']} | {frames(r[f'frames_to_{threshold}'])} "
            f"({r['seeds_reaching']}/{r['seeds']}) | {fmt(r['final_success'])} "
            f"| {fmt(r['auc'])} | {acc} |"
        )
    if "hint_accuracy_gain" in rows.get("bidirectional", {}):
        out.append(
            "\nFinal hint accuracy, bidirectional minus teacher_frozen, paired by seed: "
            f"{fmt(rows['bidirectional']['hint_accuracy_gain'])}"
        )
    return "\n".join(out) + "\n"


def figure(runs: dict, path_stem, title=""):
    """Success (and hint accuracy) against frames, mean and 95% bootstrap band per mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rliable import library as rly

    def bands(name):
        data = {m: r[name][:, None, :] for m, r in runs.items() if r[name] is not None}
        per_update = lambda s: np.array([np.mean(s[..., i]) for i in range(s.shape[-1])])  # noqa: E731
        return rly.get_interval_estimates(data, per_update, reps=1000) if data else ({}, {})

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, name, label in [
        (axes[0], "success", "success rate"),
        (axes[1], "hint_accuracy", "hint accuracy (vs oracle)"),
    ]:
        point, interval = bands(name)
        for mode in point:
            frames = runs[mode]["frames"]
            colour = f"C{MODES.index(mode)}"  # the same colour for a mode in every panel
            ax.plot(frames, point[mode], label=mode, color=colour)
            ax.fill_between(frames, *interval[mode], alpha=0.2, color=colour)
        ax.set_xlabel("frames per seed")
        ax.set_ylabel(label)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        if point:
            ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig(f"{path_stem}.{ext}", dpi=120)
    plt.close(fig)


def analyse(out_dir, modes, threshold=0.9) -> dict:
    """Figure and table of the runs in `out_dir`; returns the table."""
    out_dir = Path(out_dir)
    runs = load(out_dir, modes)
    config = json.loads((out_dir / modes[0] / "config.json").read_text())
    seeds = runs[modes[0]]["success"].shape[0]
    figure(runs, out_dir / "curves", f"{config['env_id']}, {seeds} seeds per mode")
    rows = table(runs, threshold)
    (out_dir / "table.json").write_text(json.dumps(rows, indent=2) + "\n")
    (out_dir / "table.md").write_text(markdown(rows, threshold))
    return rows
