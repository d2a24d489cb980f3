"""Every user-facing error message of the package (each `raise GenseqError(...)`), and the
test that checks it: the message's longest literal fragment, found in a test file.

`python -m tests.error_sites` prints the table (message, where raised, checked by).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _literal_parts(node: ast.AST) -> list[str]:
    """The constant text pieces of a message expression (str, f-string, concatenation)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.Constant)]
    if isinstance(node, ast.BinOp):
        return _literal_parts(node.left) + _literal_parts(node.right)
    return []


def _template(node: ast.AST) -> str:
    """The message with every interpolated value shown as {}."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp):
        return _template(node.left) + _template(node.right)
    return "{}"


def error_sites() -> list[tuple[str, str, str, int]]:
    """(message template, file:line, key fragment, last line) of every GenseqError raised."""
    out = []
    for path in sorted((REPO / "genseq").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "GenseqError"):
                continue
            if not node.args:
                continue
            parts = [p.strip(" :;,().'\"") for p in _literal_parts(node.args[0])]
            parts = [p for p in parts if len(p) >= 4]
            key = max(parts, key=len) if parts else ""
            where = f"{path.relative_to(REPO)}:{node.lineno}"
            out.append((_template(node.args[0]), where, key, node.end_lineno or node.lineno))
    return out


def test_texts() -> dict[str, str]:
    return {
        str(p.relative_to(REPO)): p.read_text(encoding="utf-8")
        for p in sorted((REPO / "tests").rglob("test_*.py"))
    }


def checked_by(key: str, texts: dict[str, str]) -> str | None:
    """The first test file:line holding `key` (or, for a long key, its first 5 words)."""
    if not key:
        return None
    words = key.split()
    probes = [key] + ([" ".join(words[:5]), " ".join(words[-5:])] if len(words) > 6 else [])
    for probe in probes:
        pat = re.escape(probe)
        for name, text in texts.items():
            m = re.search(pat, text) or re.search(pat.replace(r"\ ", r"\s+"), text)
            if m:
                return f"{name}:{text[: m.start()].count(chr(10)) + 1}"
    return None


def traced(trace: Path) -> dict[tuple[str, int], list[str]]:
    """GENSEQ_ERROR_TRACE lines -> {(file relative to the repo, line): [tests]}."""
    out: dict[tuple[str, int], list[str]] = {}
    for line in trace.read_text(encoding="utf-8").splitlines():
        site, _, test = line.partition("\t")
        file, _, num = site.rpartition(":")
        if not file.startswith(str(REPO / "genseq")):
            continue
        key = (str(Path(file).relative_to(REPO)), int(num))
        if test not in out.setdefault(key, []):
            out[key].append(test)
    return out


def table(trace: Path | None = None) -> list[tuple[str, str, str | None]]:
    """(message, where raised, the test that raises it or mentions it / None)."""
    texts, hits = test_texts(), traced(trace) if trace else {}
    rows = []
    for msg, where, key, last in error_sites():
        file, first = where.rsplit(":", 1)
        tests = [t for (f, n), ts in hits.items() if f == file and int(first) <= n <= last
                 for t in ts]  # fmt: skip
        rows.append((msg, where, tests[0] if tests else checked_by(key, texts)))
    return rows


if __name__ == "__main__":
    import sys

    rows = table(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    for msg, where, by in rows:
        print(f"{where}\t{by or 'UNCHECKED'}\t{msg}")
    print(f"{sum(1 for r in rows if r[2])} of {len(rows)} checked", flush=True)
