"""`make bench`: every benchmark in turn (each prints its own table), then one JSON line with
all their figures: {"envs": {...}, "student": {...}, "against": {...}, "second_run": {...},
"teacher": {...}, "feedback": {...}, "glam": {...}}.

    python benchmarks/all.py [names...]   # default: all of them
"""

import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = ["envs", "student", "against", "second_run", "teacher", "feedback", "glam"]


def main():
    names = sys.argv[1:] or BENCHMARKS
    results = {}
    for name in names:
        script = Path(__file__).with_name(f"{name}.py")
        print(f"== {name} ==", flush=True)
        proc = subprocess.run(
            [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, check=True
        )
        print(proc.stdout, end="", flush=True)
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(results))


if __name__ == "__main__":
    main()
