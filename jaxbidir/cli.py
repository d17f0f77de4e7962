"""`jaxbidir` command line.

    jaxbidir train [--env ID] [--num-envs N] [--steps T] [--seed S] [--out DIR]

Until the student (issue 3) lands, `train` runs the real environments with a uniformly random
policy: vmapped, jitted in chunks, with a progress bar, per-chunk metrics in `metrics.jsonl` and
a summary at the end. It is the baseline every learning curve starts from.
"""

import argparse
import json
import sys
import time
from pathlib import Path

DEFAULT_ENV = "BabyAI-GoToRedBallNoDists-v0"


def _rollout_fn(env, num_envs, chunk):
    import jax
    import jax.numpy as jnp

    @jax.jit
    def run(ts, key):
        def body(carry, k):
            ts, ret = carry
            ts = jax.vmap(env.step)(ts, jax.random.randint(k, (num_envs,), 0, env.num_actions))
            done = ts.is_done()
            ret = ret + ts.reward
            stats = (
                jnp.sum(done),
                jnp.sum(ts.is_termination()),
                jnp.sum(jnp.where(done, ret, 0)),
                jnp.sum(jnp.where(done, ts.t, 0)),
            )
            return (ts, jnp.where(done, 0.0, ret)), stats

        (ts, ret), stats = jax.lax.scan(
            body, (ts, jnp.zeros(num_envs)), jax.random.split(key, chunk)
        )
        return ts, jax.tree.map(jnp.sum, stats)

    return run


def train(args) -> dict:
    import jax
    from tqdm import tqdm

    from jaxbidir import envs

    env = envs.make(args.env)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    run = _rollout_fn(env, args.num_envs, args.chunk)
    key = jax.random.PRNGKey(args.seed)
    key, k_reset = jax.random.split(key)
    ts = jax.jit(jax.vmap(env.reset))(jax.random.split(k_reset, args.num_envs))
    chunks = max(1, args.steps // args.chunk)
    totals = {"episodes": 0, "successes": 0, "return": 0.0, "length": 0}
    start = time.perf_counter()
    with (
        open(out / "metrics.jsonl", "w") as log,
        tqdm(
            total=chunks * args.chunk * args.num_envs,
            unit="frame",
            unit_scale=True,
            desc=f"random policy on {args.env}",
        ) as bar,
    ):
        for i in range(chunks):
            key, k = jax.random.split(key)
            ts, (episodes, successes, ret, length) = run(ts, k)
            episodes, successes = int(episodes), int(successes)
            totals["episodes"] += episodes
            totals["successes"] += successes
            totals["return"] += float(ret)
            totals["length"] += int(length)
            frames = (i + 1) * args.chunk * args.num_envs
            row = {
                "chunk": i,
                "frames": frames,
                "episodes": episodes,
                "success_rate": successes / max(episodes, 1),
                "mean_return": float(ret) / max(episodes, 1),
                "frames_per_s": frames / (time.perf_counter() - start),
            }
            log.write(json.dumps(row) + "\n")
            bar.update(args.chunk * args.num_envs)
            bar.set_postfix(success=f"{row['success_rate']:.2f}", fps=f"{row['frames_per_s']:,.0f}")
    n = max(totals["episodes"], 1)
    summary = {
        "env": args.env,
        "policy": "uniform random",
        "frames": chunks * args.chunk * args.num_envs,
        "episodes": totals["episodes"],
        "success_rate": totals["successes"] / n,
        "mean_return": totals["return"] / n,
        "mean_episode_length": totals["length"] / n,
        "seconds": time.perf_counter() - start,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    print(f"metrics: {out / 'metrics.jsonl'}  summary: {out / 'summary.json'}")
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(prog="jaxbidir")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "train", help="run the default training (for now: the random-policy baseline)"
    )
    p.add_argument("--env", default=DEFAULT_ENV)
    p.add_argument("--num-envs", type=int, default=1024)
    p.add_argument("--steps", type=int, default=2048, help="steps per environment")
    p.add_argument("--chunk", type=int, default=128, help="steps per jitted call")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/latest")
    args = parser.parse_args(argv)
    from jaxbidir import envs

    if args.env not in envs.registry():
        parser.error(f"unknown level {args.env!r}; known: {', '.join(envs.registry())}")
    for name in ("num_envs", "steps", "chunk"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.command == "train":
        train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
