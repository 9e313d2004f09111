"""The benchmark harness keeps working (smallest configuration, a few days)."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

BENCH = Path(__file__).parents[1] / "benchmarks" / "bench.py"


def test_smoke_configuration_runs(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    cfg = tomllib.loads((BENCH.parent / "configs.toml").read_text())["smoke"]
    cfg = {**cfg, "days": 7}
    r = bench.run_one("smoke", cfg, tmp_path)
    assert r["peak_rss_gb"] > 0 and r["wall_seconds"] > 0
    assert [s["stage"] for s in r["stages"]][:3] == ["population", "behaviour", "records"]
    assert r["tables"]["residents.parquet"] == cfg["residents"]
    assert not (tmp_path / "smoke").exists()  # the run directory is cleaned up


def test_repeated_runs_report_the_median_and_every_run(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    cfg = {**tomllib.loads((BENCH.parent / "configs.toml").read_text())["smoke"], "days": 7}
    r = bench.run_repeated("smoke", cfg, tmp_path, 3)
    walls = sorted(x["wall_seconds"] for x in r["repeats"])
    assert len(walls) == 3
    assert r["wall_seconds_min_median_max"] == [walls[0], walls[1], walls[2]]
    assert r["wall_seconds"] == walls[1]
    assert r["peak_rss_gb_max"] == max(x["peak_rss_gb"] for x in r["repeats"])
    assert all(len(x["load_average_before"]) == 3 for x in r["repeats"])
