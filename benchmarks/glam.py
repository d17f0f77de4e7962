"""What the GLAM baseline costs: frames/s of PPO on the language model as the policy (mode `glam`)
against the fused step of `bidirectional` (student + teacher) on the same level, environments
and rollout length, in one process, timings interleaved (medians).

    python benchmarks/glam.py [--config NAME] [--seeds 1] [--repeats 3] [table.key=value ...]

Both use the shipped teacher (the LM GLAM fine-tunes, and the teacher that gives hints). The
last line is one JSON object with the figures.
"""

import argparse
import json

import jax
from feedback import measure


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=None)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("overrides", nargs="*", metavar="table.key=value")
    args = parser.parse_args()

    from jaxbidir import config

    cfg = config.load(args.config, ["env.num_envs=16", "student.num_steps=64", *args.overrides])
    print("measuring ...", flush=True)
    measured = measure(cfg, args.seeds, args.repeats, 0, ("bidirectional", "glam"))
    fps = {arm: frames_per_s for arm, (frames_per_s, _, _) in measured.items()}
    result = {
        "device": jax.devices()[0].device_kind,
        "env_id": cfg.env.id,
        "num_envs": cfg.env.num_envs,
        "num_steps": cfg.student.num_steps,
        "seeds": args.seeds,
        "bidirectional_frames_per_s": round(fps["bidirectional"]),
        "glam_frames_per_s": round(fps["glam"], 1),
        "glam_cost": round(fps["bidirectional"] / fps["glam"], 1),
    }
    bidirectional, glam, cost = (result[k] for k in ("bidirectional_frames_per_s",
                                                     "glam_frames_per_s", "glam_cost"))  # fmt: skip
    print(f"bidirectional {bidirectional:,} frames/s, glam {glam:,} frames/s: glam costs {cost}x")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
