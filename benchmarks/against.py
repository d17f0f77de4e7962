"""The student's training frames/s against another commit of this project, on this machine: the
same timing code imports each tree in a process of its own, the processes run in turn, round
after round (this CPU's speed drifts between processes, so each round pairs the two), and the
ratio of the medians is printed per number of seeds.

    python benchmarks/against.py [COMMIT] [--seeds 1 16] [--rounds 3] [--repeats 5]

COMMIT defaults to b55b033, the student before its speed-up (docs/benchmarks.md).

Each process times `jax.jit(jax.vmap(trainer.update))` of `make train`'s default config (64
environments x 64 steps, each tree's own PPO schedule) on `--seeds` vmapped seeds: the median of
`--repeats` updates after one that compiles. The other commit is checked out with `git worktree`
into a temporary folder and removed afterwards. Prints a table; the last line is one JSON object.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# run in a process of its own with the tree to measure first on sys.path: seeds, repeats -> f/s
TIMING = """
import statistics, sys, time
sys.path.insert(0, sys.argv[1])
import jax
import jaxbidir
assert jaxbidir.__file__.startswith(sys.argv[1]), jaxbidir.__file__  # the tree asked for
from jaxbidir import config
from jaxbidir.feedback import make_train
seeds, repeats = int(sys.argv[2]), int(sys.argv[3])
cfg = config.load(None, [])
trainer = make_train(cfg)
state = jax.jit(jax.vmap(trainer.init))(jax.random.split(jax.random.PRNGKey(0), seeds))
update = jax.jit(jax.vmap(trainer.update))
state = jax.block_until_ready(update(state))[0]
times = []
for _ in range(repeats):
    start = time.perf_counter()
    state = jax.block_until_ready(update(state))[0]
    times.append(time.perf_counter() - start)
print(seeds * cfg.frames_per_update / statistics.median(times))
"""


def frames_per_s(tree: Path, seeds: int, repeats: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", TIMING, str(tree), str(seeds), str(repeats)],
        capture_output=True, text=True, cwd=tree,
    )  # fmt: skip
    if out.returncode:
        raise RuntimeError(f"timing {tree} at {seeds} seeds failed:\n{out.stderr[-3000:]}")
    return float(out.stdout.split()[-1])


def compare(other: Path, seeds: list[int], rounds: int, repeats: int) -> dict:
    """{seeds: {"other": [f/s per round], "this": [...], "speed_up": median ratio}}."""
    figures = {}
    for n in seeds:
        runs = {"other": [], "this": []}
        for r in range(rounds):
            for name, tree in (("other", other), ("this", ROOT)):
                runs[name].append(frames_per_s(tree, n, repeats))
                print(f"{n} seeds, round {r + 1}: {name} {runs[name][-1]:,.0f} frames/s",
                      file=sys.stderr, flush=True)  # fmt: skip
        speed_up = statistics.median(runs["this"]) / statistics.median(runs["other"])
        figures[n] = {**runs, "speed_up": speed_up}
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commit", nargs="?", default="b55b033", help="the commit to compare "
                        "against (default b55b033: the student before its speed-up)")  # fmt: skip
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(other), args.commit],
                       cwd=ROOT, check=True)  # fmt: skip
        try:
            figures = compare(other, args.seeds, args.rounds, args.repeats)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT)
    print(f"| seeds | {args.commit} frames/s | this tree | speed-up (ratio of medians) |")
    print("|---|---|---|---|")
    for n, f in figures.items():
        cells = [", ".join(f"{x:,.0f}" for x in f[k]) for k in ("other", "this")]
        print(f"| {n} | {cells[0]} | {cells[1]} | {f['speed_up']:.2f}x |")
    print(json.dumps({"against": args.commit, "rounds": args.rounds, "repeats": args.repeats,
                      "seeds": figures}))  # fmt: skip


if __name__ == "__main__":
    main()
