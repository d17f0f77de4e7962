"""How soon a second `jaxbidir train` learns: the command run `--runs` times into one persistent
compilation cache (a new one, which the first run fills), each timed from its launch to its first
metrics line, to the first line whose success reaches `--threshold`, and to its end. The
figures of interest are the later runs', whose programs all come from the cache.

    python benchmarks/second_run.py [--runs 4] [--threshold 0.95] [--cache DIR]
                                    [--tree CHECKOUT] [table.key=value ...]

The default run is `make train`'s config for 65,536 frames (16 updates, in chunks of
`run.log_every` = 4: the line that holds an update is written when its chunk ends).
`--tree` times another checkout of jaxbidir (put first on PYTHONPATH) with this Python, to
compare two commits run after run. Prints one line per run; the last line is one JSON object
with every run and the medians of the runs after the first.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jaxbidir.training import read_metrics


def timed_run(overrides, cache: str, tree: str | None, threshold: float) -> dict:
    """One `jaxbidir train` in a new folder, its metrics polled every 50 ms -> seconds from its
    launch to the first metrics line, to the first line at `threshold` (and that update), to
    its end."""
    out = Path(tempfile.mkdtemp(prefix="second_run_"))
    env = dict(os.environ, JAXBIDIR_CACHE=cache)
    if tree:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [tree, env.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", "jaxbidir.cli", "train", *overrides, "--out", str(out / "run")]
    first = reached = None
    start = time.perf_counter()
    # stderr (the progress bar) to a file: a pipe nobody reads would fill and stop the run
    with (out / "stderr.txt").open("w") as stderr:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        while proc.poll() is None:
            time.sleep(0.05)
            lines = read_metrics(out / "run" / "metrics.jsonl")
            now = time.perf_counter() - start
            if lines and first is None:
                first = now
            if reached is None:
                hit = [r for r in lines if r["success_rate"] >= threshold]
                reached = (now, hit[0]["update"]) if hit else None
    whole = time.perf_counter() - start
    if proc.returncode:
        tail = (out / "stderr.txt").read_text()[-2000:]
        raise SystemExit(f"{' '.join(argv)} failed:\n{tail}")
    return {
        "first_metrics_s": round(first, 2),
        "threshold_line_s": round(reached[0], 2) if reached else None,
        "threshold_update": reached[1] if reached else None,
        "whole_s": round(whole, 2),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--threshold", type=float, default=0.95)
    parser.add_argument("--cache", help="the compilation cache (default: a new folder)")
    parser.add_argument("--tree", help="a checkout of jaxbidir to time instead of this one")
    parser.add_argument("overrides", nargs="*", default=["run.total_frames=65536"])
    args = parser.parse_args()
    if args.runs < 2:
        parser.error("--runs must be at least 2: the first run fills the cache")
    cache = args.cache or tempfile.mkdtemp(prefix="second_run_cache_")
    runs = []
    for i in range(args.runs):
        runs.append(timed_run(args.overrides, cache, args.tree, args.threshold))
        print(f"run {i + 1}: {runs[-1]}", flush=True)
    later = runs[1:]
    medians = {
        key: statistics.median(r[key] for r in later)
        for key in ("first_metrics_s", "threshold_line_s", "whole_s")
        if all(r[key] is not None for r in later)
    }
    print(json.dumps({"overrides": args.overrides, "threshold": args.threshold, "runs": runs,
                      "median_after_first": medians}))  # fmt: skip


if __name__ == "__main__":
    main()
