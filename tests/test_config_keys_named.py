"""Every config key that a doc, the README, a shipped config or a message of the package names
(`student.lr`, `feedback.prior_coef`) is a key of the config: docs and errors that drift from
the code fail here."""

import ast
import dataclasses
import importlib
import importlib.util
import re
from pathlib import Path

from jaxbidir import config, envs

ROOT = Path(__file__).resolve().parent.parent
TABLES = {
    f.name: f.type for f in dataclasses.fields(config.Config) if dataclasses.is_dataclass(f.type)
}
NAMED = re.compile(rf"(?<![\w./-])({'|'.join(TABLES)})\.([a-z_0-9]+)\b")
FILE_TYPES = {"md", "py", "toml", "json", "jsonl"}  # teacher.md, student.py


def _texts():
    for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "configs").glob("*")]:
        yield path, path.read_text()
    for path in (ROOT / "jaxbidir").rglob("*.py"):  # the strings of the package: its messages
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield path, node.value


def _a_name_of_the_code(table: str, name: str) -> bool:
    """`feedback.make_train`, `teacher.generate`, `env.step`: a name in the package of that
    name, or a method of an environment."""
    if table == "env":
        return hasattr(envs.Environment, name)
    try:
        module = importlib.import_module(f"jaxbidir.{table}")
    except ImportError:
        return False
    return hasattr(module, name) or importlib.util.find_spec(f"jaxbidir.{table}.{name}") is not None


def test_every_config_key_named_in_docs_and_messages_exists():
    keys = {name: {f.name for f in dataclasses.fields(cls)} for name, cls in TABLES.items()}
    unknown = sorted({
        (path.relative_to(ROOT).as_posix(), f"{table}.{name}")
        for path, text in _texts()
        for table, name in NAMED.findall(text)
        if name not in keys[table] and name not in FILE_TYPES
        and not _a_name_of_the_code(table, name)
    })  # fmt: skip
    assert not unknown, f"keys named that the config does not have: {unknown}"
