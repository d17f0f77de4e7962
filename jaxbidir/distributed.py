"""One run over several processes (TPU pod slices, several GPU hosts), on `jax.distributed`.

Each process drives its host's devices; together they hold the run's seeds, sharded over every
device of every process (`training.seed_sharding`). Each process runs only its own seeds: the
seeds are independent, so what passes between processes is the per-seed metrics that process 0
gathers to write (`to_host`), the checkpoints, which orbax writes as one from every process's
shards, and, within a chunk, one bit per iteration of a batched `while_loop` (XLA runs a loop
over sharded seeds until every device's are done).

    initialize(coordinator, num_processes, process_id, auto, heartbeat_timeout)  at start-up
    is_main() -> bool          process 0: the one that writes logs, metrics and the summary
    to_host(tree) -> tree      numpy arrays, each whole on every process (a collective)
    from_main(value) -> value  process 0's value, on every process (a collective)
    sync(name)                 wait until every process gets here

When a process dies, JAX's coordination service stops hearing its heartbeats and, within
`heartbeat_timeout` seconds, stops every other process (JAX's own "Terminating process because
the JAX distributed service detected fatal errors" line); a process waiting on the dead one in a
collective sees it at once and stops with `PeerLost`. Either way the run is left at its last
checkpoint, which `--resume` continues from, on as many processes as are then at hand.
"""

import itertools
import sys

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

HEARTBEAT_TIMEOUT = 100  # s, JAX's default (and `jaxbidir train --heartbeat-timeout`'s)
BARRIER_TIMEOUT = 3600  # s a process waits for the others at a `sync`
_barriers = itertools.count()  # each barrier of the coordination service needs its own name


class PeerLost(RuntimeError):
    """A collective between the run's processes failed: most likely another process died."""


def initialize(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    auto: bool = False,
    heartbeat_timeout: int = HEARTBEAT_TIMEOUT,
) -> bool:
    """Join the run's other processes (`jax.distributed.initialize`), before any JAX computation.

    Explicit: `coordinator` "HOST:PORT" (process 0's address, the same for all), `num_processes`
    and this `process_id`. `auto`: JAX finds the cluster itself (a TPU pod slice, SLURM, ...);
    the explicit values given still win. Neither: one process, nothing done, returns False."""
    explicit = {
        "--coordinator": coordinator,
        "--num-processes": num_processes,
        "--process-id": process_id,
    }
    given = [flag for flag, value in explicit.items() if value is not None]
    if not auto and not given:
        return False
    if not auto and len(given) < len(explicit):
        missing = [flag for flag in explicit if flag not in given]
        raise ValueError(
            f"several processes need {', '.join(explicit)} together (missing {', '.join(missing)})"
            f", or --distributed auto where JAX finds the cluster itself (TPU pod slice, SLURM)"
        )
    if num_processes is not None and not 0 <= (process_id or 0) < num_processes:
        raise ValueError(f"--process-id {process_id} must be in 0..{num_processes - 1}")
    if heartbeat_timeout < 1:
        raise ValueError(f"--heartbeat-timeout {heartbeat_timeout} must be at least 1 second")
    try:
        jax.distributed.initialize(
            coordinator, num_processes, process_id, heartbeat_timeout_seconds=heartbeat_timeout
        )
    except ValueError as error:  # what JAX raises when it finds no cluster
        if not auto:
            raise
        raise ValueError(
            f"--distributed auto: JAX found no cluster here ({error}); on other machines give "
            f"--coordinator HOST:PORT --num-processes N --process-id I"
        ) from None
    # JAX's persistent compilation cache is off on several processes: with it, processes that
    # found some programs in a shared cache and compiled others hung for good in their first
    # collective (a run resumed on two processes of tests/test_distributed.py, 3 hangs in 3
    # tries; 0 in 4 without the cache)
    jax.config.update("jax_enable_compilation_cache", False)
    _connect_devices()
    print(
        f"process {jax.process_index()} of {jax.process_count()}: {jax.local_device_count()} of "
        f"{jax.device_count()} {jax.default_backend()} devices; if a process dies the others "
        f"stop within {heartbeat_timeout} s, and --resume continues from the last checkpoint",
        file=sys.stderr,
        flush=True,
    )
    return True


def _connect_devices() -> None:
    """One all-reduce over every device of every process, now that they are all in step (they
    just met in `jax.distributed.initialize`). XLA's CPU collectives (gloo) connect the devices
    of a collective at its first run and give the processes 30 s to meet there, which the
    compilation of a chunk can exceed on one of them; the connection made here is the one that
    every seed-sharded program uses later (same devices, same order)."""
    mesh = Mesh(np.array(jax.devices()), ("devices",))
    ones = np.ones(jax.local_device_count(), np.int32)
    ones = jax.make_array_from_process_local_data(
        NamedSharding(mesh, PartitionSpec("devices")), ones
    )
    count = int(jax.jit(jnp.sum)(ones))
    assert count == jax.device_count(), (count, jax.device_count())


def is_main() -> bool:
    return jax.process_index() == 0


def is_several() -> bool:
    """Whether this run spans several processes."""
    return jax.process_count() > 1


def to_host(tree):
    """`tree` with each array a numpy array, whole on every process: `jax.device_get` on one
    process; gathered from every process's shards on several (a collective: all call it).
    Raises `PeerLost` when another process is gone."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    return _collective(lambda: multihost_utils.process_allgather(tree, tiled=True))


def from_main(value):
    """Process 0's `value` (a scalar or array of the same shape everywhere) on every process."""
    if jax.process_count() == 1:
        return value
    return _collective(lambda: np.asarray(multihost_utils.broadcast_one_to_all(value)))


def sync(name: str, timeout: int = BARRIER_TIMEOUT) -> None:
    """Wait until every process reaches this `sync(name)`, up to `timeout` seconds: a barrier of
    JAX's coordination service (through orbax), not a collective of the devices."""
    if jax.process_count() > 1:
        barrier = ocp.multihost.get_barrier_sync_fn()
        barrier(key=f"jaxbidir {name} {next(_barriers)}", timeout_ms=timeout * 1000)


def _collective(fn):
    try:
        return fn()
    except jax.errors.JaxRuntimeError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PeerLost(
            f"process {jax.process_index()} of {jax.process_count()} lost touch with the others "
            f"({first}): most likely another process died; see its log. Start every process "
            f"again with --resume to continue from the last checkpoint"
        ) from error
