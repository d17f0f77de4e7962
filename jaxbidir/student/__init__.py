"""The student: a language-conditioned actor-critic (`ActorCritic`) trained with PPO
(`make_train`, PureJaxRL-style: one pure, jittable, vmappable `train(key)`)."""

from .model import ActorCritic
from .ppo import Rollout, RunnerState, Trainer, make_train

__all__ = ["ActorCritic", "Rollout", "RunnerState", "Trainer", "make_train"]
