import os

# Tests run on CPU, quietly; several host devices let sharding tests run on one machine.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tempfile  # noqa: E402

import jax  # noqa: E402

# Tests compile the same programs more than once (a run, then its resume): a per-session
# persistent compilation cache compiles each once.
jax.config.update("jax_compilation_cache_dir", tempfile.mkdtemp(prefix="jaxbidir-xla-"))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
