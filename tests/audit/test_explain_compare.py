"""explain (forward and reverse provenance), compare (refusal, --force), bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from creditsim.audit import RunData
from creditsim.audit.explain import explain_resident
from creditsim.cli import app
from creditsim.rundir import sha256_file, write_parquet

runner = CliRunner()


def test_explain_forward_and_reverse(real_run: Path) -> None:
    links = pl.read_parquet(real_run / "links.parquet")
    wrong = links.filter(pl.col("resident_id").is_not_null()
                         & (pl.col("resident_id") != pl.col("truth_resident_id"))).row(
        0, named=True)
    run = RunData(real_run)
    # The victim sees another resident's record linked to them.
    victim = explain_resident(run, wrong["resident_id"])
    assert wrong["record_id"] in victim.wrongly_linked_in["record_id"].to_list()
    row = victim.wrongly_linked_in.filter(pl.col("record_id") == wrong["record_id"]).row(
        0, named=True)
    assert row["true_resident_id"] == wrong["truth_resident_id"]
    # The true subject sees their record, marked as linked to the wrong person.
    subject = explain_resident(run, wrong["truth_resident_id"])
    tl = subject.timeline.filter(pl.col("ref") == f"record {wrong['record_id']}")
    assert tl.height >= 1 and tl["status"][0] == "wrong"
    assert f"to resident {wrong['resident_id']}" in tl["detail"][0]
    # Time order; every truth event of the subject is there.
    days = subject.timeline["day"].to_list()
    assert days == sorted(days)
    ev = pl.read_parquet(real_run / "events.parquet").filter(
        pl.col("resident_id") == wrong["truth_resident_id"])
    assert (subject.timeline["stage"] == "truth").sum() == ev.height


def test_explain_listed_resident_cli(real_run: Path) -> None:
    sp = pl.read_parquet(real_run / "list_spells.parquet")
    rid = int(sp["resident_id"][0])
    res = runner.invoke(app, ["explain", str(real_run), "--resident", str(rid)])
    assert res.exit_code == 0, res.output
    assert "entered" in res.output and "provenance" in res.output
    res = runner.invoke(app, ["explain", str(real_run), "--resident", str(rid), "--json"])
    obj = json.loads(res.output)
    stages = {r["stage"] for r in obj["timeline"]}
    assert {"record", "list"} <= stages
    assert obj["summary"]["list_spells"] >= 1


def test_compare_same_population(real_run: Path, rich_run: Path) -> None:
    res = runner.invoke(app, ["compare", str(real_run), str(rich_run), "--by", "hukou",
                              "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.output)
    assert obj["comparable"] and obj["paired"] is not None
    h = {r["metric"]: r for r in obj["headline"]}
    assert h["residents"]["diff"] == 0
    assert h["residents_sanctioned"]["b"] >= h["residents_sanctioned"]["a"]
    p = obj["paired"]["sanctioned"]
    assert p["only_a"] == 0  # rich_run only adds denials
    assert p["only_b"] == h["residents_sanctioned"]["diff"]
    res = runner.invoke(app, ["compare", str(real_run), str(real_run), "--by", "sex"])
    assert res.exit_code == 0, res.output
    assert "headline" in res.output


def test_compare_refuses_different_seed(real_run: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(real_run, other)
    # A different population: one resident renamed, the manifest kept consistent (a
    # run whose files do not match its manifest is refused before any comparison).
    reg = pl.read_parquet(other / "residents.parquet")
    write_parquet(reg.with_columns(pl.when(pl.col("resident_id") == 0).then(pl.lit("某某"))
                                   .otherwise(pl.col("name")).alias("name")),
                  other / "residents.parquet")
    m = json.loads((other / "manifest.json").read_text())
    m["seed"] = m["config"]["seed"] = 99
    m["tables"]["residents.parquet"] |= {
        "sha256": sha256_file(other / "residents.parquet"),
        "bytes": (other / "residents.parquet").stat().st_size}
    (other / "manifest.json").write_text(json.dumps(m))
    res = runner.invoke(app, ["compare", str(real_run), str(other)])
    assert res.exit_code == 2
    assert "different seeds" in res.output and "different populations" in res.output
    assert "--force" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["compare", str(real_run), str(other), "--force", "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.output)
    assert not obj["comparable"] and obj["paired"] is None


@pytest.mark.parametrize("case", ["not_a_dir", "no_manifest", "incomplete", "table_missing",
                                  "unknown_resident", "unknown_grouping", "bad_reference",
                                  "empty_grouping"])
def test_bad_input_one_line_exit_2(case: str, real_run: Path, tmp_path: Path) -> None:
    target = tmp_path / "run"
    args: list[str]
    if case == "not_a_dir":
        args = ["audit", str(tmp_path / "nope")]
    elif case == "no_manifest":
        target.mkdir()
        (target / "residents.parquet").write_bytes(b"")
        args = ["audit", str(target)]
    elif case in ("incomplete", "table_missing"):
        shutil.copytree(real_run, target)
        if case == "incomplete":
            m = json.loads((target / "manifest.json").read_text())
            m["status"] = "running"
            (target / "manifest.json").write_text(json.dumps(m))
        else:
            (target / "ledger.parquet").unlink()
        args = ["report", str(target)]
    elif case == "unknown_resident":
        args = ["explain", str(real_run), "--resident", "20000"]
    elif case == "unknown_grouping":
        args = ["audit", str(real_run), "--by", "hukou,star_sign"]
    elif case == "bad_reference":
        args = ["audit", str(real_run), "--by", "hukou", "--reference", "hukou=martian"]
    else:
        args = ["compare", str(real_run), str(real_run), "--by", ","]
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.output
    assert "Traceback" not in res.output
