"""No platform stage may read what really happened.

The platform (linkage, policy, services) sees the departments' records and the
resident register as the platform holds them. Truth columns are named
``truth_*``; this test scans the platform packages' source for that prefix and
fails if any module outside the declared evaluation modules mentions it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import creditsim

PLATFORM_PACKAGES = ("linkage", "policy", "services")
#: Modules that evaluate the platform against the truth, by design.
EVALUATION_MODULES = {"linkage/evaluate.py", "services/evaluate.py"}

ROOT = Path(creditsim.__file__).parent


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _truth_mentions(path: Path) -> list[int]:
    """Lines where a string literal (a column name: ``pl.col("truth_x")``,
    ``df["truth_x"]``) or a variable name mentions ``truth_``. Docstrings and
    calls into the evaluation module (``evaluate.truth_table``) are allowed."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstring_nodes(tree)
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and "truth_" in node.value and id(node) not in docs:
            lines.append(node.lineno)
        if isinstance(node, ast.Name) and node.id.startswith("truth_"):
            lines.append(node.lineno)
    return lines


def test_platform_packages_never_mention_truth_columns() -> None:
    offenders = {}
    scanned = 0
    for pkg in PLATFORM_PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")) if (ROOT / pkg).exists() else []:
            rel = path.relative_to(ROOT).as_posix()
            if rel in EVALUATION_MODULES:
                continue
            scanned += 1
            hits = _truth_mentions(path)
            if hits:
                offenders[rel] = hits
    assert scanned > 0
    assert not offenders, f"platform code reads truth columns: {offenders}"


def test_scanner_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text('import polars as pl\nx = pl.col("truth_resident_id")\n')
    assert _truth_mentions(bad) == [2]
