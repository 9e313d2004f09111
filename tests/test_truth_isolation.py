"""No platform code may read what really happened.

The platform (linkage, policy, services, and the platform stage's own steps: the
record stream, scoring, answering objections, serving, the rounds' orchestration)
sees the departments' records and the resident register as the platform holds
them. Truth columns are named ``truth_*``; this test scans every module of the
platform's packages, and the pipeline that hands tables between stages, for that
prefix and fails if any module outside the short exempt list mentions it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import creditsim

#: Packages whose every module is platform code, unless exempt below.
PLATFORM_PACKAGES = ("linkage", "policy", "services", "platform")
#: Single modules that must not name truth either: the pipeline hands truth tables
#: to the world's stages and the platform's alike, without opening them.
PLATFORM_MODULES = ("pipeline.py",)
#: Modules that read the truth by design, each with its reason. (The world side's
#: ``platform/world/feedback.py`` thins the candidate events without naming a truth
#: column, so it is scanned like the rest.)
EXEMPT = {
    "linkage/evaluate.py": "compares the platform's links with the true subjects "
                           "(linkage.json, the links' truth column)",
    "services/evaluate.py": "labels sanctions wrongful against what really happened",
    "platform/world/residents.py": "residents know the truth about themselves: who objects to "
                                   "a wrongful spell, who repays a debt not yet performed",
    "platform/world/truth.py": "the world beside the rounds: which records exist, the court's "
                               "repayment records, the truth about each spell, the final "
                               "labels and truth-world scoring, what happened",
}
#: Platform-side modules of the platform stage the scan must reach (a guard against
#: the scan silently covering less after a move).
MUST_SCAN = {"platform/stream.py", "platform/appeals.py", "platform/state.py",
             "platform/steps.py", "platform/loop.py", "platform/models.py", "pipeline.py",
             "policy/engine.py", "services/decide.py", "linkage/stage.py"}

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


def _platform_modules() -> list[str]:
    out = list(PLATFORM_MODULES)
    for pkg in PLATFORM_PACKAGES:
        out += [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / pkg).rglob("*.py"))]
    return out


def test_platform_code_never_mentions_truth_columns() -> None:
    scanned = [m for m in _platform_modules() if m not in EXEMPT]
    offenders = {m: hits for m in scanned if (hits := _truth_mentions(ROOT / m))}
    assert MUST_SCAN <= set(scanned), MUST_SCAN - set(scanned)
    assert not offenders, f"platform code reads truth columns: {offenders}"


def test_exempt_list_is_short_and_true() -> None:
    """Every exempt module exists, lies inside the scanned packages, and does read
    the truth (a module that no longer does comes off the list)."""
    modules = set(_platform_modules())
    for rel, reason in EXEMPT.items():
        assert rel in modules, rel
        assert reason
        assert _truth_mentions(ROOT / rel), f"{rel} reads no truth: take it off the list"


def test_scanner_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text('import polars as pl\nx = pl.col("truth_resident_id")\n')
    assert _truth_mentions(bad) == [2]
