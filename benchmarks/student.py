"""Student training throughput, in one run: frames/s against the number of vmapped seeds, peak
memory, the ratio to a random-action rollout at the same batch, and the wall-clock to 0.95
success on GoToRedBallNoDists for one seed, compile included; and the cost of the non-finite
guard (`run.check_finite`), with and without it timed alternately at 64 seeds.

    python benchmarks/student.py [--seeds 1 64 256 1024] [--num-envs 16] [--num-steps 32]
                                 [--seed-batch 0]
    python benchmarks/student.py --profile   # where one update of the default config goes

Prints a table; the last line is one JSON object with the figures. Peak memory is the process's
resident peak so far (seeds run in increasing order, so it is the peak of the largest so far).
"""

import argparse
import json
import resource
import statistics
import time

import jax


def timed(fn, arg, repeats):
    out = jax.block_until_ready(fn(arg))  # compile + warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = jax.block_until_ready(fn(out[0] if isinstance(out, tuple) else arg))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def training_rate(cfg, seeds, repeats, seed_batch=0):
    """Frames/s of one update of `seeds` vmapped seeds (in groups of `seed_batch` run in turn,
    as `jaxbidir train` does on one device, when > 0)."""
    from jaxbidir.feedback import make_train
    from jaxbidir.training import over_seeds

    trainer = make_train(cfg)
    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    state = jax.jit(jax.vmap(trainer.init))(keys)
    update = over_seeds(trainer.update, seed_batch=seed_batch)
    seconds = timed(update, state, repeats)
    return seeds * cfg.frames_per_update / seconds


def guard_cost(cfg, seeds, repeats):
    """The non-finite guard's cost: median seconds of one update of `seeds` vmapped seeds with
    `run.check_finite` over the same without, timed alternately in this process."""
    from jaxbidir.config import replace
    from jaxbidir.feedback import make_train

    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    updates, states = {}, {}
    for check in (True, False):
        trainer = make_train(replace(cfg, **{"run.check_finite": check}))
        states[check] = jax.jit(jax.vmap(trainer.init))(keys)
        updates[check] = jax.jit(jax.vmap(trainer.update))
        jax.block_until_ready(updates[check](states[check]))  # compile
    times = {True: [], False: []}
    for _ in range(repeats):
        for check in (True, False):
            start = time.perf_counter()
            states[check] = jax.block_until_ready(updates[check](states[check]))[0]
            times[check].append(time.perf_counter() - start)
    return statistics.median(times[True]) / statistics.median(times[False]) - 1


def median_seconds(fn, arg, repeats):
    """Median wall seconds of `fn(arg)` over `repeats` calls, after one that compiles."""
    jax.block_until_ready(fn(arg))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(arg))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def flops(fn, *args) -> float:
    """XLA's count of the floating-point operations of one call of `fn` (without loops: XLA
    counts a loop's body once)."""
    return jax.jit(fn).lower(*args).compile().cost_analysis()["flops"]


def matmul_gflops(dtype, n=2048, repeats=5) -> float:
    """GFLOP/s of an n x n x n matmul in `dtype` (f32 accumulation), in this process."""
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.PRNGKey(0), (n, n)).astype(dtype)
    mm = jax.jit(lambda a: jnp.matmul(a, a, preferred_element_type=jnp.float32))
    return 2 * n**3 / median_seconds(mm, a, repeats) / 1e9


def profile(cfg, repeats):
    """Where one update of one seed goes: the rollout (`collect`, one forward pass per step),
    the rest (GAE and the PPO epochs), and one minibatch's gradient and Adam step alone; the
    FLOPs of an update counted as (steps x one step's forward pass) + (epochs x minibatches x
    one minibatch's gradient), each from XLA's cost analysis of the loop body; the achieved
    GFLOP/s against matmuls in f32 and bf16 in this process."""
    import functools

    import jax.numpy as jnp
    import optax

    from jaxbidir.feedback import make_train
    from jaxbidir.student.ppo import make_optimizer, ppo_loss

    trainer = make_train(cfg)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    update_s = median_seconds(jax.jit(trainer.update), state, repeats)
    collect = jax.jit(trainer.collect)
    rollout_s = median_seconds(collect, state, repeats)
    rows = collect(state).rows
    ppo = cfg.student
    n_mb = ppo.update_epochs * ppo.num_minibatches
    mb = rows.valid.size // ppo.num_minibatches
    batch = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:])[:mb], rows)
    zeros = jnp.zeros(mb)
    loss = functools.partial(ppo_loss, trainer.policy, cfg, use_hints=False)
    tx = make_optimizer(cfg)

    def minibatch_step(params, opt_state):
        grads = jax.grad(lambda p: loss(p, batch, zeros, (zeros, zeros))[0])(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    step = jax.jit(minibatch_step)
    minibatch_s = median_seconds(lambda p: step(p, state.opt_state), state.params, repeats)
    obs = rows.image[0], rows.mission[0]
    forward = flops(lambda p: trainer.policy(p, *obs)[0], state.params)
    update_flops = ppo.num_steps * forward + n_mb * flops(
        minibatch_step, state.params, state.opt_state
    )
    frames = cfg.frames_per_update
    return {
        "frames_per_s": round(frames / update_s),
        "update_s": round(update_s, 3),
        "rollout_s": round(rollout_s, 3),
        "ppo_s": round(update_s - rollout_s, 3),
        "minibatch_steps_s (alone, x epochs x minibatches)": round(n_mb * minibatch_s, 3),
        "mflop_per_frame": round(update_flops / frames / 1e6, 2),
        "achieved_gflops": round(update_flops / update_s / 1e9, 1),
        "matmul_f32_gflops": round(matmul_gflops(jnp.float32), 1),
        "matmul_bf16_gflops": round(matmul_gflops(jnp.bfloat16), 1),
    }


def random_rate(cfg, batch, repeats):
    from jaxbidir.runner import make_env

    env = make_env(cfg)

    @jax.jit
    def rollout(ts):
        def body(ts, k):
            return jax.vmap(env.step)(ts, jax.random.randint(k, (batch,), 0, 7)), None

        keys = jax.random.split(jax.random.PRNGKey(1), cfg.student.num_steps)
        return jax.lax.scan(body, ts, keys)[0], None

    ts = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), batch))
    return batch * cfg.student.num_steps / timed(rollout, ts, repeats)


def time_to_solve(target=0.95, max_frames=1_000_000):
    """Frames and seconds (compile included) until one seed's success rate reaches `target`
    on two consecutive updates, with `make train`'s default config."""
    from jaxbidir import config
    from jaxbidir.feedback import make_train

    start = time.perf_counter()
    cfg = config.load(None)
    trainer = make_train(cfg)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    update = jax.jit(trainer.update)
    streak, frames = 0, 0
    while frames < max_frames:
        state, metrics = update(state)
        frames = int(metrics["frames"])
        streak = streak + 1 if float(metrics["success_rate"]) >= target else 0
        if streak == 2:
            return frames, time.perf_counter() - start
    return None, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 64, 256, 1024])
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--num-steps", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--seed-batch", type=int, default=0, help="seeds vmapped at a time, groups in turn (0: all)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="only where one update of the default config goes"
    )
    args = parser.parse_args()

    from jaxbidir import config

    if args.profile:
        print(json.dumps(profile(config.load(None), max(3, args.repeats))))
        return

    cfg = config.load(None, {"env.num_envs": args.num_envs, "student.num_steps": args.num_steps})
    rows = []
    print("measuring ...", flush=True)
    frames, seconds = time_to_solve()
    for seeds in sorted(args.seeds):
        train_fps = training_rate(cfg, seeds, args.repeats, args.seed_batch)
        rand_fps = random_rate(cfg, seeds * cfg.env.num_envs, args.repeats)
        rows.append(
            {
                "seeds": seeds,
                "train_frames_per_s": round(train_fps),
                "random_rollout_frames_per_s": round(rand_fps),
                "train_over_random": round(train_fps / rand_fps, 4),
                "peak_rss_gib": round(peak_rss_gib(), 2),
            }
        )
        print(rows[-1], flush=True)
    print(
        f"{'seeds':>6} {'train frames/s':>15} {'random frames/s':>16} {'ratio':>8} {'peak GiB':>9}"
    )
    for r in rows:
        train, rand = r["train_frames_per_s"], r["random_rollout_frames_per_s"]
        print(
            f"{r['seeds']:>6} {train:>15,} {rand:>16,}"
            f" {r['train_over_random']:>8.4f} {r['peak_rss_gib']:>9.2f}"
        )
    print(
        f"GoToRedBallNoDists to 0.95 success (1 seed, default config): {frames} frames, "
        f"{seconds:.1f} s including compile"
    )
    guard = guard_cost(cfg, 64, max(5, args.repeats))
    print(f"non-finite guard (check_finite), 64 seeds: {100 * guard:+.2f}% time per update")
    per_frame = {r["seeds"]: 1 / r["train_frames_per_s"] for r in rows}
    result = {
        "device": jax.devices()[0].device_kind,
        "num_envs_per_seed": cfg.env.num_envs,
        "num_steps": cfg.student.num_steps,
        "seed_batch": args.seed_batch,
        "rows": rows,
        "solve_frames": frames,
        "solve_seconds_with_compile": round(seconds, 1),
        "nonfinite_guard_cost": round(guard, 4),
    }
    if 64 in per_frame and max(per_frame) > 64:
        result["per_frame_cost_largest_over_64"] = round(
            per_frame[max(per_frame)] / per_frame[64], 3
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
