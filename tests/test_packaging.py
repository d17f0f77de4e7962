"""The installed package is whole: the wheel holds every package, the configs and the shipped
teacher, and configs load from an install outside the checkout (the notebook's Colab path)."""

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_holds_configs_teacher_and_every_package(tmp_path):
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    assert "absent from the `packages` configuration" not in built.stderr, built.stderr
    (wheel,) = tmp_path.glob("jaxbidir-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    configs = sorted(p.name for p in (ROOT / "configs").glob("*.toml"))
    assert configs and all(f"jaxbidir/configs/{name}" in names for name in configs)
    teacher = ROOT / "jaxbidir" / "teacher" / "pretrained"
    for file in teacher.iterdir():
        assert f"jaxbidir/teacher/pretrained/{file.name}" in names, file.name
    # every package of the tree is listed in pyproject.toml (the list is explicit)
    for init in (ROOT / "jaxbidir").rglob("__init__.py"):
        assert init.relative_to(ROOT).as_posix() in names, f"{init.parent} is not in the wheel"
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    # + configs, + the shipped teacher's data folder
    assert len(listed) == len(list((ROOT / "jaxbidir").rglob("__init__.py"))) + 2

    # installed alone, outside the checkout: every config loads, the shipped teacher opens
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    script = (
        "import jaxbidir, sys; from jaxbidir import config; "
        "from jaxbidir.teacher import configured; "
        f"assert jaxbidir.__file__.startswith({str(target)!r}), jaxbidir.__file__; "
        "names = sorted(config.shipped_configs()); "
        "[config.load(n) for n in names]; "
        "model, tokenizer, _ = configured.load_configured('', 'teacher'); "
        "print(' '.join(names), len(tokenizer))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[:-1] == [name.removesuffix(".toml") for name in configs]
