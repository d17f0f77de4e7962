"""Every mode on the same seeds, and what the runs show: `jaxbidir curves` (`make curves`).

    run(config, seeds, out_dir, modes) -> table     (then table.json, table.md, curves.png)
    redraw(table.json)                              (figure and table.md again, no training)

Each mode is an ordinary training run in `out_dir/<mode>/` (a killed `curves` resumes where it
stopped; a finished mode is not run again). Seed i of every mode starts from the same key, so
the modes share the student's initialisation and the level sequence, and every comparison of
two modes is a difference paired by seed.

What is measured, per seed, on the periodic evaluation on fixed episodes (`eval.jsonl`: the
same `run.eval_episodes` levels for every mode, sampled actions, from update 0 on):
- `final_success`: at the last evaluation; `auc`: the mean of the success curve over the
  evaluations (the area under it, per frame);
- `auc_return`: the same of the return (1 - 0.9 steps/time limit on success): minigrid's
  verifiers never fail, so a student that visits every object succeeds as often as one that goes
  straight to its goal, only later; the return tells them apart;
- `frames_to_threshold`: the first evaluation at or above `threshold`; a seed that never gets
  there counts as the whole budget (the mean is then a lower bound; `reaching` counts them);
- `first_hint_accuracy` / `final_hint_accuracy`: the hints asked for the episodes' first states
  equal to the oracle's subgoal, at update 0 (before any teacher update) and at the end;
- `score_gap` / `score_auc`: what the student's scores of the hints it acted on in training say
  about them (`feedback.hints.score_separation`: correct minus wrong, and the ROC AUC of the
  score as a detector of a correct hint, 0.5 chance), the mean over the updates that had both
  kinds; only in arms whose every seed had some wrong hints.
A run without evaluations (mode glam, `run.eval_every=0`) falls back to the success of the
training episodes (a 3-update moving mean), which favours short successful episodes.

Where the oracle ran at two rates of wrong hints or more (`feedback.oracle_corruption`), the
table adds the dose-response (`dose_response`): each hinted arm's AUC against its hints'
accuracy, paired against student_only, the teachers beside the oracle made wrong.

Intervals are 95% percentile bootstraps of the mean over seeds (`RESAMPLES` resamples of the
seeds, `numpy.random.default_rng(0)`); a paired difference is the bootstrap of the per-seed
differences. `table.json` holds every per-seed list, so the figure and table can be redrawn
from it alone (`results/<experiment>/table.json` is committed that way).
"""

import json
from pathlib import Path

import numpy as np

from jaxbidir import checkpoints, training
from jaxbidir import config as configs
from jaxbidir.config import FEEDBACK_MODES, MODES, Config

RESAMPLES = 10_000
# (mode, control, the question the paired difference answers)
PAIRS = (
    ("oracle", "student_only", "can information help at all here"),
    ("teacher_frozen", "student_only", "does an imperfect teacher help or hurt"),
    ("teacher_greedy", "student_only", "do the teacher's most likely hints help or hurt"),
    ("bidirectional", "teacher_frozen", "does a learning teacher beat a frozen one"),
    ("bidirectional", "bidirectional_shuffled", "what the student's scores teach the teacher"),
)
OUTCOMES = (
    "final_success",
    "auc",
    "frames_to_threshold",
    "final_hint_accuracy",
    "auc_return",
    "score_gap",
    "score_auc",
)
SCORES = {"score_gap": "hint_score_gap", "score_auc": "hint_score_auc"}  # outcome: metric


def run(config: Config, seeds: int, out_dir, modes=FEEDBACK_MODES, progress=True, threshold=0.9,
        command: str | None = None) -> dict:  # fmt: skip
    out_dir = Path(out_dir)
    for mode in modes:
        run_arm(config, seeds, out_dir / mode, {"mode": mode}, progress)
    return analyse(out_dir, modes, threshold, command)


def run_arm(config: Config, seeds: int, arm_dir, overrides: dict, progress=True) -> dict:
    """Train one arm of a comparison (`config` with dotted `overrides`, e.g. a mode) on
    `seeds` seeds in `arm_dir`, resuming a killed run and skipping a finished one ->
    its curve (`load`)."""
    arm_dir = Path(arm_dir)
    cfg = configs.replace(config, **overrides, **{"run.num_seeds": seeds})
    summary, saved = arm_dir / "summary.json", arm_dir / "config.json"
    # the saved config as this version reads it (fields added since at their defaults)
    if summary.exists() and configs.from_dict(json.loads(saved.read_text())) == cfg:
        print(f"{arm_dir.name}: already done in {arm_dir}", flush=True)
    else:
        resume = checkpoints.checkpoint_manager(arm_dir).latest_step() is not None
        print(f"{arm_dir.name}: {'resuming' if resume else 'training'} in {arm_dir}", flush=True)
        training.run(cfg, arm_dir, resume=resume, progress=progress)
    return load(arm_dir)


def load(run_dir: Path) -> dict:
    """{"frames": [U], "success": [S][U], "hint_accuracy": [S][U] or None, "return": [S][U] or
    None, "source"} of one run: from its evaluations, else from its training episodes."""
    evaluations = training.read_metrics(run_dir / "eval.jsonl")
    lines = training.read_metrics(run_dir / "metrics.jsonl")
    scores = {name: _run_mean(lines, metric) for name, metric in SCORES.items()}
    if evaluations:
        per_seed = lambda name: _columns(evaluations, name)  # noqa: E731
        return dict(
            frames=[line["frames"] for line in evaluations],
            success=per_seed("eval_success"),
            hint_accuracy=per_seed("eval_hint_accuracy"),
            source="evaluation",
            **{"return": per_seed("eval_return")},
            **scores,
        )
    if not lines:
        raise FileNotFoundError(f"no evaluations or metrics in {run_dir}: has it run?")
    success = np.array(_columns(lines, "success_rate"))
    window = min(3, success.shape[1])  # one update's rate rests on few episodes
    smooth = np.array([np.convolve(s, np.ones(window) / window, "valid") for s in success])
    return dict(
        frames=[line["frames"] for line in lines[window - 1 :]],
        success=smooth.tolist(),
        hint_accuracy=None,
        source="training episodes",
        **{"return": None},
        **scores,
    )


def joined(parts: list[dict]) -> dict:
    """The curves (`load`) of runs on consecutive groups of seeds, over the same frames -> one
    curve of all their seeds, in order."""
    first = parts[0]
    if any(part["frames"] != first["frames"] for part in parts):
        raise ValueError("the groups' curves are not over the same frames: were they run with "
                         "one config?")  # fmt: skip
    joined = dict(first)
    for name, value in first.items():
        if name not in ("frames", "source") and value is not None:
            joined[name] = [seed for part in parts for seed in part[name]]
    return joined


def _columns(lines, name):
    """[S][U] of a per-seed figure from JSON lines; None when it is not recorded."""
    key = f"{name}_per_seed"
    return np.array([line[key] for line in lines]).T.tolist() if key in lines[0] else None


def _run_mean(lines, name):
    """[S]: a per-seed training figure averaged over the updates where it is defined (not NaN);
    None when it is not recorded, or some seed never had it."""
    columns = _columns(lines, name) if lines else None
    if columns is None:
        return None
    values = np.asarray(columns, float)
    if np.isnan(values).all(1).any():
        return None
    return np.nanmean(values, 1).tolist()


def outcomes(curve: dict, threshold: float) -> dict:
    """Per-seed outcomes (lists in seed order) of one run's curve (`load`)."""
    frames, success = np.asarray(curve["frames"]), np.asarray(curve["success"])
    reached = success >= threshold
    out = dict(
        final_success=success[:, -1],
        auc=success.mean(1),
        frames_to_threshold=np.where(reached.any(1), frames[np.argmax(reached, 1)], frames[-1]),
    )
    if curve["hint_accuracy"] is not None:
        accuracy = np.asarray(curve["hint_accuracy"])
        out.update(first_hint_accuracy=accuracy[:, 0], final_hint_accuracy=accuracy[:, -1])
    if curve.get("return") is not None:  # not in records made before it was evaluated
        out.update(auc_return=np.mean(curve["return"], 1))
    out.update({name: curve[name] for name in SCORES if curve.get(name) is not None})
    return {k: [round(float(v), 6) for v in value] for k, value in out.items()}


def bootstrap(values) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, low, high) over the seeds (axis 0) of `values` f64[S, ...]: the mean and its 95%
    percentile-bootstrap interval, from `RESAMPLES` resamples of the seeds drawn by
    `numpy.random.default_rng(0)` (the same resamples at every call: the interval of a table
    is the same whenever it is computed again)."""
    values = np.asarray(values, float)
    picks = np.random.default_rng(0).integers(0, len(values), (RESAMPLES, len(values)))
    means = values[picks].mean(1)
    return values.mean(0), *np.percentile(means, [2.5, 97.5], axis=0)


def interval(values) -> list[float]:
    """[mean, low, high]: the mean over seeds and its 95% bootstrap interval."""
    return [round(float(v), 6) for v in bootstrap(values)]


def make_table(
    runs: dict, threshold: float, config: dict, command: str | None, pairs=PAIRS, arms=None
) -> dict:
    """The experiment's record, `table.json`: per mode (or arm) the per-seed outcomes and
    curves, their means with intervals (`summary`), the paired differences of `pairs`
    (`paired`: (mode, control, question) whose both sides ran), and with `arms` (each arm's
    overrides, which say which arms are the oracle made wrong) the dose-response."""
    first = next(iter(runs.values()))
    table = {
        "env_id": config["env"]["id"],
        "frames_per_seed": int(first["frames"][-1]),
        "threshold": threshold,
        "config": config,
        "command": command,
        "statistics": f"mean over seeds, 95% percentile bootstrap ({RESAMPLES} resamples of the "
        "seeds, numpy default_rng(0)); paired: the bootstrap of the per-seed differences",
        "pairs": [list(pair) for pair in pairs],
        "modes": {},
        **({"arms": arms} if arms else {}),
    }
    for mode, curve in runs.items():
        per_seed = outcomes(curve, threshold)
        table["modes"][mode] = {
            "seeds": list(range(len(curve["success"]))),
            **per_seed,
            "reaching": int(np.sum(np.asarray(curve["success"]).max(1) >= threshold)),
            "source": curve["source"],
            "curve": {
                "frames": [int(f) for f in curve["frames"]],
                **{
                    name: curve.get(name)
                    for name in ("success", "hint_accuracy", "return", *SCORES)
                },
            },
        }
    return summarise(table)


def summarise(table: dict) -> dict:
    """`table` with `summary` (means and intervals per mode) and `paired` computed again from
    its per-seed lists."""
    modes = table["modes"]
    table["summary"] = {
        mode: {name: interval(m[name]) for name in (*OUTCOMES, "first_hint_accuracy") if name in m}
        for mode, m in modes.items()
    }
    table["paired"] = []
    for mode, control, question in table.get("pairs", PAIRS):
        if mode not in modes or control not in modes:
            continue
        if not _same_seeds(modes, mode, control):
            continue  # not the same seeds: no pairing
        differences = {
            name: interval(np.subtract(modes[mode][name], modes[control][name]))
            for name in OUTCOMES
            if name in modes[mode] and name in modes[control]
        }
        table["paired"].append(
            dict(mode=mode, control=control, question=question, difference=differences)
        )
    table["dose_response"] = dose_response(table)
    return table


def _same_seeds(modes: dict, a: str, b: str) -> bool:
    """Whether arms `a` and `b` ran on the same seeds, so that they pair."""
    return len(modes[a]["seeds"]) == len(modes[b]["seeds"])


def _made_wrong(table: dict, arm: str) -> float | None:
    """The fraction of the oracle's hints made wrong in `arm`, or None when the arm is not the
    oracle made wrong and nothing else (a teacher, or the oracle with another change)."""
    overrides = table.get("arms", {}).get(arm, {"mode": arm})
    if overrides.get("mode") != "oracle" or set(overrides) - {"mode", "feedback.oracle_corruption"}:
        return None
    return float(overrides.get("feedback.oracle_corruption", 0.0))


def dose_response(table: dict, control: str = "student_only") -> list[dict]:
    """The student's AUC against the accuracy of its hints: one row per hinted arm, the oracle
    made wrong at controlled rates (`made_wrong`, the dose) and the teachers beside them (None).
    Hint accuracy is the mean over the run's evaluations (a learning teacher's changes); the
    AUC is paired by seed against `control`. [] unless the oracle ran at two rates or more."""
    modes = table["modes"]
    hinted = {
        arm: _made_wrong(table, arm)
        for arm, m in modes.items()
        if m["curve"]["hint_accuracy"] is not None
    }
    if sum(wrong is not None for wrong in hinted.values()) < 2:
        return []
    rows = []
    for arm, wrong in hinted.items():
        m = modes[arm]
        row = dict(
            arm=arm,
            made_wrong=wrong,
            hint_accuracy=interval(np.mean(m["curve"]["hint_accuracy"], axis=1)),
            auc=interval(m["auc"]),
        )
        if control in modes and _same_seeds(modes, arm, control):
            row["auc_minus_control"] = interval(np.subtract(m["auc"], modes[control]["auc"]))
        rows.append(row)
    return sorted(rows, key=lambda row: -row["hint_accuracy"][0])


def markdown(table: dict) -> str:
    fmt = lambda x, d=3: f"{x[0]:.{d}f} [{x[1]:.{d}f}, {x[2]:.{d}f}]"  # noqa: E731
    frames = lambda x: f"{x[0]:,.0f} [{x[1]:,.0f}, {x[2]:,.0f}]"  # noqa: E731
    threshold = table["threshold"]
    out = [
        f"{table['env_id']}, {table['frames_per_seed']:,} frames per seed; {table['statistics']}.",
        "",
        f"| mode | seeds | final success | AUC | frames to {threshold} (reached) "
        "| hint accuracy first -> final | return AUC | score of correct - wrong hints "
        "(its ROC AUC) | measured on |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for mode, m in table["modes"].items():
        s = table["summary"][mode]
        acc = "-"
        if "final_hint_accuracy" in s:
            acc = f"{fmt(s['first_hint_accuracy'])} -> {fmt(s['final_hint_accuracy'])}"
        returns = fmt(s["auc_return"]) if "auc_return" in s else "-"
        scores = f"{fmt(s['score_gap'])} ({fmt(s['score_auc'])})" if "score_gap" in s else "-"
        out.append(
            f"| {mode} | {len(m['seeds'])} | {fmt(s['final_success'])} | {fmt(s['auc'])} "
            f"| {frames(s['frames_to_threshold'])} ({m['reaching']}/{len(m['seeds'])}) "
            f"| {acc} | {returns} | {scores} | {m['source']} |"
        )
    if table["paired"]:
        out += [
            "",
            "Paired by seed (mode minus control); **bold**: the interval excludes 0.",
            "",
            f"| mode - control | final success | AUC | frames to {threshold} "
            "| final hint accuracy | return AUC | question |",
            "|---|---|---|---|---|---|---|",
        ]
        for pair in table["paired"]:
            d = pair["difference"]
            cell = lambda name, show=fmt, d=d: _bold(show, d[name]) if name in d else "-"  # noqa: E731
            out.append(
                f"| {pair['mode']} - {pair['control']} | {cell('final_success')} "
                f"| {cell('auc')} | {cell('frames_to_threshold', frames)} "
                f"| {cell('final_hint_accuracy')} | {cell('auc_return')} | {pair['question']}? |"
            )
    if table.get("dose_response"):
        out += [
            "",
            "How good must the hints be: the student's AUC against its hints' accuracy (the mean "
            "over the evaluations), the oracle made wrong at controlled rates and the teachers "
            "beside it; AUC minus student_only paired by seed.",
            "",
            "| arm | oracle's hints made wrong | hint accuracy | AUC | AUC - student_only |",
            "|---|---|---|---|---|",
        ]
        for row in table["dose_response"]:
            dose = "-" if row["made_wrong"] is None else f"{row['made_wrong']:g}"
            gain = _bold(fmt, row["auc_minus_control"]) if "auc_minus_control" in row else "-"
            out.append(
                f"| {row['arm']} | {dose} | {fmt(row['hint_accuracy'])} | {fmt(row['auc'])} "
                f"| {gain} |"
            )
    return "\n".join(out) + "\n"


def _bold(show, x) -> str:
    """An interval [mean, low, high] as `show` writes it, bold when it excludes 0."""
    return f"**{show(x)}**" if x[1] > 0 or x[2] < 0 else show(x)


def figure(table: dict, path_stem):
    """Success (and hint accuracy) against frames: per mode the mean over seeds and the 95%
    bootstrap band of every point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dose = table.get("dose_response")
    fig, axes = plt.subplots(1, 3 if dose else 2, figsize=(16 if dose else 11, 4))
    # the same colour for a mode in every figure; other arms after them
    names = [*MODES, *(m for m in table["modes"] if m not in MODES)]
    colour = lambda mode: f"C{names.index(mode) % 10}"  # noqa: E731
    returns = any(m["curve"].get("return") is not None for m in table["modes"].values())
    panels = [
        (axes[0], (("success", "-"), ("return", "--")),
         "success rate, return (dashed)" if returns else "success rate"),
        (axes[1], (("hint_accuracy", "-"),), "hint accuracy"),
    ]  # fmt: skip
    for ax, lines, label in panels:
        for mode, m in table["modes"].items():
            for name, style in lines:
                values = m["curve"].get(name)
                if values is None:
                    continue
                point, low, high = bootstrap(values)  # per point, [seeds, points] -> [points]
                frames = m["curve"]["frames"]
                ax.plot(frames, point, style, label=mode if style == "-" else None,
                        color=colour(mode))  # fmt: skip
                ax.fill_between(frames, low, high, alpha=0.2 if style == "-" else 0.1,
                                color=colour(mode))  # fmt: skip
        ax.set_xlabel("frames per seed")
        ax.set_ylabel(label)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    if dose:
        _dose_panel(axes[2], table, dose, colour)
    seeds = len(next(iter(table["modes"].values()))["seeds"])
    fig.suptitle(f"{table['env_id']}, {seeds} seeds per mode, fixed-episode evaluation")
    fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig(f"{path_stem}.{ext}", dpi=120)
    plt.close(fig)


def _dose_panel(ax, table: dict, rows: list[dict], colour) -> None:
    """AUC against hint accuracy with both 95% intervals: the oracle made wrong as a line, the
    other hinted arms as points, student_only (no hints) as a band."""
    err = lambda x: [[x[0] - x[1]], [x[2] - x[0]]]  # noqa: E731
    line = sorted((r for r in rows if r["made_wrong"] is not None), key=lambda r: r["made_wrong"])
    ax.plot([r["hint_accuracy"][0] for r in line], [r["auc"][0] for r in line], color="k", ls="--",
            alpha=0.5, label="the oracle made wrong")  # fmt: skip
    for row in rows:
        ax.errorbar(row["hint_accuracy"][0], row["auc"][0], xerr=err(row["hint_accuracy"]),
                    yerr=err(row["auc"]), fmt="o", color=colour(row["arm"]), label=row["arm"],
                    capsize=3)  # fmt: skip
    if "student_only" in table["summary"]:
        auc, low, high = table["summary"]["student_only"]["auc"]
        ax.axhline(auc, color=colour("student_only"), label="student_only (no hints)")
        ax.axhspan(low, high, alpha=0.2, color=colour("student_only"))
    ax.set_xlabel("hint accuracy (mean over the evaluations)")
    ax.set_ylabel("AUC of success")
    ax.set_title("unpaired intervals; the table pairs them by seed", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def write(table: dict, out_dir) -> None:
    out_dir = Path(out_dir)
    (out_dir / "table.json").write_text(json.dumps(table, indent=1) + "\n")
    (out_dir / "table.md").write_text(markdown(table))
    figure(table, out_dir / "curves")


def analyse(out_dir, modes, threshold=0.9, command: str | None = None) -> dict:
    """Table and figure of the runs in `out_dir/<mode>/`; returns the table."""
    out_dir = Path(out_dir)
    runs = {mode: load(out_dir / mode) for mode in modes}
    config = json.loads((out_dir / modes[0] / "config.json").read_text())
    config.pop("mode")
    table = make_table(runs, threshold, config, command)
    write(table, out_dir)
    return table


def redraw(table_json) -> dict:
    """Figure, table.md and the statistics again from a `table.json` (no training)."""
    path = Path(table_json)
    table = summarise(json.loads(path.read_text()))
    write(table, path.parent)
    return table
