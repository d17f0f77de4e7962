"""Environment throughput: our BabyAI levels vs navix and the Python minigrid package, in one run.

Random actions, `jax.vmap` over a batch of environments, steps scanned inside one `jax.jit`.
Prints a table and, as its last line, one JSON object with the figures.

    python benchmarks/envs.py [--batch 4096] [--steps 128] [--repeats 5]
"""

import argparse
import contextlib
import io
import json
import platform
import statistics
import time

import jax


def jax_rate(reset, step, batch, steps, repeats, num_actions=7):
    """Median env steps per second of a jitted, vmapped random-action rollout (compile excluded)."""

    @jax.jit
    def rollout(ts, key):
        def body(ts, k):
            return jax.vmap(step)(ts, jax.random.randint(k, (batch,), 0, num_actions)), None

        return jax.lax.scan(body, ts, jax.random.split(key, steps))[0]

    ts = jax.jit(jax.vmap(reset))(jax.random.split(jax.random.PRNGKey(0), batch))
    ts = jax.block_until_ready(rollout(ts, jax.random.PRNGKey(1)))  # compile + warm up
    times = []
    for r in range(repeats):
        start = time.perf_counter()
        ts = jax.block_until_ready(rollout(ts, jax.random.PRNGKey(2 + r)))
        times.append(time.perf_counter() - start)
    return batch * steps / statistics.median(times)


def minigrid_rate(env_id, seconds, repeats):
    import gymnasium as gym
    import minigrid  # noqa: F401
    import numpy as np

    env = gym.make(env_id)
    rng = np.random.default_rng(0)
    quiet = contextlib.redirect_stdout(io.StringIO())  # minigrid prints each rejected layout
    quiet.__enter__()
    rates = []
    env.reset(seed=0)
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            _, _, term, trunc, _ = env.step(int(rng.integers(7)))
            n += 1
            if term or trunc:
                env.reset()
        rates.append(n / (time.perf_counter() - start))
    quiet.__exit__(None, None, None)
    return statistics.median(rates)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--env", default="BabyAI-GoToLocal-v0")
    args = parser.parse_args()

    import navix as nx

    from jaxbidir import envs

    print("measuring ...", flush=True)
    ours = envs.make(args.env)
    ours_rate = jax_rate(ours.reset, ours.step, args.batch, args.steps, args.repeats)
    checked = envs.make(args.env, check_actions=True)
    checked_rate = jax_rate(checked.reset, checked.step, args.batch, args.steps, args.repeats)
    navix_env = nx.make(
        "Navix-DoorKey-8x8-v0", observation_fn=nx.observations.symbolic_first_person
    )
    navix_rate = jax_rate(
        navix_env.reset,
        navix_env.step,
        args.batch,
        args.steps,
        args.repeats,
        num_actions=len(navix_env.action_set),
    )
    python_rate = minigrid_rate(args.env, seconds=2.0, repeats=args.repeats)

    rows = [
        (f"jaxbidir {args.env} (batch {args.batch})", ours_rate),
        (f"jaxbidir {args.env}, check_actions=True (debug)", checked_rate),
        (f"navix Navix-DoorKey-8x8-v0 first-person symbolic (batch {args.batch})", navix_rate),
        (f"minigrid {args.env} (Python, one process)", python_rate),
    ]
    print(f"{'environment':<72} {'steps/s':>14}")
    for name, rate in rows:
        print(f"{name:<72} {rate:>14,.0f}")
    result = {
        "env": args.env,
        "batch": args.batch,
        "device": jax.devices()[0].device_kind,
        "machine": f"{platform.machine()} {jax.local_device_count()} device(s)",
        "ours_steps_per_s": round(ours_rate),
        "ours_checked_steps_per_s": round(checked_rate),
        "navix_doorkey_fpv_steps_per_s": round(navix_rate),
        "minigrid_python_steps_per_s": round(python_rate),
        "ratio_vs_navix": round(ours_rate / navix_rate, 3),
        "ratio_vs_minigrid": round(ours_rate / python_rate, 1),
    }
    print(
        f"ours / navix DoorKey: {result['ratio_vs_navix']:.2f}x   "
        f"ours / minigrid: {result['ratio_vs_minigrid']:.0f}x"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
