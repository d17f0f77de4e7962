import os

# Tests run on CPU, quietly; several host devices let sharding tests run on one machine.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# XLA's CPU backend optimizes at LLVM's level 3 by default; at level 1 the tests' programs compile
# ~35% faster and run as fast (a level's generator: 11-13 s -> 7.2-7.6 s to compile, 7 ms -> 6 ms
# to run; the student's learning test 68 s -> 58 s). Float sums may differ in the last bits.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    flags = os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=1"
    os.environ["XLA_FLAGS"] = flags.strip()

import tempfile  # noqa: E402

# Tests compile the same programs more than once (a run, then its resume; the notebook's kernel):
# a per-session persistent compilation cache, shared with subprocesses, compiles each once.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", tempfile.mkdtemp(prefix="jaxbidir-xla-"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "1")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

# `make test` runs the files on parallel workers (pytest-xdist, --dist loadfile), which take
# files in collection order: the longest first, so that none is left to run alone at the end
# (the order measured by `pytest --durations=0` on 2 cores; the others follow as collected)
LONGEST_FIRST = (
    "test_feedback.py",
    "test_student.py",
    "test_llama.py",
    "test_lora.py",
    "test_pretrain.py",
    "test_experiments.py",
    "test_damaged_runs.py",
    "test_channels.py",
    "test_student_model.py",
    "test_glam.py",  # its learning test alone ~5 min (make test-slow)
    "test_executor.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
