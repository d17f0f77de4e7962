"""The student: a language-conditioned actor-critic (`ActorCritic`) and the PPO pieces that
train it (`ppo`); the training run itself is `jaxbidir.feedback.make_train`."""

from .model import ActorCritic
from .ppo import Rollout

__all__ = ["ActorCritic", "Rollout"]
