"""Seeds sharded across devices give the numbers of seeds vmapped on one device (to float32
rounding: each device compiles for its own batch of seeds).

Run in a subprocess with 4 forced host devices (the flag must be set before JAX starts)."""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import jax
    import numpy as np
    from jaxbidir import config, training
    from jaxbidir.feedback import make_train

    assert jax.device_count() == 4, jax.devices()
    cfg = config.load(None, {"env.num_envs": 4, "student.num_steps": 8, "feedback.hint_every": 8,
                             "run.num_seeds": 4, "run.log_every": 2})
    trainer = make_train(cfg)
    state, sharding = training.init_seeds(trainer, cfg)
    assert sharding is not None
    leaf = jax.tree.leaves(state.params)[0]
    assert len(leaf.sharding.device_set) == 4, leaf.sharding
    sharded, m_sharded = training.make_chunk(trainer, 2, sharding)(state, 0)
    assert len(jax.tree.leaves(sharded.params)[0].sharding.device_set) == 4
    one = jax.device_put(state, jax.devices()[0])
    single, m_single = training.make_chunk(trainer, 2, None)(one, 0)
    for name, value in m_sharded.items():
        np.testing.assert_allclose(value, m_single[name], rtol=1e-4, atol=1e-6, err_msg=name)
    for a, b in zip(jax.tree.leaves(sharded.params), jax.tree.leaves(single.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    print("sharded == single device")
    """
)


def test_seed_axis_sharded_over_four_devices():
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "JAX_PLATFORMS": "cpu",
    }
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "sharded == single device" in proc.stdout
