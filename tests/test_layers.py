"""The library's layering, read from every module's imports (ast, nothing imported):
nn -> train -> text | hand; the library never imports the command line (genseq.cli)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "genseq"
ENTRY_POINTS = {"genseq.__main__"}  # `python -m genseq`: the command line itself

# layer of a module -> layers it must not import
FORBIDDEN = {
    "nn": {"train", "text", "hand", "cli"},
    "train": {"text", "hand", "cli"},
    "text": {"hand", "cli"},
    "hand": {"text", "cli"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every genseq module a file imports, at its top or inside functions."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, `level - 1` packages up
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            out.add(base)
            if base == "genseq":  # from genseq import cli
                out |= {f"genseq.{a.name}" for a in node.names}
    return {m for m in out if m == "genseq" or m.startswith("genseq.")}


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def violations(path: Path) -> list[str]:
    """The forbidden imports of one file, as 'importer -> imported'."""
    me = module_name(path)
    if me in ENTRY_POINTS:
        return []
    mine = layer(me)
    if mine == "cli":
        return []
    banned = FORBIDDEN.get(mine or "", set()) | {"cli"}
    return sorted(f"{me} -> {m}" for m in imported(path) if layer(m) in banned)


def test_every_module_keeps_its_layer():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 40
    bad = [v for f in files for v in violations(f)]
    assert not bad, "forbidden imports:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "where,line",
    [
        ("nn/fake.py", "from genseq.train.trainer import Trainer"),
        ("nn/fake.py", "import genseq.hand.model"),
        ("train/fake.py", "from genseq.text import corpus"),
        ("text/fake.py", "def f():\n    from genseq.hand.sample import HandModel"),
        ("hand/fake.py", "from ..text.model import TextModel"),
        ("hand/fake.py", "from genseq import cli"),
        ("fake.py", "from genseq.cli.write import cmd_write"),
    ],
)
def test_a_forbidden_import_is_caught(tmp_path, monkeypatch, where, line):
    """The checker sees each kind of forbidden import (top level, in a function, relative)."""
    root = tmp_path / "genseq"
    f = root / where
    f.parent.mkdir(parents=True)
    f.write_text(line + "\n")
    monkeypatch.setattr(f"{__name__}.PACKAGE", root)
    assert violations(f), line


def test_allowed_imports_pass(tmp_path, monkeypatch):
    root = tmp_path / "genseq"
    (root / "cli").mkdir(parents=True)
    (root / "hand").mkdir()
    (root / "cli" / "x.py").write_text("from genseq.hand.page import Page\nfrom . import text\n")
    (root / "hand" / "x.py").write_text("from genseq.train.registry import register_model\n")
    monkeypatch.setattr(f"{__name__}.PACKAGE", root)
    assert not violations(root / "cli" / "x.py")
    assert not violations(root / "hand" / "x.py")
