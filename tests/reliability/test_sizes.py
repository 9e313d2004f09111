"""Degenerate sizes work end to end: a run of 1, 2, 3 or 10 residents, or of one
day, publishes, prints its summary, and audit, explain, compare and report work
on it (precision and recall are undefined without records: shown as "–")."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from creditsim.cli import app
from creditsim.policy import preset_names

runner = CliRunner()


#: Real runs, child processes and signals: the full suite, not the fast subset.
pytestmark = pytest.mark.slow


def _ok(*args: str) -> str:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, (args, res.output, res.exception)
    return res.output


def _end_to_end(base: Path, residents: int, days: int, policy: str, feedback: bool) -> None:
    out = base / "run"
    # No burn-in: the sizes are the point, and a burn-in would add five years to each.
    printed = _ok("run", "--residents", str(residents), "--days", str(days),
                  "--burn-in-days", "0", "--policy", policy, "--out", str(out), "--quiet",
                  "--feedback" if feedback else "--no-feedback")
    assert f"complete: {out}" in printed.replace("\n", "")
    assert f"residents {residents:,} " in printed
    _ok("audit", str(out))
    audit = json.loads(_ok("audit", str(out), "--json"))
    assert audit["headline"]["residents"] == residents
    for rid in {0, residents - 1}:
        _ok("explain", str(out), "--resident", str(rid))
        assert json.loads(_ok("explain", str(out), "--resident", str(rid), "--json"))
    res = runner.invoke(app, ["explain", str(out), "--resident", str(residents)])
    assert res.exit_code == 2 and f"residents 0..{residents - 1}" in res.output
    _ok("compare", str(out), str(out))
    _ok("report", str(out), "--out", str(base / "r.html"))
    assert (base / "r.html").stat().st_size > 1000


@pytest.mark.parametrize(("residents", "days", "policy"), [
    (1, 365, "beijing"),  # precision None in the summary; report's tiers chart on no changes
    (3, 365, "rongcheng"),
    (2, 1, "sesame"),
    (10, 1, "spc-list"),
])
def test_degenerate_sizes_end_to_end(tmp_path: Path, residents: int, days: int,
                                     policy: str) -> None:
    _end_to_end(tmp_path, residents, days, policy, True)


@pytest.mark.slow
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(residents=st.integers(1, 12), days=st.sampled_from([1, 2, 27, 31, 60, 366, 400]),
       policy=st.sampled_from(preset_names()), feedback=st.booleans())
def test_small_sizes_end_to_end(residents: int, days: int, policy: str, feedback: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="creditsim-sizes-") as d:
        _end_to_end(Path(d), residents, days, policy, feedback)
