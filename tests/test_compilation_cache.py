"""The commands' persistent compilation cache (`jaxbidir.cli.use_compilation_cache`): where it
goes, what overrides it, how it is turned off; nothing compiled."""

import jax
import pytest

from jaxbidir import cli

SETTINGS = (
    "jax_compilation_cache_dir",
    "jax_enable_compilation_cache",
    "jax_persistent_cache_min_compile_time_secs",
)


@pytest.fixture
def jax_settings():
    """JAX's cache settings as they were before the test, set back after it (the tests of this
    process share conftest's cache)."""
    before = {name: getattr(jax.config, name) for name in SETTINGS}
    yield
    for name, value in before.items():
        jax.config.update(name, value)


def test_where_the_cache_goes():
    folder = cli.compilation_cache_dir
    assert folder({"XDG_CACHE_HOME": "/c"}) == "/c/jaxbidir/jax"
    assert folder({}).endswith("/.cache/jaxbidir/jax")
    assert folder({"JAXBIDIR_CACHE": "/ours"}) == "/ours"
    assert folder({"JAXBIDIR_CACHE": "/ours", "JAX_COMPILATION_CACHE_DIR": "/jax"}) == "/jax"
    for off in ("off", "OFF", "0", "false", "none"):
        assert folder({"JAXBIDIR_CACHE": off, "JAX_COMPILATION_CACHE_DIR": "/jax"}) is None


def test_the_commands_set_jax_s_cache_or_turn_it_off(tmp_path, jax_settings):
    assert cli.use_compilation_cache({"JAXBIDIR_CACHE": str(tmp_path)}) == str(tmp_path)
    assert jax.config.jax_compilation_cache_dir == str(tmp_path)
    assert jax.config.jax_persistent_cache_min_compile_time_secs == cli.CACHE_MIN_COMPILE_S
    # a minimum compile time of the environment's (conftest's) is left as it is
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 7.0)
    given = {"JAXBIDIR_CACHE": str(tmp_path), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "7"}
    cli.use_compilation_cache(given)
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 7.0
    assert cli.use_compilation_cache({"JAXBIDIR_CACHE": "off"}) is None
    assert jax.config.jax_enable_compilation_cache is False


def test_a_command_that_compiles_sets_the_cache_first(tmp_path, monkeypatch, jax_settings):
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    monkeypatch.setenv("JAXBIDIR_CACHE", str(tmp_path / "cache"))
    assert cli.main(["reproduce", "--list"]) == 0  # in COMPILING, and compiles nothing
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "cache")
