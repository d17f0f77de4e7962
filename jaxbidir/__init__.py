"""jaxbidir: a language-model teacher and a PPO student improving each other in BabyAI, in JAX."""

__version__ = "0.1.0"
