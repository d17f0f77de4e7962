import os

# Tests run on CPU, quietly; several host devices let sharding tests run on one machine.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
