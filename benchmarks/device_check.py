"""The accelerator check: one command, a few minutes, one JSON file of figures.

Measures, with the functions of the other benchmarks (`envs.py`, `student.py`, `feedback.py`):

- `envs`: environment steps/s of our GoToLocal at batch 4,096 and 65,536 (random actions, a
  jitted, vmapped, scanned rollout), and navix's DoorKey-8x8 at 4,096 for comparison;
- `student`: the student's training frames/s (PPO, 16 environments x 32 steps per seed) at 1,
  256 and 4,096 seeds (4,096 vmapped 1,024 at a time, for memory); and `student.py
  --profile`'s figures for one update of `make train`'s default config (the rollout's share,
  the achieved GFLOP/s against same-process matmuls in f32 and bf16);
- `feedback`: what the teacher costs per frame: frames/s of the fused step in the arms
  `student_only`, `teacher_frozen` and `bidirectional`, on `paper_40`'s config at 32 seeds,
  timings interleaved;
- `paper_40`: a whole 32-seed `paper_40` run (`jaxbidir.training.run`, what `jaxbidir train
  --config paper_40 run.num_seeds=32` does, in a temporary folder): its summary (wall time, the
  first chunk's, compiling; the last success rate) and frames/s over the whole run.

Each measurement is in its own try/except (an error is recorded and the next one runs), with its
wall time; the JSON is written again after each one (a kill leaves the figures so far); a time
budget (`--budget`, from the start) skips what would start too late, and at the budget a
watchdog writes the JSON, with the `paper_40` run's progress so far, and ends the process.
It also records JAX's version, the device, and the persistent compilation cache (the same as
`jaxbidir train`'s, so a second run on the same machine compiles nothing).

    python benchmarks/device_check.py OUT [--tiny] [--budget 450] [--only envs,student,...]

writes OUT/device_check.json. `--tiny`: tiny sizes (a few environments, 1-2 seeds, a few
updates) for the test on CPU (tests/test_device_check.py). On the accelerator machine, whose
Python lacks navix and tensorboardX, `benchmarks/device_check.sh OUT` (`make device-check
OUT=...`) unpacks them from the wheels carried in `wheels/device/` (`make device-wheels`) first.
"""

import argparse
import functools
import json
import os
import platform
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import envs as env_bench
import feedback as feedback_bench
import jax
import student as student_bench

FULL = {
    "envs": {"env": "BabyAI-GoToLocal-v0", "batches": [4096, 65536], "navix_batch": 4096,
             "steps": 64, "repeats": 3},
    # (seeds, seeds vmapped at a time; 0: all)
    "student": {"seeds": [[1, 0], [256, 0], [4096, 1024]], "repeats": 2,
                "overrides": {"env.num_envs": 16, "student.num_steps": 32},
                "profile": {}},
    "feedback": {"config": "paper_40", "seeds": 32, "arms": ["student_only", "teacher_frozen",
                 "bidirectional"], "repeats": 2, "overrides": {}},
    "paper_40": {"config": "paper_40", "overrides": {"run.num_seeds": 32}},
}  # fmt: skip
# the tests' tiny run (tests/tiny.py's TINY), on the paper's level, whose generator compiles fast
TINY_RUN = {"env.num_envs": 8, "student.num_steps": 16, "feedback.hint_every": 8,
            "teacher.batch": 16, "run.log_every": 2, "run.checkpoint_every": 2}  # fmt: skip
TINY = {
    "envs": {"env": "BabyAI-GoToRedBallNoDists-v0", "batches": [8, 16], "navix_batch": 8,
             "steps": 4, "repeats": 3},
    "student": {"seeds": [[1, 0], [2, 1]], "repeats": 1, "overrides": TINY_RUN,
                "profile": TINY_RUN},
    "feedback": {"config": "paper_40", "seeds": 1, "arms": ["student_only", "teacher_frozen",
                 "bidirectional"], "repeats": 1, "overrides": TINY_RUN},
    "paper_40": {"config": "paper_40", "overrides": {
        **TINY_RUN, "run.num_seeds": 2, "run.total_frames": 8 * 16 * 4, "run.eval_every": 2,
        "run.eval_episodes": 4}},
}  # fmt: skip
SECTIONS = tuple(FULL)
START_MARGIN_S = 20  # a measurement starts only with this much of the budget left
START = time.perf_counter()
PROGRESS = {}  # the paper_40 run under way: its folder, config and start (for the watchdog)


class Report:
    """The JSON file and what goes in it, written whole (atomically) after every change; a lock
    between the measurements and the watchdog."""

    def __init__(self, path: Path, head: dict):
        self.path, self.data, self.lock = path, head, threading.Lock()
        self.write()

    def set(self, section: str, name: str, value: dict) -> None:
        with self.lock:
            self.data["results"].setdefault(section, {})[name] = value
            self.write()

    def write(self) -> None:
        self.data["wall_s"] = round(time.perf_counter() - START, 1)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2))
        os.replace(tmp, self.path)  # a kill never leaves half a file


def left(budget: float) -> float:
    return budget - (time.perf_counter() - START)


def measure(report: Report, section: str, name: str, budget: float, fn) -> None:
    """Record fn() -> dict as `section.name` with its wall time; its error instead if it
    raises; `skipped` when too little of the budget is left to start it."""
    if left(budget) < START_MARGIN_S:
        report.set(section, name, {"skipped": f"budget: {left(budget):.0f} s left"})
        return
    print(f"== {section}: {name} ({left(budget):.0f} s left)", flush=True)
    start = time.perf_counter()
    # what the file says if the watchdog or a kill ends the process during this one
    report.set(section, name, {"running_since_s": round(start - START, 1)})
    try:
        value = fn()
    except Exception as error:  # recorded, and the next measurement runs
        lines = traceback.format_exc().strip().splitlines()
        value = {"error": f"{type(error).__name__}: {error}"[:2000], "traceback": lines[-12:]}
    value["seconds"] = round(time.perf_counter() - start, 1)
    peak = _peak_device_bytes()
    if peak is not None:
        value["device_peak_gib_so_far"] = round(peak / 2**30, 2)
    report.set(section, name, value)
    print(f"   {json.dumps(value)[:400]}", flush=True)


def _peak_device_bytes():
    try:
        stats = jax.local_devices()[0].memory_stats()  # None on CPU
    except Exception:  # a figure to add, never a reason to lose the measurement
        return None
    return stats.get("peak_bytes_in_use") if stats else None


def envs_section(report: Report, sizes: dict, budget: float) -> None:
    """Our level's steps/s at each batch, and navix DoorKey's at one (`envs.jax_rate`)."""
    import navix as nx

    from jaxbidir import envs

    ours = envs.make(sizes["env"])
    for batch in sizes["batches"]:
        rate = functools.partial(_env_rate, ours, sizes["env"], batch, sizes)
        measure(report, "envs", f"ours_batch_{batch}", budget, rate)
    navix = nx.make("Navix-DoorKey-8x8-v0", observation_fn=nx.observations.symbolic_first_person)
    name, batch = "Navix-DoorKey-8x8-v0 first-person symbolic", sizes["navix_batch"]
    rate = functools.partial(_env_rate, navix, name, batch, sizes, len(navix.action_set))
    measure(report, "envs", f"navix_doorkey_batch_{batch}", budget, rate)


def _env_rate(env, name: str, batch: int, sizes: dict, num_actions: int = 7) -> dict:
    rate = env_bench.jax_rate(env.reset, env.step, batch, sizes["steps"], sizes["repeats"],
                              num_actions)  # fmt: skip
    return {"env": name, "batch": batch, "steps_per_s": round(rate)}


def student_section(report: Report, sizes: dict, budget: float) -> None:
    """The student's training frames/s at each number of seeds (`student.training_rate`), and
    where one update's time goes (`student.profile`)."""
    from jaxbidir import config

    cfg = config.load(None, sizes["overrides"])
    for seeds, seed_batch in sizes["seeds"]:

        def rate(seeds=seeds, seed_batch=seed_batch):
            fps = student_bench.training_rate(cfg, seeds, sizes["repeats"], seed_batch)
            return {"seeds": seeds, "seed_batch": seed_batch, "num_envs": cfg.env.num_envs,
                    "num_steps": cfg.student.num_steps, "frames_per_s": round(fps)}  # fmt: skip

        measure(report, "student", f"seeds_{seeds}", budget, rate)
    profile_cfg = config.load(None, sizes["profile"])
    measure(report, "student", "profile", budget,
            lambda: student_bench.profile(profile_cfg, sizes["repeats"]))  # fmt: skip


def feedback_section(report: Report, sizes: dict, budget: float) -> None:
    """The fused step's frames/s in each arm, timings interleaved (`feedback.measure`): the
    teacher's cost per frame is an arm's time per frame over `student_only`'s."""
    from jaxbidir import config

    base = config.load(sizes["config"], sizes["overrides"])
    seeds = sizes["seeds"]

    def arms():
        # seed_batch = seeds: all of them vmapped at once
        figures = feedback_bench.measure(base, seeds, sizes["repeats"], seeds, sizes["arms"])
        baseline = figures["student_only"][0]
        out = {"config": sizes["config"], "seeds": seeds, "num_envs": base.env.num_envs,
               "num_steps": base.student.num_steps, "hint_every": base.feedback.hint_every,
               "teacher_batch": base.teacher.batch}  # fmt: skip
        for arm, (fps, mib, seconds) in figures.items():
            out[arm] = {"frames_per_s": round(fps), "cost": round(baseline / fps, 3),
                        "memory_per_seed_mib": mib, **seconds}  # fmt: skip
        return out

    measure(report, "feedback", f"seeds_{seeds}", budget, arms)


def paper_40_section(report: Report, sizes: dict, budget: float) -> None:
    """A whole `paper_40` run (`training.run`), in a temporary folder: its checkpoints stay
    out of OUT. The watchdog reads its metrics so far (`paper_40_progress`) if it is cut."""
    from jaxbidir import config, training

    cfg = config.load(sizes["config"], sizes["overrides"])
    folder = Path(tempfile.mkdtemp(prefix="device-check-paper_40-"))
    PROGRESS.update(folder=folder, config=cfg, start=None)

    def run():
        PROGRESS["start"] = time.perf_counter()
        summary = training.run(cfg, folder / "run", progress=False)
        lines = training.read_metrics(folder / "run" / "metrics.jsonl")
        return {"summary": summary, **_run_figures(cfg, summary, lines)}

    measure(report, "paper_40", f"seeds_{cfg.run.num_seeds}", budget, run)


def _run_figures(cfg, summary: dict, lines: list) -> dict:
    """The whole run's frames/s, all seeds, compiling, evaluations and checkpoints included
    (the `feedback` section times the same step compiled)."""
    frames = cfg.run.num_seeds * summary["frames_per_seed"]
    return {
        "seeds": cfg.run.num_seeds,
        "frames_all_seeds": frames,
        "frames_per_s": round(frames / summary["wall_clock_s"]),
        "updates_logged": len(lines),
    }


def paper_40_progress() -> dict | None:
    """What a cut `paper_40` run did so far: updates logged, seconds since it started."""
    if not PROGRESS.get("start"):
        return None
    from jaxbidir import training

    lines = training.read_metrics(PROGRESS["folder"] / "run" / "metrics.jsonl")
    cfg = PROGRESS["config"]
    return {
        "updates_logged": len(lines),
        "of_updates": cfg.num_updates,
        "seconds_since_start": round(time.perf_counter() - PROGRESS["start"], 1),
        "last_success_rate": lines[-1]["success_rate"] if lines else None,
    }


RUNS = {
    "envs": envs_section,
    "student": student_section,
    "feedback": feedback_section,
    "paper_40": paper_40_section,
}


def head(args, sizes: dict, cache) -> dict:
    """What the figures were measured on and with."""
    import jaxlib

    device = jax.devices()[0]
    return {
        "what": "benchmarks/device_check.py" + (" --tiny" if args.tiny else ""),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "backend": jax.default_backend(),
        "device_kind": device.device_kind,
        "device_count": jax.device_count(),
        "cpu_count": os.cpu_count(),
        "budget_s": args.budget,
        "compilation_cache": cache,
        "sizes": {s: sizes[s] for s in args.only},
        "results": {},
        "finished": False,
    }


def _cache() -> dict:
    """The persistent compilation cache, as `jaxbidir train` sets it: its folder and how many
    programs it already held (a second check on the same machine compiles less)."""
    from jaxbidir.cli import use_compilation_cache

    folder = use_compilation_cache()
    held = len(list(Path(folder).glob("*"))) if folder and Path(folder).is_dir() else 0
    return {"folder": folder, "entries_at_start": held}


def watchdog(report: Report, budget: float, exit=os._exit) -> threading.Timer:
    """At the budget: the JSON with what is done (and the paper_40 run's progress), then
    `exit(3)` (os._exit: the measurement under way cannot be interrupted otherwise)."""

    def stop():
        with report.lock:
            report.data["stopped"] = f"the budget of {budget:.0f} s ran out"
            try:
                report.data["paper_40_progress"] = paper_40_progress()
            except Exception as error:  # the file is what matters now
                report.data["paper_40_progress"] = {"error": repr(error)}
            report.write()
        print(f"budget of {budget:.0f} s reached: {report.path} written", flush=True)
        exit(3)

    timer = threading.Timer(max(0.0, left(budget)), stop)
    timer.daemon = True
    timer.start()
    return timer


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="folder for device_check.json (created)")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (the CPU test)")
    parser.add_argument("--budget", type=float, default=450, help="seconds in all (default 450)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"among {','.join(SECTIONS)}")
    args = parser.parse_args(argv)
    args.only = [s for s in args.only.split(",") if s]
    if unknown := set(args.only) - set(SECTIONS):
        parser.error(f"--only: unknown {sorted(unknown)}")
    sizes = TINY if args.tiny else FULL
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = Report(out / "device_check.json", head(args, sizes, _cache()))
    timer = watchdog(report, args.budget)
    for section in args.only:
        try:
            RUNS[section](report, sizes[section], args.budget)
        except Exception as error:  # in its set-up, outside a measurement: the next section runs
            report.set(section, "set-up", {"error": f"{type(error).__name__}: {error}"[:2000]})
            print(f"== {section}: set-up failed: {error!r}", flush=True)
    timer.cancel()
    with report.lock:
        report.data["finished"] = True
        report.write()
    print(f"written: {report.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
