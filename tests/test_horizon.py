"""Warm starts and horizons: the burn-in, the start date, long runs (issue 15)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from creditsim import pipeline
from creditsim.audit import RunData, audit_run
from creditsim.cli import app
from creditsim.config import MAX_DAYS, make_config
from creditsim.errors import ConfigError
from creditsim.platform import LoopModels
from creditsim.resources import GiB, estimate
from creditsim.rundays import DAY_COLUMNS, day_columns, to_start

N, SEED, BURN, DAYS = 20_000, 5, 400, 90
START = dt.date(2021, 3, 1)


def _tables(out: Path) -> dict[str, pl.DataFrame]:
    return {str(p.relative_to(out)).removesuffix(".parquet"): pl.read_parquet(p)
            for p in sorted(out.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("warm") / "run"
    cfg = make_config(residents=N, days=DAYS, seed=SEED, start_date=START, burn_in_days=BURN)
    return pipeline.run(cfg, out).out


@pytest.fixture(scope="module")
def cold_earlier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """No burn-in, started BURN days earlier, over BURN + DAYS days."""
    out = tmp_path_factory.mktemp("cold") / "run"
    cfg = make_config(residents=N, days=BURN + DAYS, seed=SEED, burn_in_days=0,
                      start_date=START - dt.timedelta(days=BURN))
    return pipeline.run(cfg, out).out


def test_burn_in_rows_have_negative_days_and_none_reach_the_horizon(warm: Path) -> None:
    tables = _tables(warm)
    negative = set()
    for name, df in tables.items():
        for col in day_columns(name):
            v = df[col].drop_nulls()
            if not v.len():
                continue
            assert v.min() >= -BURN, (name, col)
            if col not in ("expires_day", "end_day", "decided_day"):  # may pass the horizon
                assert v.max() < DAYS, (name, col)
            if v.min() < 0:
                negative.add(name)
    # the whole system ran through the burn-in, not only behaviour
    assert {"events", "records/court", "ledger", "decisions", "demand", "scores"} <= negative
    demand = tables["demand"]["day"]
    assert demand.min() == -BURN and demand.max() == DAYS - 1
    assert json.loads((warm / "loop.json").read_text())["burn_in_days"] == BURN
    assert json.loads((warm / "manifest.json").read_text())["config"]["burn_in_days"] == BURN


def test_a_burn_in_is_the_same_run_started_earlier(warm: Path, cold_earlier: Path) -> None:
    """Burn-in B, days D, start S equals burn-in 0, days B + D, start S - B, every table
    with its day columns shifted by B: the whole system runs through the burn-in."""
    a, b = _tables(warm), _tables(cold_earlier)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].equals(to_start(name, b[name], BURN)), name
    assert RunData(warm).sha256("residents") == RunData(cold_earlier).sha256("residents")


def test_every_day_column_is_declared(warm: Path) -> None:
    """The shift knows every column that counts days (a new one must be declared)."""
    for name, df in _tables(warm).items():
        dayish = {c for c in df.columns if c == "day" or c.startswith("day_")
                  or c.endswith("_day")}
        assert dayish <= set(day_columns(name)), name
    assert set(DAY_COLUMNS) >= {"events", "records/*", "list_spells", "decisions"}


def test_audit_counts_the_results_window(warm: Path) -> None:
    run = RunData(warm)
    doc = audit_run(run)
    h = doc["headline"]
    sp = pl.read_parquet(warm / "list_spells.parquet")
    dec = pl.read_parquet(warm / "decisions.parquet")
    overlap = sp.filter((pl.col("start_day") < DAYS)
                        & (pl.col("end_day").is_null() | (pl.col("end_day") > 0)))
    assert h["list_spells"] == overlap.height
    in_window = dec.filter(pl.col("day") >= 0)
    assert sum(h["decisions"].values()) == in_window.height
    assert h["burn_in_days"] == BURN and doc["settings"]["window"] == [0, DAYS]
    # the burn-in holds decisions and closed spells the window must not count
    assert dec.height > in_window.height
    demand = pl.read_parquet(warm / "demand.parquet").filter(pl.col("day") >= 0)
    flight = doc["services"]["by_service"]["flight"]["demand"]["demands"]
    assert flight == int(demand.filter(pl.col("service") == "flight")["demands"].sum())


@pytest.mark.parametrize(("kwargs", "where"), [
    ({"burn_in_days": -1}, "--burn-in-days"),
    ({"days": 9000, "burn_in_days": 200}, "--burn-in-days"),
    ({"days": MAX_DAYS + 1}, "--days"),
    ({"start_date": "2001-01-01", "burn_in_days": 800}, "--burn-in-days"),
    ({"start_date": "1999-06-01"}, "--start-date"),
    ({"start_date": "2099-06-01", "days": 365}, "--start-date"),
])
def test_horizon_problems_are_located(kwargs: dict, where: str) -> None:
    with pytest.raises(ConfigError) as e:
        make_config(**kwargs)
    assert [p.location for p in e.value.problems] == [where]


def test_cli_reports_every_problem_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "r"
    res = CliRunner().invoke(app, ["run", "--residents", "100", "--days", "0",
                                   "--burn-in-days", "-5", "--out", str(out)])
    assert res.exit_code == 2
    assert "--days" in res.output and "--burn-in-days" in res.output
    assert not out.exists()


def test_the_national_list_history_runs(tmp_path: Path) -> None:
    """From 2013-10-01, when the national dishonest-debtor list began, to 2026."""
    start = dt.date(2013, 10, 1)
    days = (dt.date(2026, 10, 1) - start).days
    cfg = make_config(residents=2000, days=days, seed=SEED, start_date="2013-10-01",
                      burn_in_days=0)
    out = pipeline.run(cfg, tmp_path / "r").out
    sc = pl.read_parquet(out / "scores.parquet")
    assert sc["month"].min() >= start and sc["month"].max() >= dt.date(2026, 1, 1)
    ev = pl.read_parquet(out / "events.parquet")
    assert ev["day"].min() >= 0 and ev["day"].max() == days - 1
    sp = pl.read_parquet(out / "list_spells.parquet")
    assert sp.height > 0 and sp["start_day"].max() > 3650  # lists still fill after 10 years
    assert json.loads((out / "loop.json").read_text())["converged"]


def test_memory_estimate_covers_the_long_horizons() -> None:
    """resources.estimate is at or above every peak measured over long horizons
    (benchmarks/horizon.py), so the resource check knows the horizon."""
    results = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
    points = []
    for name in ("horizon-memory-219000", "horizon-memory-1000000"):
        d = json.loads((results / f"{name}.json").read_text())
        points += [(d["residents"], r["days"] + r["burn_in_days"], r["peak_rss_gb"])
                   for r in d["runs"]]
    for name in ("cold-start", "cold-start-1m"):
        d = json.loads((results / f"{name}.json").read_text())
        points.append((d["residents"], d["days"], d["peak_rss_gb"]))
    assert any(days >= 3650 for _, days, _ in points)
    for residents, days, peak in points:
        assert estimate(residents, days).memory / GiB >= peak, (residents, days, peak)


def test_round_cap_grows_with_the_horizon() -> None:
    m = LoopModels()
    assert m.round_cap(365) == m.round_cap(730) == m.max_rounds
    assert m.round_cap(3650) >= 15 and m.round_cap(MAX_DAYS) > m.round_cap(3650)


def test_the_resource_check_counts_the_burn_in(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A run whose window alone would fit is refused when its burn-in does not."""
    import creditsim.pipeline
    from creditsim import resources

    residents, days, burn = 5_000_000, 365, 3000
    fits = estimate(residents, days).memory + GiB
    assert estimate(residents, days + burn).memory > fits
    monkeypatch.setattr(resources, "available_memory", lambda: fits)
    monkeypatch.setattr(creditsim.pipeline, "run", lambda *a, **k: pytest.fail("ran"))
    res = CliRunner().invoke(app, ["run", "--residents", str(residents), "--days", str(days),
                                   "--burn-in-days", str(burn), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2
    assert f"x {days + burn} days needs about" in " ".join(res.output.split())
