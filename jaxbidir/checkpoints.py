"""Checkpoints of a run, written by orbax: every seed's `RunnerState` with the run's config,
in `<run>/checkpoints/<update>/`, written atomically (orbax writes into a temporary directory
and renames it when complete).

    checkpoint_manager(out_dir) -> ocp.CheckpointManager   keeps the last two
    save(manager, state, config)                           at the update the state has done
    restore(manager, abstract_state, step=None) -> (state, config dict)
    restore_newest_good(manager, abstract_state, set_aside=False) -> (state, config dict, step)
    saved_config(manager, step=None) -> config dict        without the state
    load_seed(run_dir, seed_index) -> (trainer, one seed's RunnerState)

A checkpoint damaged on disk is reported in one line and skipped for the one before it
(`restore_newest_good`); the hundreds of tracebacks orbax's abandoned reads print after it are
dropped (`_drop_reports_of_abandoned_reads`).
"""

import logging
import sys
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxbidir import distributed
from jaxbidir.config import Config, from_dict


def updates_done(state) -> int:
    """The updates every seed has done, read from this process's first shard of the seeds."""
    return int(np.asarray(state.updates_done.addressable_data(0)).ravel()[0])


def checkpoint_manager(out_dir: Path) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(max_to_keep=2, create=True)
    return ocp.CheckpointManager((out_dir / "checkpoints").resolve(), options=options)


def save(manager, state, config: Config):
    """Atomic: orbax writes into a temporary directory and renames it when complete."""
    update = updates_done(state)
    manager.save(
        update,
        args=ocp.args.Composite(
            state=ocp.args.StandardSave(state), config=ocp.args.JsonSave(config.to_dict())
        ),
    )
    manager.wait_until_finished()


def saved_config(manager, step=None) -> dict:
    """The config saved with checkpoint `step`, without the state. By default that of the newest
    checkpoint whose config reads: one whose config is damaged is skipped silently here, and
    reported by `restore_newest_good`, which reads it again with the state."""
    if step is not None:
        return _restore_config(manager, step)
    return _newest_readable(manager, lambda step: _restore_config(manager, step))[1]


def _restore_config(manager, step) -> dict:
    return manager.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore())).config


def restore(manager, abstract_state, step=None):
    """(state, saved config dict) of checkpoint `step` (default: the latest)."""
    step = manager.latest_step() if step is None else step
    out = manager.restore(
        step,
        args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state), config=ocp.args.JsonRestore()
        ),
    )
    return out.state, out.config


def _newest_readable(manager, read):
    """(step, read(step), [(damaged step, reason), ...]) of the newest checkpoint that `read`
    reads, trying the steps newest first. Raises FileNotFoundError when there is no checkpoint,
    ValueError when none reads."""
    damaged = []
    for step in sorted(manager.all_steps(), reverse=True):
        try:
            return step, read(step), damaged
        except Exception as error:  # orbax, tensorstore and json raise all kinds
            damaged.append(_damaged(manager, step, error))
    directory = Path(str(manager.directory))
    if not damaged:
        raise FileNotFoundError(f"no checkpoint in {directory}")
    found = "; ".join(f"checkpoint {step} ({reason})" for step, reason in damaged)
    raise ValueError(f"no checkpoint in {directory} restores, all are damaged: {found}")


def restore_newest_good(manager, abstract_state, set_aside: bool = False):
    """(state, saved config dict, step) of the newest checkpoint that restores.

    Orbax writes a checkpoint atomically, but a disk can still damage it afterwards (a file cut
    by a full disk or a copy, a file lost, garbage in a metadata file), and orbax then fails with
    pages of TensorStore errors. Here each checkpoint that fails to restore, newest first, is
    skipped for the one before it and reported in one line on stderr. It is never deleted: with
    `set_aside` (a run about to save checkpoints again) its directory is renamed
    `<step>.damaged`, which orbax does not take for a step, so that neither its `max_to_keep`
    clean-up deletes it nor a new save of that step collides with it.
    Raises FileNotFoundError when there is no checkpoint, ValueError when none restores."""
    step, (state, config), damaged = _newest_readable(
        manager, lambda step: restore(manager, abstract_state, step)
    )
    for bad, reason in damaged:
        where = _step_dir(manager, bad)
        if not set_aside:
            kept = "left in place"
        elif distributed.is_main():  # on several processes, the others wait for it (`sync`)
            kept = f"moved aside to {_set_aside(where)}"
        else:
            kept = "moved aside by process 0"
        print(
            f"warning: checkpoint {bad} in {where} is damaged ({reason}); {kept}; "
            f"using checkpoint {step}, the newest good one",
            file=sys.stderr,
            flush=True,
        )
    if set_aside and damaged:
        distributed.sync("damaged checkpoints set aside")
        manager.reload()  # forget the steps set aside
    return state, config, step


def _step_dir(manager, step) -> Path:
    return Path(str(manager.directory)) / str(step)


def _damaged(manager, step, error: BaseException) -> tuple[int, str]:
    """(step, why it failed to restore in one short line: the first line of the error's root
    cause, TensorStore's own message, without the checkpoint's directory). The reports that the
    reads orbax abandoned make later are dropped (`_drop_reports_of_abandoned_reads`)."""
    where = f"{_step_dir(manager, step)}/"
    _ABANDONED_READS.add(where)
    if len(_ABANDONED_READS) == 1:
        _drop_reports_of_abandoned_reads()
    while error.__cause__ is not None:
        error = error.__cause__
    first = next((line for line in str(error).splitlines() if line.strip()), "")
    first = first.replace(where, "")
    if len(first) > 200:
        first = first[:200] + "..."
    return step, f"{type(error).__name__}: {first}" if first else type(error).__name__


_ABANDONED_READS = set()  # directories of checkpoints that failed to restore, with a "/"


def _drop_reports_of_abandoned_reads():
    """Orbax reads a checkpoint's arrays concurrently, in an event loop of its own that it closes
    at the first read that fails. Each read still in flight then reports, as it ends, "Event
    loop is closed" (an unraisable exception in a TensorStore thread), or its error when its
    coroutine or future is collected (an unraisable exception, or asyncio's "exception was never
    retrieved" log): hundreds of tracebacks, at any time later, repeating the line that reported
    the damaged checkpoint. From the first failure on, this process drops those reports; any
    other passes."""
    previous = sys.unraisablehook

    def about_abandoned(text: str) -> bool:
        return any(where in text for where in _ABANDONED_READS)

    def hook(unraisable):
        error, tb = unraisable.exc_value, unraisable.exc_traceback
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        closed_loop = (
            isinstance(error, RuntimeError)
            and str(error) == "Event loop is closed"
            and tb is not None
            and tb.tb_frame.f_code.co_name == "_check_closed"
        )
        if not (closed_loop or about_abandoned(str(error))):
            previous(unraisable)

    def keep(record: logging.LogRecord) -> bool:
        text = record.getMessage() + (str(record.exc_info[1]) if record.exc_info else "")
        return not about_abandoned(text)

    sys.unraisablehook = hook
    logging.getLogger("asyncio").addFilter(keep)


def _set_aside(path: Path) -> Path:
    """Rename a damaged step directory `<step>.damaged` (`.damaged-2`, ... when taken)."""
    aside, n = path.with_name(f"{path.name}.damaged"), 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.damaged-{n}")
    path.rename(aside)
    return aside


def load_seed(checkpoint_dir, seed_index: int = 0):
    """(trainer, the RunnerState of one seed) from a run directory (or its `checkpoints/`): of
    its newest checkpoint that restores; one damaged on disk is named in a warning and left in
    place."""
    run_dir = Path(checkpoint_dir)
    if run_dir.name == "checkpoints":
        run_dir = run_dir.parent
    # the directory is checked first: the manager would create it
    manager = checkpoint_manager(run_dir) if (run_dir / "checkpoints").is_dir() else None
    if manager is None or manager.latest_step() is None:
        raise FileNotFoundError(f"no checkpoint under {run_dir / 'checkpoints'}")
    from jaxbidir.training import init_seeds, make_train  # here: training imports this module

    config = from_dict(saved_config(manager))
    if not 0 <= seed_index < config.run.num_seeds:
        raise ValueError(
            f"seed_index {seed_index} out of range: the run has {config.run.num_seeds} seeds"
        )
    trainer = make_train(config)
    state, _, _ = restore_newest_good(manager, init_seeds(trainer, config)[0])
    return trainer, jax.tree.map(lambda x: x[seed_index], state)
