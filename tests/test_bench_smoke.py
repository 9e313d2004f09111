"""The benchmark harness keeps working (the smallest configuration, cut to 2,000
residents × 7 days: the harness, not the size, is what is tested)."""

from __future__ import annotations

import importlib.util
import json
import sys
import tomllib
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[1] / "benchmarks" / "bench.py"


@pytest.mark.slow
def test_smoke_configuration_runs(tmp_path: Path) -> None:
    bench = _bench()
    cfg = tomllib.loads((BENCH.parent / "configs.toml").read_text())["smoke"]
    cfg = {**cfg, "residents": 2000, "days": 7}
    r = bench.run_one("smoke", cfg, tmp_path)
    assert r["peak_rss_gb"] > 0 and r["wall_seconds"] > 0
    assert [s["stage"] for s in r["stages"]][:3] == ["population", "behaviour", "records"]
    assert r["tables"]["residents.parquet"] == cfg["residents"]
    assert not (tmp_path / "smoke").exists()  # the run directory is cleaned up


def _bench():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_repeated_runs_report_the_median_and_every_run(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """``--repeat``: the result is the median run, with every run's figures kept (the
    runs themselves are stand-ins with known walls; the real run is tested above)."""
    bench = _bench()
    walls, peaks = iter([30.0, 10.0, 20.0]), iter([1.5, 1.7, 1.6])

    def fake_run(name: str, cfg: dict, workdir: Path) -> dict:
        return {"name": name, "config": cfg, "wall_seconds": next(walls),
                "peak_rss_gb": next(peaks), "stages": [{"stage": "population", "seconds": 1}]}

    monkeypatch.setattr(bench, "run_one", fake_run)
    r = bench.run_repeated("smoke", {"residents": 10, "days": 1}, tmp_path, 3)
    assert [x["wall_seconds"] for x in r["repeats"]] == [30.0, 10.0, 20.0]
    assert r["wall_seconds_min_median_max"] == [10.0, 20.0, 30.0]
    assert r["wall_seconds"] == 20.0 and r["peak_rss_gb"] == 1.6  # the median run itself
    assert r["peak_rss_gb_max"] == 1.7
    assert all(len(x["load_average_before"]) == 3 for x in r["repeats"])


def test_results_carry_date_and_commit_and_keep_the_replaced_one(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH.parent))
    import resultfile

    path = tmp_path / "b1m.json"
    resultfile.save(path, {"name": "b1m", "wall_seconds": 1.0})
    first = json.loads(path.read_text())
    assert list(first)[:4] == ["name", "date", "commit", "commit_dirty"]
    assert first["commit"] == "unknown" or len(first["commit"]) == 40
    resultfile.save(path, {"name": "b1m", "wall_seconds": 2.0})
    kept = tmp_path / f"b1m-{first['date'][:10]}-{first['commit'][:7]}.json"
    assert json.loads(kept.read_text()) == first
    assert json.loads(path.read_text())["wall_seconds"] == 2.0
    resultfile.save(path, {"name": "b1m", "wall_seconds": 3.0})  # same day and commit
    assert len(list(tmp_path.glob("b1m-*.json"))) == 2
