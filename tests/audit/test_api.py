"""``creditsim.open_run``: typed tables, and the README snippet runs as written."""

from __future__ import annotations

import os
import re
from pathlib import Path

import polars as pl
import pytest

import creditsim
from creditsim.errors import CreditsimError

README = Path(__file__).parents[2] / "README.md"


def test_open_run_typed_tables(rich_run: Path) -> None:
    run = creditsim.open_run(rich_run)
    assert "open_run" in creditsim.__all__
    assert run.residents.schema["resident_id"] == pl.Int32
    assert isinstance(run.residents.schema["hukou"], pl.Enum)
    assert run.links.schema["truth_resident_id"] == pl.Int32
    assert run.decisions.schema["day"] == pl.Int16
    assert isinstance(run.decisions.schema["decision"], pl.Enum)
    assert run.list_spells.height > 0 and run.ledger.height > 0 and run.scores.height > 0
    court = run.records("court")
    assert "case_number" in court.columns
    every = run.records()
    assert every.height == sum(run.table(f"records/{d}").height for d in run.departments)
    assert run.scan("events").select(pl.len()).collect().item() == run.events.height
    a = run.audit(by="hukou")
    g = a.group("hukou")
    assert g["residents"].sum() == run.residents.height
    assert {"sanctioned.rate", "sanctioned.ci95_lo", "sanctioned.ratio",
            "green_channel.rate"} <= set(g.columns)
    assert '"schema": "creditsim.audit/1"' in a.to_json()
    with pytest.raises(CreditsimError, match="no department"):
        run.records("police")
    with pytest.raises(CreditsimError, match="grouping"):
        a.group("district")


def test_missing_table_raises_clearly(bare_run: Path) -> None:
    run = creditsim.open_run(bare_run)
    assert not run.has("decisions")
    with pytest.raises(CreditsimError, match="no decisions table"):
        _ = run.decisions


@pytest.mark.slow  # writes the HTML report
def test_readme_python_api_snippet_runs(real_run: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "README's Python API section has no python snippet"
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "beijing").symlink_to(real_run, target_is_directory=True)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(code.group(1), "README.md", "exec"), {})  # noqa: S102
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert "residents" in out and "provenance" not in out
    assert (tmp_path / "runs" / "beijing-report.html").stat().st_size > 1_000_000
