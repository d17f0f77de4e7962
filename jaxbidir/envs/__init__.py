"""BabyAI levels in JAX: `make(env_id)`, `registry()`, `from_minigrid(gym_env)`; what the agent
sees in words (`describe`), what an expert would do next (`subgoal`), and `render`."""

from .constants import ACTION_NAMES, NUM_ACTIONS
from .description import DESCRIPTION_LENGTH, describe, describe_view
from .environment import Environment, make, registry
from .language import VOCAB, VOCAB_SIZE, decode, encode
from .minigrid_bridge import from_minigrid
from .oracle import HINT_LENGTH, subgoal
from .rendering import render
from .state import Instruction, Observation, State, StepType, Timestep

__all__ = [
    "ACTION_NAMES",
    "DESCRIPTION_LENGTH",
    "HINT_LENGTH",
    "NUM_ACTIONS",
    "Environment",
    "Instruction",
    "Observation",
    "State",
    "StepType",
    "Timestep",
    "VOCAB",
    "VOCAB_SIZE",
    "decode",
    "describe",
    "describe_view",
    "encode",
    "from_minigrid",
    "make",
    "registry",
    "render",
    "subgoal",
]
