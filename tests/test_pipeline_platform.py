"""The platform stages run on truth-free tables, and bad policy options fail early."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from creditsim.cli import app
from creditsim.config import make_config
from creditsim.platform import linked_records, platform_view

runner = CliRunner()
#: The module's tests share a pipeline run: the whole suite only.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("p") / "run"
    # no burn-in: the policy is re-run below over the same 120 days from day 0
    res = runner.invoke(app, ["run", "--residents", "6000", "--days", "120", "--seed", "3",
                              "--burn-in-days", "0", "--quiet", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_policy_stage_needs_no_truth(run_dir: Path) -> None:
    """Re-run the policy engine on the run's tables with every truth column removed:
    the same ledger and the same list spells (before the truth-side labels)."""
    from creditsim.policy import apply_policy, load_policy

    residents = platform_view(pl.read_parquet(run_dir / "residents.parquet"))
    recs = {f.stem: platform_view(pl.read_parquet(f))
            for f in sorted((run_dir / "records").glob("*.parquet"))}
    links = platform_view(pl.read_parquet(run_dir / "links.parquet"))
    tables = [residents, links, *recs.values()]
    assert not any(c.startswith("truth_") for t in tables for c in t.columns)
    linked = linked_records(recs, links)
    res = apply_policy(load_policy("beijing"), residents, linked, days=120,
                       start_date=make_config().start_date)
    key = ["resident_id", "day", "rule_id", "record_id"]
    assert res.ledger.sort(key).equals(pl.read_parquet(run_dir / "ledger.parquet").sort(key))
    spells = pl.read_parquet(run_dir / "list_spells.parquet")
    not_appealed = spells.filter(pl.col("exit_reason").cast(pl.String).fill_null("")
                                 != "appealed").drop("wrongful", "wrongful_cause")
    mine = res.list_spells.join(not_appealed.select("resident_id", "record_id", "list"),
                                on=["resident_id", "record_id", "list"], how="semi")
    cols = not_appealed.columns
    k2 = ["resident_id", "list", "start_day", "record_id"]
    assert mine.select(cols).sort(k2).equals(not_appealed.sort(k2))


def test_linked_stream_has_no_truth(run_dir: Path) -> None:
    recs = {f.stem: pl.read_parquet(f) for f in (run_dir / "records").glob("*.parquet")}
    links = pl.read_parquet(run_dir / "links.parquet")
    stream = linked_records({k: platform_view(v) for k, v in recs.items()},
                                     platform_view(links))
    assert stream.height == sum(v.height for v in recs.values())
    assert not [c for c in stream.columns if c.startswith("truth_")]
    assert stream["resident_id"].null_count() == links["resident_id"].null_count()


def test_run_outputs_present(run_dir: Path) -> None:
    for f in ("links.parquet", "linkage.json", "ledger.parquet", "scores.parquet",
              "list_spells.parquet", "decisions.parquet", "demand.parquet", "appeals.parquet",
              "loop.json"):
        assert (run_dir / f).exists(), f


@pytest.mark.parametrize("args, message", [
    (["--policy", "no-such-policy"], "no-such-policy"),
    (["--linkage-threshold", "0"], "--linkage-threshold"),
    (["--linkage-threshold", "1.5"], "--linkage-threshold"),
])
def test_bad_platform_options(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "x"
    res = runner.invoke(app, ["run", "--residents", "1000", "--days", "10", "--burn-in-days", "0",
                              "--quiet", "--out", str(out), *args])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_invalid_policy_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[meta]\nname = 3\n[scale]\nbaseline = "high"\n', encoding="utf-8")
    out = tmp_path / "x"
    res = runner.invoke(app, ["run", "--residents", "1000", "--days", "10", "--burn-in-days", "0",
                              "--quiet", "--out", str(out), "--policy", str(bad)])
    assert res.exit_code == 2, res.output
    assert "bad.toml" in res.output and "Traceback" not in res.output
    assert not out.exists()



def test_round_steps_timed_and_in_the_plan(run_dir: Path) -> None:
    """loop.json and the manifest report seconds per round step (summed over the
    rounds), and the manifest's plan lists the platform stage's round steps."""
    import json

    from creditsim.platform import ROUND_STEPS

    names = [s.name for s in ROUND_STEPS]
    secs = json.loads((run_dir / "loop.json").read_text())["seconds"]
    assert list(secs) == ["setup", *names, "label", "tables"]
    assert all(v >= 0 for v in secs.values())
    m = json.loads((run_dir / "manifest.json").read_text())
    plat = next(s for s in m["plan"] if s["stage"] == "platform")
    assert [s["step"] for s in plat["steps"]] == names
    steps = next(s for s in m["stages"] if s["stage"] == "platform")["steps"]
    assert set(names) <= set(steps) and "demand_cells_background" in steps
