"""The fixed-seed baseline: every table, document and headline figure of a small run
per policy preset equals the committed one (``tests/baseline/baseline.json``).

A difference fails with a table of old → new values. When a change of results is
intended, regenerate the file (``python -m creditsim.devtools.baseline --update``)
in a commit of its own that says which figures changed and why.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from creditsim.devtools import baseline as bl

BASELINE = Path(__file__).with_name("baseline.json")
#: The case of the fast subset (``-m "not slow"``); the others are in the full suite.
FAST_CASE = "beijing"


def _param(case: bl.Case):  # noqa: ANN202
    marks = () if case.name == FAST_CASE else (pytest.mark.slow,)
    return pytest.param(case, id=case.name, marks=marks)


def test_every_case_is_committed() -> None:
    assert set(bl.load(BASELINE)) == {c.name for c in bl.CASES}


@pytest.mark.parametrize("case", [_param(c) for c in bl.CASES])
def test_baseline_unchanged(case: bl.Case,
                            baseline_run: Callable[[str], tuple[Path, str]]) -> None:
    """The case's run (tests/conftest.py: made through the CLI, shared with the tests
    that read a run of the same settings) fingerprints as committed."""
    old = bl.load(BASELINE)[case.name]
    new = {"settings": case.settings(), **bl.fingerprint(baseline_run(case.name)[0])}
    diffs = bl.differences({case.name: old}, {case.name: new})
    assert not diffs, "\n" + bl.format_differences(diffs)


def test_differences_are_reported_per_table_and_figure() -> None:
    old = {"a": {"files": {"x.parquet": "0" * 64}, "headline": {"n": 1, "m": {"k": 2}}}}
    new = {"a": {"files": {"x.parquet": "f" * 64, "y.parquet": "1" * 64},
                 "headline": {"n": 1, "m": {"k": 3}}, "_seconds": 9.0}}
    diffs = bl.differences(old, new)
    assert [(c, k) for c, k, _, _ in diffs] == [
        ("a", "files.x.parquet"), ("a", "files.y.parquet"), ("a", "headline.m.k")]
    text = bl.format_differences(diffs)
    assert "000000000000 → ffffffffffff" in text and "2 → 3" in text
    assert bl.format_differences([]) == "baseline: no difference"
