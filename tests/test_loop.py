"""The full loop: common random numbers across policies, feedback, services, appeals."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from creditsim.cli import app
from creditsim.policy.loader import load_policy
from creditsim.rundir import read_manifest

#: Every test here shares runs of 25,000 residents × 365 days from a cold start (no
#: burn-in: four runs of six simulated years would cost the suite minutes): the whole
#: suite only.
pytestmark = pytest.mark.slow

runner = CliRunner()
BASE = ["run", "--residents", "25000", "--days", "365", "--burn-in-days", "0", "--seed", "4",
        "--quiet"]


def _run(out: Path, *extra: str) -> Path:
    res = runner.invoke(app, [*BASE, "--out", str(out), *extra])
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("loop")
    return {
        "beijing_off": _run(d / "b_off", "--no-feedback"),
        "spc_off": _run(d / "s_off", "--no-feedback", "--policy", "spc-list"),
        "beijing_on": _run(d / "b_on"),
        "spc_on": _run(d / "s_on", "--policy", "spc-list"),
    }


def _sha(run: Path) -> dict[str, str]:
    return {k: v["sha256"] for k, v in read_manifest(run)["tables"].items()}


def test_no_feedback_events_and_records_identical_across_policies(runs: dict) -> None:
    a, b = _sha(runs["beijing_off"]), _sha(runs["spc_off"])
    same = [k for k in a if k == "events.parquet" or k.startswith("records/")]
    assert len(same) == 10
    for k in same:
        assert a[k] == b[k], k
    assert a["residents.parquet"] == b["residents.parquet"]
    # ... while the platform's outputs differ, since the policies differ
    assert a["list_spells.parquet"] != b["list_spells.parquet"]


def test_feedback_only_thins_base_events(runs: dict) -> None:
    """With feedback, base candidate events can only disappear (deterrence); what is
    added is repayment or extra volunteering, never a different breach."""
    off = pl.read_parquet(runs["beijing_off"] / "events.parquet")
    on = pl.read_parquet(runs["beijing_on"] / "events.parquet")
    base_max = off["event_id"].max()
    on_base = on.filter(pl.col("event_id") <= base_max)
    assert on_base.join(off, on="event_id", how="anti").height == 0
    assert on_base.select("event_id", "resident_id", "day", "kind").equals(
        off.join(on_base.select("event_id"), on="event_id", how="semi")
        .select("event_id", "resident_id", "day", "kind"))
    extra = on.filter(pl.col("event_id") > base_max)
    assert set(extra["kind"].cast(pl.String).unique()) <= {"volunteer_hours",
                                                           "judgment_performed"}


def test_loop_converges_and_is_reported(runs: dict) -> None:
    for name in ("beijing_on", "spc_on"):
        doc = json.loads((runs[name] / "loop.json").read_text())
        assert doc["converged"] and doc["feedback"]
        assert doc["rounds"][-1]["events_changed_next"] == 0
    off = json.loads((runs["beijing_off"] / "loop.json").read_text())
    assert len(off["rounds"]) == 1 and not off["feedback"]


def test_denials_only_while_listed(runs: dict) -> None:
    run = runs["spc_on"]
    d = pl.read_parquet(run / "decisions.parquet").filter(pl.col("cause_type") == "list")
    sp = pl.read_parquet(run / "list_spells.parquet")
    assert d.height > 0
    j = d.join(sp.select(pl.col("resident_id").alias("via_resident_id"),
                         pl.col("list").cast(pl.String).alias("cause"),
                         pl.col("record_id").alias("spell_record_id"), "start_day", "end_day"),
               on=["via_resident_id", "cause", "spell_record_id"], how="left")
    assert j["start_day"].null_count() == 0
    day = pl.col("day").cast(pl.Int32)
    assert j.select(((day >= pl.col("start_day")) &
                     (pl.col("end_day").is_null() | (day < pl.col("end_day")))).all()).item()
    spilled = d.filter(pl.col("resident_id") != pl.col("via_resident_id"))
    if spilled.height:
        assert set(spilled["service"].cast(pl.String)) <= {"private_school"}


def test_demand_counts_add_up(runs: dict) -> None:
    dem = pl.read_parquet(runs["spc_on"] / "demand.parquet")
    dec = pl.read_parquet(runs["spc_on"] / "decisions.parquet")
    tot = dem.select(pl.col("denied").sum()).item()
    assert tot == dec.filter(pl.col("decision") == "denied").height
    assert (dem["allowed"].cast(pl.Int64) + dem["denied"] + dem["expedited"]
            + dem["discounted"] == dem["demands"].cast(pl.Int64)).all()
    # The demand of services neither policy acts on is drawn in aggregate alone: the
    # same under both; a service a policy acts on counts its affected residents' own
    # demand, the rest of the city's drawn from the same uniforms.
    other = pl.read_parquet(runs["beijing_on"] / "demand.parquet")
    touched = {c.service for run in ("spc_on", "beijing_on")
               for c in load_policy(runs[run] / "policy.toml").consequences}
    key = ["day", "service", "demands"]
    rest = ~pl.col("service").cast(pl.String).is_in(sorted(touched))
    assert dem.filter(rest).select(key).equals(other.filter(rest).select(key))
    a, b = (t.group_by("service").agg(pl.col("demands").sum()).sort("service")
            for t in (dem, other))
    assert (abs(a["demands"].cast(pl.Int64) - b["demands"].cast(pl.Int64))
            <= 5 * a["demands"].cast(pl.Float64).sqrt() + 5).all()


def test_wrongful_labels_consistent(runs: dict) -> None:
    run = runs["beijing_on"]
    sp = pl.read_parquet(run / "list_spells.parquet")
    assert sp["wrongful"].null_count() == 0
    assert (sp["wrongful"] == sp["wrongful_cause"].is_not_null()).all()
    dec = pl.read_parquet(run / "decisions.parquet")
    assert (dec["wrongful"] == dec["wrongful_cause"].is_not_null()).all()
    links = pl.read_parquet(run / "links.parquet")
    wp = sp.filter(pl.col("wrongful_cause").cast(pl.String).is_in(["linkage_error",
                                                                   "data_error"]))
    chk = wp.join(links, on="record_id")
    assert (chk["truth_resident_id"] != chk["resident_id"]).all()


def test_summary_printed(tmp_path: Path) -> None:
    res = runner.invoke(app, ["run", "--residents", "3000", "--days", "60", "--burn-in-days", "0",
                              "--quiet", "--out", str(tmp_path / "r")])
    assert res.exit_code == 0
    for word in ("residents", "records", "listed", "wrongly", "flights", "green"):
        assert word in res.output, word


def test_incremental_rescoring_equals_full_rescoring(tmp_path: Path) -> None:
    """Later rounds re-score only residents whose records changed; the result must be
    what re-scoring everyone gives."""
    import datetime as dt

    from creditsim import pipeline
    from creditsim.config import make_config
    from creditsim.platform import LoopInputs, LoopModels, RunSpec, run_loop
    from creditsim.policy import load_policy

    cfg = make_config(residents=20_000, days=365, burn_in_days=0, seed=8)
    ctx = pipeline.RunContext(config=cfg, workdir=tmp_path, run_dir=tmp_path,
                              progress=lambda s, f: None)
    tables, _timings, _docs = pipeline.run_stages(ctx, pipeline.PLAN[:4], keep_tables=True)
    recs = {k.removeprefix("_records/"): v for k, v in tables.items()
            if k.startswith("_records/")}
    out = {}
    for inc in (True, False):
        # run_loop consumes its records dict: hand each run its own.
        res = run_loop(LoopInputs(tables["residents"], tables["_candidates"], dict(recs),
                                  tables["_links"], load_policy("beijing")),
                       RunSpec(seed=8, days=365, start_date=dt.date(2021, 1, 1)),
                       LoopModels(incremental=inc))
        assert len(res.rounds) > 1
        out[inc] = res
    for name in ("ledger", "scores", "list_spells", "decisions", "events", "demand",
                 "appeals"):
        a, b = out[True].tables[name], out[False].tables[name]
        cols = a.columns
        assert a.sort(cols).equals(b.sort(cols)), name
    # ... and every round the same (later rounds also reuse the unchanged residents'
    # state and effect intervals), but for the number of residents re-scored.
    def rounds(r):  # noqa: ANN001, ANN202
        return [{k: v for k, v in x.items() if k != "rescored_residents"} for x in r.rounds]
    assert rounds(out[True]) == rounds(out[False])


def test_ledger_sorted_by_resident_after_rounds(runs: dict) -> None:
    """The written ledger keeps the engine's order (by resident) although later
    rounds re-score some residents and merge their rows."""
    doc = json.loads((runs["beijing_on"] / "loop.json").read_text())
    assert len(doc["rounds"]) > 1  # re-scoring rounds happened
    led = pl.read_parquet(runs["beijing_on"] / "ledger.parquet")
    assert led.height > 0 and led["resident_id"].is_sorted()


def test_platform_used_only_records_that_happened(runs: dict) -> None:
    """After feedback rounds, every record is of an event that happened, every link is
    of a record, and the ledger scores only those records (the loop's record
    selection is carried from round to round, not recomputed)."""
    run = runs["beijing_on"]
    recs = pl.concat([pl.read_parquet(p, columns=["record_id", "truth_event_id"])
                      for p in sorted((run / "records").glob("*.parquet"))])
    events = pl.read_parquet(run / "events.parquet", columns=["event_id"])
    assert recs.join(events, left_on="truth_event_id", right_on="event_id",
                     how="anti").height == 0
    links = pl.read_parquet(run / "links.parquet", columns=["record_id"])
    assert links.height == recs.height
    assert links.join(recs, on="record_id", how="anti").height == 0
    ledger = pl.read_parquet(run / "ledger.parquet", columns=["record_id"])
    assert ledger.join(recs, on="record_id", how="anti").height == 0
