"""Experiment configs: typed dataclasses in tables, read from TOML files (`configs/`, shipped
inside the package as `jaxbidir.configs`), checked on load.

    mode = "bidirectional"          # what gives the student its hints (MODES)
    [env]       the level and how many environments
    [student]   the student's PPO and network
    [teacher]   the teacher: which LM, how it samples, its optimizer
    [feedback]  the hint schedule and the teacher's update from the student's scores
    [glam]      the GLAM baseline (mode glam)
    [run]       seeds, budget, logging, checkpoints, evaluation

Each field carries its bounds (`field(..., above=0)`), and validation is derived from them, so
an unknown key, a value of the wrong type or out of range is an error that names the key and
says what is allowed. Command-line overrides are dotted `table.key=value` strings
(`student.lr=3e-4`), typed by the field. A key of the old flat configs (`lr`) is an error that
names its new place.
"""

import dataclasses
import tomllib
from importlib import resources
from pathlib import Path


def shipped_configs() -> dict:
    """{name: file} of the configs shipped with the package: the repository's top-level
    `configs/*.toml`, installed as the package data `jaxbidir.configs` (importlib.resources
    files, readable from a wheel as from a checkout)."""
    try:
        folder = resources.files("jaxbidir.configs")
    except ModuleNotFoundError:  # run from a checkout that was never installed
        folder = Path(__file__).resolve().parent.parent / "configs"
    return {f.name.removesuffix(".toml"): f for f in folder.iterdir() if f.name.endswith(".toml")}


# What gives the student its hints (one hint source each, `jaxbidir/feedback/sources.py`):
FEEDBACK_MODES = (
    "student_only",  # no hints
    "teacher_frozen",  # the initial teacher's sampled hints, one way
    "teacher_greedy",  # the initial teacher's most likely hints (temperature 0), one way
    "bidirectional",  # the teacher learns from the student's scores of its hints
    "bidirectional_shuffled",  # control: the same update, scores shuffled among the hints
    "oracle",  # the oracle's subgoal: the upper bound
)
# how a hint reaches the student (feedback/channels.py)
HINT_CHANNELS = ("input", "action_prior", "subgoal_bonus")
MODES = (*FEEDBACK_MODES, "glam")  # glam: the GLAM baseline, ~50x the cost per frame


def field(default, *, above=None, min=None, below=None, max=None, choices=None):
    """A config field with its bounds: > `above`, >= `min`, < `below`, <= `max`, one of
    `choices`."""
    bounds = dict(above=above, min=min, below=below, max=max, choices=choices)
    return dataclasses.field(
        default=default, metadata={k: v for k, v in bounds.items() if v is not None}
    )


def table(cls):
    return dataclasses.field(default_factory=cls)


def check_bounds(config, where: str = "config"):
    """Raise ValueError naming the first field of dataclass `config` outside its bounds."""
    for f in dataclasses.fields(config):
        if allowed := _outside(getattr(config, f.name), f.metadata):
            raise ValueError(
                f"{where}: {f.name} must be {allowed}; got {getattr(config, f.name)!r}"
            )


def _outside(value, bounds) -> str | None:
    """What `value` should be when it is outside `bounds` (`field`'s), else None."""
    if "above" in bounds and not value > bounds["above"]:
        return f"> {bounds['above']}"
    if "min" in bounds and not value >= bounds["min"]:
        return f">= {bounds['min']}"
    if "below" in bounds and not value < bounds["below"]:
        return f"< {bounds['below']}"
    if "max" in bounds and not value <= bounds["max"]:
        return f"<= {bounds['max']}"
    if "choices" in bounds and value not in bounds["choices"]:
        return f"one of {', '.join(map(str, bounds['choices']))}"
    return None


class Checked:
    """Mixin: bounds checked on construction."""

    def __post_init__(self):
        check_bounds(self, f"config [{self.TABLE}]" if hasattr(self, "TABLE") else "config")


@dataclasses.dataclass(frozen=True)
class EnvConfig(Checked):
    TABLE = "env"
    id: str = "BabyAI-GoToRedBallNoDists-v0"  # a level id (envs.registry())
    num_envs: int = field(64, above=0)  # environments per seed
    max_steps: int = field(0, min=0)  # 0: minigrid's time limit for the level


@dataclasses.dataclass(frozen=True)
class StudentConfig(Checked):
    """PPO (PureJaxRL's defaults where BabyAI does not ask otherwise) and the network. Mode glam
    uses the PPO settings here unless [glam] has its own."""

    TABLE = "student"
    num_steps: int = field(64, above=0)  # rollout length per update
    # 2 epochs of 8 minibatches at lr 2e-3: the Adam steps of 4 epochs of 4 at 1e-3 (the schedule
    # before, which the experiments in results/ keep) for half the work per frame, and as few
    # updates to 0.95 on the paper's level (`benchmarks/ppo_schedule.py`, docs/benchmarks.md)
    update_epochs: int = field(2, above=0)
    num_minibatches: int = field(8, above=0)
    lr: float = field(2e-3, above=0)
    anneal_lr: bool = False
    gamma: float = field(0.99, above=0, max=1)
    gae_lambda: float = field(0.95, above=0, max=1)
    clip_eps: float = field(0.2, above=0, max=1)
    ent_coef: float = field(0.01, min=0)
    vf_coef: float = field(0.5, min=0)
    max_grad_norm: float = field(0.5, min=0)
    embed_dim: int = field(16, above=0)  # image cell and word embeddings
    channels: int = field(16, above=0)  # conv channels
    hidden: int = field(64, above=0)  # actor / critic MLP width
    sees_mission: bool = True  # false: the mission is hidden, a hint is the only goal it gets
    hint_film: bool = False  # the hint FiLM-conditions the convolutions too, beside the mission
    # each cell of the view gets its own learned embedding, so that where an object lies (ahead,
    # to the left) survives the max-pool; without it only the padding's edges tell places apart
    cell_embed: bool = False
    # how the convolutions' 7x7 map becomes one vector: a max over the cells (BabyAI's, which
    # forgets where a feature was) or the whole map flattened (MiniGrid PPO agents'; keeps where)
    pool: str = field("max", choices=("max", "flatten"))
    # units of a recurrent core (a GRU over the hint-free view, PureJaxRL's ppo_rnn shape) that
    # carries the episode from step to step; 0: a feed-forward student that sees only the view
    memory: int = field(0, min=0)
    # the scale of the actor's last layer at initialisation (orthogonal): PPO's 0.01 starts from
    # a near-uniform policy, but supervision (imitation, the action prior) then collapses to the
    # most frequent action on most seeds; at 1.0 it reaches the features (docs/channels.md)
    actor_scale: float = field(0.01, above=0)


@dataclasses.dataclass(frozen=True)
class TeacherConfig(Checked):
    TABLE = "teacher"
    path: str = ""  # an HF checkpoint directory or hub id (GPT-2, Llama, Qwen2); "": shipped
    description_length: int = field(64, min=0)  # words of the view in the prompt; 0: its own
    temperature: float = field(1.0, min=0)  # sampling temperature of hints (0: greedy)
    lr: float = field(1e-4, above=0)
    max_grad_norm: float = field(1.0, above=0)  # global-norm clip of its gradient
    batch: int = field(64, min=0)  # hints per teacher update, drawn from those used (0: all)
    # what a learning teacher trains: all its weights (a copy and Adam's moments per seed), or
    # low-rank adapters per seed on one shared, frozen copy of the model (teacher/lora.py)
    update: str = field("full", choices=("full", "lora"))
    lora_rank: int = field(8, above=0)
    lora_targets: str = field("attention,mlp", choices=("attention,mlp", "attention", "mlp"))


@dataclasses.dataclass(frozen=True)
class FeedbackConfig(Checked):
    TABLE = "feedback"
    hint_every: int = field(32, above=0)  # steps between hints (divides num_steps); and on reset
    beta: float = field(0.1, above=0)  # temperature of the reward weights softmax(score / beta)
    weight_clip: float = field(10.0, above=0)  # largest weight of one hint (weights average 1)
    kl_coef: float = field(0.1, min=0)  # lambda: weight of KL(teacher || initial teacher)
    standardize_scores: bool = False  # divide scores by their spread per update: beta in its units
    # student updates per teacher update: a learning teacher learns from the scores of every
    # k-th update only (its cost falls about k-fold; the other updates' scores go unused)
    teacher_every: int = field(1, above=0)
    oracle_corruption: float = field(0.0, min=0, max=1)  # oracle hints made wrong
    # how the oracle's hint is made wrong: one colour or type word swapped ("word"; it may name
    # an object that is not there), or the object named swapped for another one present
    # ("present": following it is plausible, and wrong)
    wrong_hints: str = field("word", choices=("word", "present"))
    # how a hint reaches the student (feedback/channels.py): as text it reads ("input"), and
    # also as the executor's action its loss is pulled toward ("action_prior") or as a bonus
    # once it carries the hint out ("subgoal_bonus"); modes without hints have nothing to carry
    channel: str = field("input", choices=HINT_CHANNELS)
    prior_coef: float = field(10.0, min=0)  # action_prior: the cross-entropy's weight at first,
    prior_floor: float = field(0.1, min=0)  # ... at the end of its linear decay,
    prior_decay: float = field(0.5, above=0, max=1)  # ... which takes this fraction of the run;
    prior_off: float = field(1.0, above=0, max=1)  # from this fraction on it is 0 (1: never)
    prior_in_view: bool = True  # ... only toward an object the student sees (else none)
    # ... toward the executor's one action (its first shortest move, left before right before
    # forward: "first"), or toward any action that starts a shortest path ("shortest")
    prior_labels: str = field("first", choices=("first", "shortest"))
    # the chance at first that a step takes the prior's action instead of the student's, down
    # to 0 over prior_decay (0: the student always acts itself, as in LLM4Teach)
    prior_act: float = field(0.0, min=0, max=1)
    # subgoal_bonus: what carrying out the hint in force earns, once per hint (beside the
    # level's reward, at most 1 for a success)
    bonus: float = field(0.1, min=0)


@dataclasses.dataclass(frozen=True)
class GlamConfig(Checked):
    """The GLAM baseline (mode glam, jaxbidir/glam/): GLAM's own PPO settings where they
    differ from [student]'s."""

    TABLE = "glam"
    lm: str = ""  # the policy LM: an HF checkpoint directory or hub id; "": the shipped teacher
    lr: float = field(1e-6, above=0)
    gae_lambda: float = field(0.99, above=0, max=1)
    update_epochs: int = field(4, above=0)
    minibatch_size: int = field(64, above=0)  # rows per PPO step (divides num_envs * num_steps)
    reward_scale: float = field(20.0, above=0)  # GLAM trains on 20 x the reward
    train_blocks: int = field(0, min=0)  # fine-tune only the last k blocks (and value head); 0: all
    description_length: int = field(40, above=0)  # words of each of the 3 views in the prompt


@dataclasses.dataclass(frozen=True)
class RunConfig(Checked):
    TABLE = "run"
    seed: int = field(0, min=0)
    num_seeds: int = field(1, above=0)  # independent runs side by side (vmapped, sharded)
    # this run's seeds are first_seed .. first_seed + num_seeds - 1 of run.seed's sequence: runs
    # of 8 seeds from 0 and from 8 train the seeds of one 16-seed run (an experiment in groups)
    first_seed: int = field(0, min=0)
    seed_batch: int = field(64, min=0)  # on one device, seeds vmapped together (0: all)
    total_frames: int = field(262_144, above=0)  # environment steps per seed
    log_every: int = field(4, above=0)  # updates per jitted chunk: one metrics line each
    checkpoint_every: int = field(16, above=0)  # updates between checkpoints (x log_every)
    check_finite: bool = True  # stop on a NaN or Inf in losses, gradients or parameters
    eval_every: int = field(16, min=0)  # updates between evaluations on fixed episodes; 0: none
    eval_episodes: int = field(32, above=0)  # the fixed episodes of each evaluation, per seed


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything a training run depends on. The defaults are `make train`'s run: the paper's
    level, small enough to learn in a few minutes on a 2-core CPU."""

    mode: str = field("student_only", choices=MODES)
    env: EnvConfig = table(EnvConfig)
    student: StudentConfig = table(StudentConfig)
    teacher: TeacherConfig = table(TeacherConfig)
    feedback: FeedbackConfig = table(FeedbackConfig)
    glam: GlamConfig = table(GlamConfig)
    run: RunConfig = table(RunConfig)

    @property
    def frames_per_update(self) -> int:
        return self.env.num_envs * self.student.num_steps

    @property
    def num_updates(self) -> int:
        return max(1, self.run.total_frames // self.frames_per_update)

    def __post_init__(self):
        check_bounds(self)
        rows, steps = self.frames_per_update, self.student.num_steps
        if rows % self.student.num_minibatches:
            raise ValueError(
                f"config: env.num_envs * student.num_steps ({rows}) must be divisible by "
                f"student.num_minibatches ({self.student.num_minibatches})"
            )
        if self.student.memory and self.env.num_envs % self.student.num_minibatches:
            raise ValueError(
                f"config: a recurrent student (student.memory) learns from whole sequences, a "
                f"minibatch of environments at a time: env.num_envs ({self.env.num_envs}) must "
                f"be divisible by student.num_minibatches ({self.student.num_minibatches})"
            )
        if self.mode == "glam" and self.student.memory:
            raise ValueError(
                "config: student.memory shapes the student's network; in mode glam the policy "
                "is the language model: leave student.memory at 0"
            )
        if self.mode == "glam" and rows % self.glam.minibatch_size:
            raise ValueError(
                f"config: glam.minibatch_size ({self.glam.minibatch_size}) must divide "
                f"env.num_envs * student.num_steps ({rows})"
            )
        if self.mode != "glam" and steps % self.feedback.hint_every:
            raise ValueError(
                f"config: feedback.hint_every ({self.feedback.hint_every}) must divide "
                f"student.num_steps ({steps}): the hint schedule restarts with every rollout"
            )
        if self.run.checkpoint_every % self.run.log_every:
            raise ValueError(
                f"config: run.checkpoint_every ({self.run.checkpoint_every}) must be a multiple "
                f"of run.log_every ({self.run.log_every})"
            )
        if self.run.eval_every % self.run.log_every:
            raise ValueError(
                f"config: run.eval_every ({self.run.eval_every}) must be a multiple of "
                f"run.log_every ({self.run.log_every}) (0: no evaluation)"
            )
        from jaxbidir import envs

        if self.env.id not in envs.registry():
            envs.make(self.env.id)  # raises with the list of known levels

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def flatten(values: dict, prefix: str = "") -> dict:
    """{"student": {"lr": 1e-3}} -> {"student.lr": 1e-3}."""
    out = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _tables(cls) -> dict:
    """{table name: its dataclass} of the dataclass fields of `cls`."""
    return {f.name: f.type for f in dataclasses.fields(cls) if dataclasses.is_dataclass(f.type)}


def _old_flat_keys(cls) -> dict:
    """{key of the old flat config: its dotted place now}: `name` names the field of the first
    table holding it, `table_name` that of `table` (`teacher_lr` -> `teacher.lr`)."""
    moved = {}
    for name, sub in reversed(_tables(cls).items()):
        for f in dataclasses.fields(sub):
            moved[f.name] = moved[f"{name}_{f.name}"] = f"{name}.{f.name}"
    moved.update(env_id="env.id", teacher="teacher.path")
    return moved


def _typed(kind, name: str, value, source: str):
    """`value` as type `kind` of field `name`, or a clear error."""
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        try:
            if kind is bool:
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                value = text.lower() in ("true", "1")
            elif kind is int:  # "262_144" and "1e6" are ints too
                value = int(text) if text.lstrip("-").replace("_", "").isdigit() else float(text)
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
            else:
                value = kind(text)
        except ValueError:
            raise ValueError(
                f"{source}: {name} must be of type {kind.__name__}, got {value!r}"
            ) from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{source}: {name} must be of type {kind.__name__}, got {value!r}")
    return value


def _set(cls, values: dict, dotted: str, value, source: str):
    """values[table][key] = `value` typed by the field `dotted` of `cls`, or a clear error."""
    *path, name = dotted.strip().split(".")
    where, tree = cls, values
    for part in path:
        tables = _tables(where)
        if part not in tables:
            raise ValueError(f"{source}: unknown table {part!r} in {dotted!r}; tables: "
                             f"{', '.join(_tables(cls)) or 'none (keys are flat)'}")  # fmt: skip
        where, tree = tables[part], tree.setdefault(part, {})
    fields = {f.name: f for f in dataclasses.fields(where)}
    if name not in fields or name in _tables(where):
        if not path and name in (moved := _old_flat_keys(cls)):
            raise ValueError(
                f"{source}: {name!r} is now {moved[name]!r} (configs are in tables: "
                f"[{'] ['.join(_tables(cls))}]); write {moved[name]}=... or put it in "
                f"[{moved[name].split('.')[0]}]"
            )
        known = ", ".join(f.name for f in fields.values())
        raise ValueError(f"{source}: unknown key {dotted!r}; known keys there: {known}")
    tree[name] = _typed(fields[name].type, dotted, value, source)


def _build(cls, values: dict):
    tables = _tables(cls)
    return cls(**{k: _build(tables[k], v) if k in tables else v for k, v in values.items()})


def load(path: str | Path | None = None, overrides: list[str] | dict | None = None, cls=Config):
    """The config in TOML file `path` (a name in `configs/` works too; None: the defaults) with
    `overrides` applied (`["student.lr=3e-4", ...]` or a dict of dotted keys). `cls`: the
    config dataclass (`Config`, or another one, such as the teacher's pretraining config)."""
    values = {}
    if path is not None:
        file, shipped = Path(path), shipped_configs()
        if not file.exists() and str(path) in shipped:
            file = shipped[str(path)]
        if not file.is_file():
            known = ", ".join(sorted(shipped))
            raise FileNotFoundError(f"no config file {str(path)!r}; the shipped ones: {known}")
        try:
            content = tomllib.loads(file.read_text())
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{file} is not valid TOML: {error}") from None
        for key, value in flatten(content).items():
            _set(cls, values, key, value, str(file))
    if isinstance(overrides, dict):
        overrides = [f"{k}={v}" for k, v in overrides.items()]
    for item in overrides or []:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not key=value (e.g. student.lr=3e-4)")
        name, value = item.split("=", 1)
        _set(cls, values, name, value, "override")
    return _build(cls, values)


def from_dict(values: dict, cls=Config):
    """The config saved as `config.to_dict()` (a run's `config.json`, a checkpoint's)."""
    out = {}
    for key, value in flatten(values).items():
        _set(cls, out, key, value, "saved config")
    return _build(cls, out)


def replace(config, **dotted):
    """`config` with fields changed by dotted name: replace(c, **{"run.num_seeds": 4})."""
    return from_dict({**flatten(config.to_dict()), **dotted}, type(config))
