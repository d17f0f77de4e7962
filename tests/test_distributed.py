"""One run over two processes (`jaxbidir.distributed`): `jaxbidir train` twice on 127.0.0.1
(JAX's CPU collectives, gloo), each process with two host devices, against one process with four.

- The two-process run writes the one-process run's metrics, evaluations and summary, bit for
  bit (every seed's figures), from process 0 alone.
- A one-process run resumed on two processes (1 -> 2), one of which is killed mid-run: the other
  stops within the heartbeat timeout, with an error, and the run resumes from the checkpoint the
  two wrote on one process (2 -> 1), to the one-process run's metrics.

Minutes on 2 cores (7 to 12 on a shared one): marked `distributed`, left out of `make test`, run by
`make test-distributed`, which CI runs after `make test`. The checks at the end are quick and in
`make test`.

The processes share the suite's persistent compilation cache (conftest.py), as processes of a
cluster may share a cache directory: `jaxbidir.distributed` turns the cache off on several
processes, without which the resumed run hung in its first collective.

Why NPROC=4 in every run: XLA's CPU client sizes its thread pool, and with it how it splits the
loops of a program, as max(cores, devices of the process), which changes float roundings: on a
2-core machine 4 for the process with four devices and 2 for those with two. NPROC, which XLA
reads for its pool size, makes it 4 in all (on 4 cores or more it changes nothing). The seeds
per device are the same in both runs (two), hence the same program on every device.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import pytest
from tiny import TINY

from jaxbidir import distributed, training

OVERRIDES = {
    **TINY,
    "mode": "student_only",
    "run.num_seeds": 8,  # two per device, in both runs
    "run.total_frames": 8 * 16 * 12,  # 12 updates
    "run.checkpoint_every": 2,
    "run.eval_every": 4,
    "run.eval_episodes": 8,
}
HEARTBEAT = 10  # s: how soon the survivor of a killed process must stop (with a margin)
TIMEOUT = 900  # s for one launch


def _env(devices: int) -> dict:
    return {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        "NPROC": "4",  # the same CPU thread pool in every process (module docstring)
    }


def _train(out: Path, processes: int, *flags, wait=True):
    """Start `jaxbidir train` into `out` on `processes` processes with two host devices each
    or, for 1, on one process with four; -> the Popen of each (finished when `wait`). Their
    stdout and stderr are appended to `out`.<i>.out / .err, beside `out` (which holds what
    process 0 writes)."""
    args = [f"{key}={value}" for key, value in OVERRIDES.items()]
    port = _free_port()
    procs = []
    for i in range(processes):
        several = []
        if processes > 1:
            several = ["--coordinator", f"127.0.0.1:{port}", "--num-processes", str(processes),
                       "--process-id", str(i), "--heartbeat-timeout", str(HEARTBEAT)]  # fmt: skip
        command = [sys.executable, "-m", "jaxbidir.cli", "train", "--out", str(out),
                   "--no-progress", *several, *flags, *args]  # fmt: skip
        with _log(out, i, "out", "a") as stdout, _log(out, i, "err", "a") as stderr:
            env = _env(4 if processes == 1 else 2)
            procs.append(subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr))
    if wait:
        for i, proc in enumerate(procs):
            assert proc.wait(timeout=TIMEOUT) == 0, _read_log(out, i, "err")[-3000:]
    return procs


def _log(out: Path, i: int, kind: str, mode: str = "r"):
    return open(out.with_name(f"{out.name}.{i}.{kind}"), mode)


def _read_log(out: Path, i: int, kind: str) -> str:
    with _log(out, i, kind) as f:
        return f.read()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _records(run_dir: Path) -> dict:
    return {
        "metrics": training.read_metrics(run_dir / "metrics.jsonl"),
        "eval": training.read_metrics(run_dir / "eval.jsonl"),
    }


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """One process, four devices, stopped after update 4 as a killed run would: its last
    checkpoint is at update 2."""
    out = tmp_path_factory.mktemp("stopped") / "run"
    script = (
        "import json, sys; from jaxbidir import config, training; "
        "training.run(config.load(None, json.loads(sys.argv[1])), sys.argv[2], progress=False, "
        "stop_after=4)"
    )
    command = [sys.executable, "-c", script, json.dumps(OVERRIDES), str(out)]
    done = subprocess.run(command, env=_env(4), capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["2"]
    return out


@pytest.fixture(scope="module")
def one(stopped, tmp_path_factory):
    """The reference: the stopped run resumed to its end on one process (as a run never stopped,
    tests/test_damaged_runs.py and others)."""
    out = tmp_path_factory.mktemp("one") / "run"
    shutil.copytree(stopped, out)
    _train(out, 1, "--resume")
    return out


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    out = tmp_path_factory.mktemp("two") / "run"
    _train(out, 2)
    return out


@pytest.mark.distributed
def test_two_processes_write_what_one_writes(one, two):
    expected = _records(one)
    assert len(expected["metrics"]) == 12 and len(expected["eval"]) == 4  # updates 0, 4, 8, 12
    assert len(expected["metrics"][-1]["success_rate_per_seed"]) == 8
    assert _records(two) == expected  # every field of every record, every seed's
    assert _summary(two) == _summary(one)
    # process 1 wrote nothing: one TensorBoard file, and no summary on its stdout (where gloo
    # writes lines of its own)
    assert len(list((two / "tb").iterdir())) == 1
    assert "the run is in" not in _read_log(two, 1, "out")
    assert "the run is in" in _read_log(two, 0, "out")
    assert "process 1 of 2: 2 of 4 cpu devices" in _read_log(two, 1, "err")


def _summary(run_dir: Path) -> dict:
    summary = json.loads((run_dir / "summary.json").read_text())
    return {
        k: v for k, v in summary.items() if k not in ("wall_clock_s", "first_chunk_s (compile)")
    }


@pytest.mark.distributed
def test_resumed_on_two_killed_and_resumed_on_one(stopped, one, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(stopped, out)
    # 1 -> 2: the one-process checkpoint at update 2 continued by two processes, one of which
    # is killed once they have written the checkpoint at update 4 (8 updates still to go)
    procs = _train(out, 2, "--resume", wait=False)
    deadline = time.monotonic() + TIMEOUT
    try:
        while not (out / "checkpoints" / "4").is_dir():
            assert all(p.poll() is None for p in procs), _read_log(out, 0, "err")[-3000:]
            assert time.monotonic() < deadline, "no checkpoint 4 within the time limit"
            time.sleep(0.05)
        procs[1].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        procs[0].wait(timeout=TIMEOUT)
        stopped_after = time.monotonic() - killed
    finally:
        for proc in procs:
            proc.kill()
    err = _read_log(out, 0, "err")
    assert procs[0].returncode != 0, err[-3000:]
    assert not (out / "summary.json").exists()
    print(f"the survivor stopped {stopped_after:.1f} s after the kill")
    assert stopped_after < HEARTBEAT + 30, err[-3000:]
    assert ("error: process 0 of 2 lost touch with the others" in err
            or "another task died" in err), err[-3000:]  # fmt: skip
    # 2 -> 1: the checkpoint the two processes wrote, continued by one process with four devices
    _train(out, 1, "--resume")
    assert _records(out) == _records(one)


def test_launch_flags_are_checked_before_jax_starts():
    assert distributed.initialize() is False  # one process: nothing to do
    with pytest.raises(ValueError, match="missing --num-processes, --process-id"):
        distributed.initialize("127.0.0.1:1234")
    with pytest.raises(ValueError, match="--process-id 2 must be in 0..1"):
        distributed.initialize("127.0.0.1:1234", 2, 2)


def test_seeds_must_divide_over_the_devices_of_several_processes(monkeypatch):
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    monkeypatch.setattr(jax, "devices", lambda: [object()] * 4)
    with pytest.raises(ValueError, match="run.num_seeds=6 does not divide over the 4 devices"):
        training.seed_sharding(6)


def test_distributed_auto_without_a_cluster_says_so():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "OMPI_", "PMI_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "jaxbidir.cli", "train", "--distributed", "auto"],
        env={**env, "JAX_PLATFORMS": "cpu"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "error: --distributed auto: JAX found no cluster here" in proc.stderr
