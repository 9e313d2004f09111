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
