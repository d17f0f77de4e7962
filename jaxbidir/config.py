"""Experiment configs: one typed dataclass, read from TOML files (`configs/`, shipped inside the
package as `jaxbidir.configs`), checked on load.

An unknown key, a value of the wrong type or out of range is an error that names the key and
says what is allowed. Command-line overrides are `key=value` strings, typed by the field.
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


FEEDBACK_MODES = ("student_only", "teacher_frozen", "bidirectional", "oracle")
MODES = (*FEEDBACK_MODES, "glam")  # glam: the GLAM baseline, ~50x the cost per frame


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything a training run depends on. The defaults are `make train`'s run: the paper's
    level, small enough to learn in a few minutes on a 2-core CPU."""

    # environment
    env_id: str = "BabyAI-GoToRedBallNoDists-v0"
    num_envs: int = 64  # environments per seed
    max_steps: int = 0  # 0: minigrid's time limit for the level
    # run
    seed: int = 0
    num_seeds: int = 1  # independent runs side by side (vmapped, sharded across devices)
    seed_batch: int = 64  # on one device, seeds vmapped together (0: all); groups run in turn
    total_frames: int = 262_144  # environment steps per seed
    log_every: int = 4  # updates per jitted chunk: one metrics line and progress tick each
    checkpoint_every: int = 16  # updates between checkpoints (a multiple of log_every)
    check_finite: bool = True  # stop on a NaN or Inf in losses, gradients or parameters
    # PPO (PureJaxRL's defaults where BabyAI does not ask otherwise)
    num_steps: int = 64  # rollout length per update
    update_epochs: int = 4
    num_minibatches: int = 4
    lr: float = 1e-3
    anneal_lr: bool = False
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    # student network
    embed_dim: int = 16  # image cell and word embeddings
    channels: int = 16  # conv channels
    hidden: int = 64  # actor / critic MLP width
    # feedback between teacher and student (jaxbidir/feedback/)
    mode: str = "student_only"  # student_only | teacher_frozen | bidirectional | oracle | glam
    hint_every: int = 32  # steps between hints (a divisor of num_steps); also asked on reset
    teacher: str = ""  # a GPT-2-family checkpoint directory (HF format); "": the shipped one
    description_length: int = 64  # words of the view in the prompt; 0: the teacher's own
    teacher_temperature: float = 1.0  # sampling temperature of hints (0: greedy)
    teacher_lr: float = 1e-4
    teacher_batch: int = 64  # hints per teacher update, drawn from those used (0: all)
    beta: float = 0.1  # temperature of the reward weights softmax(score / beta)
    weight_clip: float = 10.0  # largest weight of one hint (weights average 1)
    kl_coef: float = 0.1  # lambda: weight of KL(teacher || initial teacher) per token
    # the GLAM baseline, mode glam (jaxbidir/glam/): GLAM's own PPO settings where they differ
    glam_lm: str = ""  # the policy LM, a GPT-2-family checkpoint directory; "": the shipped teacher
    glam_lr: float = 1e-6
    glam_gae_lambda: float = 0.99
    glam_minibatch_size: int = 64  # rows per PPO step (a divisor of num_envs * num_steps)
    glam_reward_scale: float = 20.0  # GLAM trains on 20 x the reward
    glam_train_blocks: int = 0  # fine-tune only the last k blocks (and the value head); 0: all
    glam_description_length: int = 40  # words of each of the 3 views in the prompt

    @property
    def frames_per_update(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def num_updates(self) -> int:
        return max(1, self.total_frames // self.frames_per_update)

    def __post_init__(self):
        positive = [
            "num_envs", "num_seeds", "total_frames", "log_every", "checkpoint_every",
            "num_steps", "update_epochs", "num_minibatches", "lr", "embed_dim", "channels",
            "hidden", "hint_every", "teacher_lr", "beta", "weight_clip", "glam_lr",
            "glam_minibatch_size", "glam_reward_scale", "glam_description_length",
        ]  # fmt: skip
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"config: {name} must be > 0, got {getattr(self, name)!r}")
        for name in ["gamma", "gae_lambda", "clip_eps", "glam_gae_lambda"]:
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"config: {name} must be in (0, 1], got {getattr(self, name)!r}")
        for name in [
            "ent_coef", "vf_coef", "max_grad_norm", "max_steps", "seed", "seed_batch",
            "description_length", "teacher_temperature", "teacher_batch", "kl_coef",
            "glam_train_blocks",
        ]:  # fmt: skip
            if getattr(self, name) < 0:
                raise ValueError(f"config: {name} must be >= 0, got {getattr(self, name)!r}")
        if (self.num_envs * self.num_steps) % self.num_minibatches:
            raise ValueError(
                f"config: num_envs * num_steps ({self.num_envs * self.num_steps}) must be "
                f"divisible by num_minibatches ({self.num_minibatches})"
            )
        if self.mode not in MODES:
            raise ValueError(f"config: mode must be one of {', '.join(MODES)}; got {self.mode!r}")
        if self.mode == "glam" and (self.num_envs * self.num_steps) % self.glam_minibatch_size:
            raise ValueError(
                f"config: glam_minibatch_size ({self.glam_minibatch_size}) must divide num_envs "
                f"* num_steps ({self.num_envs * self.num_steps})"
            )
        if self.mode != "glam" and self.num_steps % self.hint_every:
            raise ValueError(
                f"config: hint_every ({self.hint_every}) must divide num_steps ({self.num_steps}):"
                f" the hint schedule is static and restarts with every rollout"
            )
        if self.checkpoint_every % self.log_every:
            raise ValueError(
                f"config: checkpoint_every ({self.checkpoint_every}) must be a multiple of "
                f"log_every ({self.log_every})"
            )
        from jaxbidir import envs

        if self.env_id not in envs.registry():
            envs.make(self.env_id)  # raises with the list of known levels

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _typed(cls, name: str, value, source: str):
    """`value` as the type of field `name` of dataclass `cls`, or a clear error."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if name not in fields:
        raise ValueError(f"{source}: unknown key {name!r}; known keys: {', '.join(fields)}")
    kind = fields[name].type
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


def load(path: str | Path | None = None, overrides: list[str] | dict | None = None, cls=Config):
    """The config in TOML file `path` (a name in `configs/` works too; None: the defaults) with
    `overrides` applied (`["lr=3e-4", ...]` or a dict). `cls`: the config dataclass (`Config`,
    or another one, such as the teacher's pretraining config)."""
    values = {}
    if path is not None:
        file, shipped = Path(path), shipped_configs()
        if not file.exists() and str(path) in shipped:
            file = shipped[str(path)]
        if not file.is_file():
            known = ", ".join(sorted(shipped))
            raise FileNotFoundError(f"no config file {str(path)!r}; the shipped ones: {known}")
        try:
            table = tomllib.loads(file.read_text())
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{file} is not valid TOML: {error}") from None
        values = {k: _typed(cls, k, v, str(file)) for k, v in table.items()}
    if isinstance(overrides, dict):
        overrides = [f"{k}={v}" for k, v in overrides.items()]
    for item in overrides or []:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not key=value (e.g. lr=3e-4)")
        name, value = item.split("=", 1)
        values[name.strip()] = _typed(cls, name.strip(), value, "override")
    return cls(**values)
