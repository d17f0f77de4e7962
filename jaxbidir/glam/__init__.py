"""The Lamorel/GLAM baseline (Carta et al. 2023): a causal LM as the policy, its action strings
scored by summed log-probs after a GLAM prompt, trained with PPO (mode `glam`)."""

from .agent import ValueHead, action_log_probs, fit_lm
from .prompt import ACTIONS, HISTORY, Prompter
from .train import make_train

__all__ = [
    "ACTIONS",
    "HISTORY",
    "Prompter",
    "ValueHead",
    "action_log_probs",
    "fit_lm",
    "make_train",
]
