"""BabyAI levels in JAX: `make(env_id)`, `registry()`, `from_minigrid(gym_env)`."""

from .constants import ACTION_NAMES, NUM_ACTIONS
from .environment import Environment, make, registry
from .language import VOCAB, VOCAB_SIZE, decode, encode
from .minigrid_bridge import from_minigrid
from .state import Instruction, Observation, State, StepType, Timestep

__all__ = [
    "ACTION_NAMES",
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
    "encode",
    "from_minigrid",
    "make",
    "registry",
]
