"""`jaxbidir` command line.

    jaxbidir train [--config NAME_OR_FILE] [--out DIR] [--resume] [key=value ...]
    jaxbidir train ... --coordinator HOST:PORT --num-processes N --process-id I  (one per host)
    jaxbidir train ... --distributed auto  (TPU pod slice, SLURM: JAX finds the cluster)
    jaxbidir evaluate --checkpoint DIR [--env ID] [--episodes N] [--gym] [--greedy] [--no-hints]
    jaxbidir pretrain-teacher [--from DIR_OR_HUB_ID] [--out DIR] [--overwrite] [key=value ...]
    jaxbidir export-teacher --checkpoint DIR [--seed-index I] --out DIR
    jaxbidir curves [--config NAME_OR_FILE] [--seeds N] [--modes a,b] [--out DIR] [key=value ...]
    jaxbidir curves --redraw results/EXPERIMENT/table.json
    jaxbidir reproduce NAME | --list

`train` with no config trains the embedded default (the paper's level, a few minutes on a
2-core CPU); `configs/` holds one file per experiment; `table.key=value` overrides any field
(`student.lr=3e-4`, `run.num_seeds=8`, `mode=oracle`). `train` alone runs on several processes
(`jaxbidir.distributed`); `evaluate` and `curves` run on one.

The commands that compile keep JAX's compiled programs in a persistent cache, so that the same
command run again does not compile again: `~/.cache/jaxbidir/jax` (`$XDG_CACHE_HOME` honoured),
or `$JAX_COMPILATION_CACHE_DIR` when set, or `$JAXBIDIR_CACHE`; `JAXBIDIR_CACHE=off` turns it off.
"""

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

from jaxbidir.config import FEEDBACK_MODES, MODES


def _add_several_processes(train: argparse.ArgumentParser) -> None:
    """`train`'s flags for one run over several processes (`jaxbidir.distributed`)."""
    several = train.add_argument_group(
        "several processes", "one run over several hosts; start the same command on each"
    )
    several.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address")
    several.add_argument("--num-processes", type=int, metavar="N", help="processes in all")
    several.add_argument("--process-id", type=int, metavar="I", help="this one's, 0..N-1")
    several.add_argument(
        "--distributed", choices=["auto"],
        help="auto: JAX finds the cluster itself (TPU pod slice, SLURM)",
    )  # fmt: skip
    several.add_argument(
        "--heartbeat-timeout", type=int, default=100, metavar="S",
        help="when a process dies, the others stop within S seconds (default %(default)s)",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxbidir", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train the student (PPO)")
    train.add_argument("--config", help="a file, or a name in configs/ (default: embedded)")
    train.add_argument(
        "--out", help="run directory (default: a new runs/<date>-<time>, and runs/latest "
        "pointing at it; with --resume, the run runs/latest points at)",
    )  # fmt: skip
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    train.add_argument("--no-progress", action="store_true")
    _add_several_processes(train)
    train.add_argument("overrides", nargs="*", metavar="table.key=value")

    ev = sub.add_parser("evaluate", help="success rate of a trained run (one process)")
    ev.add_argument("--checkpoint", required=True, help="a run directory")
    ev.add_argument("--env", help="level id (default: the one it trained on)")
    ev.add_argument("--episodes", type=int, default=256)
    ev.add_argument("--gym", action="store_true", help="on the real minigrid (gymnasium)")
    ev.add_argument("--greedy", action="store_true", help="argmax actions instead of sampling")
    ev.add_argument("--seed-index", type=int, default=0, help="which of the run's seeds")
    ev.add_argument(
        "--no-hints", action="store_true",
        help="the student alone (default: with the hints of the mode it trained in)",
    )  # fmt: skip

    pre = sub.add_parser("pretrain-teacher", help="build the default teacher (oracle corpus)")
    pre.add_argument("--out", default="runs/teacher", help="where to save it (HF format)")
    pre.add_argument(
        "--from", dest="start_from", default="", metavar="DIR_OR_HUB_ID",
        help="fine-tune this pretrained LM (GPT-2, Llama or Qwen2 family) instead of training "
        "a tiny GPT-2 from scratch",
    )  # fmt: skip
    pre.add_argument("--overwrite", action="store_true", help="replace a teacher already there")
    pre.add_argument("--no-progress", action="store_true")
    pre.add_argument("overrides", nargs="*", metavar="key=value")

    exp = sub.add_parser("export-teacher", help="a run's learnt teacher as an HF checkpoint")
    exp.add_argument("--checkpoint", required=True, help="a run directory")
    exp.add_argument("--seed-index", type=int, default=0, help="which of the run's seeds")
    exp.add_argument("--out", required=True, help="where to write it (replaced atomically)")

    cur = sub.add_parser(
        "curves", help="every mode on the same seeds: figure and table (one process)"
    )
    cur.add_argument("--config", help="a file, or a name in configs/ (default: embedded)")
    cur.add_argument("--seeds", type=int, default=32, help="seeds per mode (vmapped)")
    cur.add_argument(
        "--modes",
        default=",".join(FEEDBACK_MODES),
        help=f"comma-separated, among {', '.join(MODES)} (default: all but glam, ~50x slower)",
    )
    cur.add_argument("--out", default="runs/curves", help="directory for runs, figure, table")
    cur.add_argument("--threshold", type=float, default=0.9, help="success rate to reach")
    cur.add_argument(
        "--redraw", metavar="TABLE_JSON", help="figure and table again from a table.json"
    )
    cur.add_argument("--no-progress", action="store_true")
    cur.add_argument("overrides", nargs="*", metavar="table.key=value")

    rep = sub.add_parser("reproduce", help="one of the project's experiments, into results/")
    rep.add_argument("name", nargs="?", help="the experiment (--list shows them)")
    rep.add_argument("--list", action="store_true", help="the experiments and their questions")
    rep.add_argument("--runs", default="runs/reproduce", help="where the arms train")
    rep.add_argument("--results", default="results", help="where the records go")
    rep.add_argument("--no-progress", action="store_true")

    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.command_line = shlex.join(["jaxbidir", *(argv if argv is not None else sys.argv[1:])])
    if args.command in COMPILING:
        use_compilation_cache()
    try:
        return COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def do_train(args) -> int:
    from jaxbidir import config, distributed

    distributed.initialize(
        args.coordinator, args.num_processes, args.process_id,
        args.distributed == "auto", args.heartbeat_timeout,
    )  # fmt: skip
    from jaxbidir import training  # after: importing it starts JAX's backend

    cfg = config.load(args.config, args.overrides)
    out = run_directory(args.out, args.resume, several=distributed.is_several())
    try:
        summary = training.run(cfg, out, resume=args.resume, progress=not args.no_progress)
    except distributed.PeerLost as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    if distributed.is_main():  # the others' logs hold only what went wrong
        print(train_report(summary, out))
    return 0


def do_evaluate(args) -> int:
    from jaxbidir.evaluate import evaluate

    result = evaluate(
        args.checkpoint, args.env, args.episodes, args.gym, args.greedy, args.seed_index,
        hints=not args.no_hints,
    )  # fmt: skip
    print(json.dumps(result, indent=2))
    return 0


def do_pretrain_teacher(args) -> int:
    from jaxbidir import config
    from jaxbidir.teacher import pretrain

    cfg = config.load(None, args.overrides, cls=pretrain.PretrainConfig)
    if Path(args.out).exists() and not args.overwrite:
        raise FileExistsError(f"{args.out} exists; pass --overwrite to replace it")
    report = pretrain.pretrain(
        cfg, args.out, progress=not args.no_progress, start_from=args.start_from
    )
    print(json.dumps(report, indent=2))
    print(f"teacher saved in {args.out}")
    return 0


def do_export_teacher(args) -> int:
    from jaxbidir.export import export_teacher

    note = export_teacher(args.checkpoint, args.out, args.seed_index)
    print(json.dumps(note, indent=2))
    print(f"teacher saved in {args.out}")
    return 0


def do_curves(args) -> int:
    from jaxbidir import config, curves

    if args.redraw:
        print(curves.markdown(curves.redraw(args.redraw)), end="")
        print(f"figure and table saved beside {args.redraw}")
        return 0
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise ValueError(f"--modes: unknown {unknown}; choose among {', '.join(MODES)}")
    cfg = config.load(args.config, args.overrides)
    table = curves.run(cfg, args.seeds, args.out, modes, not args.no_progress, args.threshold,
                       args.command_line)  # fmt: skip
    print(curves.markdown(table), end="")
    print(f"saved in {args.out}: table.json (per seed), table.md, curves.png, curves.pdf")
    return 0


def do_reproduce(args) -> int:
    from jaxbidir import curves, experiments

    if args.list or not args.name:
        for name, exp in experiments.EXPERIMENTS.items():
            print(f"{name}: {exp.question} ({exp.seeds} seeds, {len(exp.arms)} arms; "
                  f"{exp.wall_time})")  # fmt: skip
        return 0
    table = experiments.reproduce(args.name, args.runs, args.results, not args.no_progress)
    print(curves.markdown(table), end="")
    print(f"saved in {args.results}/{args.name}: table.json, table.md, curves.png")
    return 0


# the commands whose programs are worth keeping from one run to the next
COMPILING = ("train", "evaluate", "pretrain-teacher", "curves", "reproduce")
CACHE_OFF = ("off", "0", "false", "no", "none")
# JAX keeps a program only if it took this long to compile: here all of them (`make train`'s
# 193 programs, 2.6 MB); at JAX's default, 1 s, only its 4 largest, the others compiled again
# on every run (docs/benchmarks.md#student-training)
CACHE_MIN_COMPILE_S = 0.0


def compilation_cache_dir(environ=os.environ) -> str | None:
    """The folder of JAX's persistent compilation cache for the commands that compile; None:
    off. `$JAXBIDIR_CACHE` set to `off` (or 0, false, no, none) turns it off; else JAX's own
    `$JAX_COMPILATION_CACHE_DIR` when set (JAX read it already); else `$JAXBIDIR_CACHE`; else
    `~/.cache/jaxbidir/jax` (under `$XDG_CACHE_HOME` when set)."""
    ours = environ.get("JAXBIDIR_CACHE", "").strip()
    if ours.lower() in CACHE_OFF:
        return None
    if environ.get("JAX_COMPILATION_CACHE_DIR"):
        return environ["JAX_COMPILATION_CACHE_DIR"]
    if ours:
        return str(Path(ours).expanduser())
    home = environ.get("XDG_CACHE_HOME") or Path("~/.cache").expanduser()
    return str(Path(home) / "jaxbidir" / "jax")


def use_compilation_cache(environ=os.environ) -> str | None:
    """Point JAX's persistent compilation cache at `compilation_cache_dir` (or turn it off),
    before anything is compiled -> the folder, or None. A minimum compile time set in
    `$JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS` is left as it is (the tests set theirs).
    Several processes turn the cache off again (`jaxbidir.distributed`: it hung them)."""
    import jax

    folder = compilation_cache_dir(environ)
    if folder is None:
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    jax.config.update("jax_compilation_cache_dir", folder)
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", CACHE_MIN_COMPILE_S)
    return folder


COMMANDS = {
    "train": do_train,
    "evaluate": do_evaluate,
    "pretrain-teacher": do_pretrain_teacher,
    "export-teacher": do_export_teacher,
    "curves": do_curves,
    "reproduce": do_reproduce,
}


def run_directory(out: str | None, resume: bool, several: bool = False, runs="runs") -> Path:
    """Where `train` writes: `--out` when given; else, with `resume`, the run `runs/latest`
    points at; else a new `runs/<date>-<time>`, with `runs/latest` pointed at it, so that
    running the same command again starts a new run and overwrites nothing."""
    if out:
        return Path(out)
    if several:
        raise ValueError("a run over several processes needs --out, a directory all of them see")
    latest = Path(runs) / "latest"
    if resume:
        if not latest.exists():
            raise ValueError(f"--resume: no {latest} to continue; name the run with --out DIR")
        return latest.resolve()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    new, again = Path(runs) / stamp, 1
    while new.exists():  # two runs started in the same second
        again += 1
        new = Path(runs) / f"{stamp}-{again}"
    new.mkdir(parents=True)
    if latest.is_symlink() or not latest.exists():  # a directory of an older version stays
        link = latest.with_name(f".latest-{os.getpid()}")
        link.symlink_to(new.name)
        os.replace(link, latest)
    return new


def train_report(summary: dict, out: Path) -> str:
    """A few lines a person reads at the end of `train` (the figures are in summary.json)."""
    lines = [
        f"{summary['env_id']}, mode {summary['mode']}, {summary['num_seeds']} seed(s): "
        f"{summary['frames_per_seed']:,} frames per seed in {summary['wall_clock_s']:.0f} s "
        f"({summary['first_chunk_s (compile)']:.0f} s of it the first chunk, compiling unless "
        f"cached)"
    ]
    if evaluation := summary["final_evaluation"]:
        lines.append(
            f"on {summary['eval_episodes']} fixed episodes per seed: success "
            f"{evaluation['eval_success']:.3f} (greedy {evaluation['eval_success_greedy']:.3f}), "
            f"return {evaluation['eval_return']:.3f}"
        )
    quoted = shlex.quote(str(out))
    lines += [
        f"the run is in {out}: summary.json, metrics.jsonl, eval.jsonl, checkpoints/",
        f"next: jaxbidir evaluate --checkpoint {quoted}    tensorboard --logdir {quoted}/tb",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
