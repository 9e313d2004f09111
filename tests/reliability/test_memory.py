"""Runs that would not fit are refused before any work (exit 2, both figures
named), or with ``--force`` warned about and run; the estimates are at or above
every measured peak and not far above."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from typer.testing import CliRunner

from creditsim import resources
from creditsim.cli import app
from creditsim.resources import GiB, estimate

runner = CliRunner()
RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


class _Memory(NamedTuple):
    available: int
    total: int = 24 * GiB


@pytest.fixture
def no_computation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail at once (rather than compute for hours) if a run gets past its checks."""
    import creditsim.pipeline

    def started(*a: Any, **k: Any) -> None:
        raise AssertionError("the run started computing")

    monkeypatch.setattr(creditsim.pipeline, "run", started)


def _memory(monkeypatch: pytest.MonkeyPatch, available: int) -> None:
    monkeypatch.setattr(resources.psutil, "virtual_memory", lambda: _Memory(available))


def test_a_billion_residents_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_computation: None
) -> None:
    _memory(monkeypatch, 20 * GiB)
    out = tmp_path / "big"
    res = runner.invoke(app, ["run", "--residents", "1000000000", "--burn-in-days", "0",
                              "--out", str(out)])
    assert res.exit_code == 2, (res.output, res.exception)
    text = " ".join(res.output.split())
    need = estimate(1_000_000_000, 365).memory / GiB
    assert "error: --residents: a run of 1,000,000,000 residents x 365 days needs about" in text
    assert f"{need:,.1f} GiB of memory" in text and "20.0 GiB is available" in text, text
    assert "--force" in text and "plan:" not in text
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_force_warns_and_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _memory(monkeypatch, 1 << 20)
    out = tmp_path / "r"
    res = runner.invoke(app, ["run", "--residents", "200", "--days", "30", "--quiet",
                              "--burn-in-days", "0", "--out", str(out), "--force"])
    assert res.exit_code == 0, (res.output, res.exception)
    text = " ".join(res.output.split())
    assert "warning: --residents: a run of 200 residents x 30 days needs about" in text
    assert "1.0 MiB is available" in text and f"complete: {out}" in text


def test_a_disk_too_small_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     no_computation: None) -> None:
    monkeypatch.setattr(resources.shutil, "disk_usage",
                        lambda p: resources.shutil._ntuple_diskusage(10 * GiB, 9 * GiB, GiB))
    res = runner.invoke(app, ["run", "--residents", "21893095", "--burn-in-days", "0",
                              "--out", str(tmp_path / "r")])
    assert res.exit_code == 2, (res.output, res.exception)
    text = " ".join(res.output.split())
    need = estimate(21_893_095, 365).disk / GiB
    assert f"error: {tmp_path}: the run needs about {need:,.1f} GiB of disk here" in text, text
    assert "1.0 GiB is free" in text


def _measured() -> list[tuple[int, int, float, str]]:
    """(residents, days, peak GiB, file) of every measured peak."""
    out = []
    for name in ("b100k", "b1m", "b5m", "full"):
        d = json.loads((RESULTS / f"{name}.json").read_text())
        peaks = [d["peak_rss_gb"], *(r["peak_rss_gb"] for r in d.get("repeats", []))]
        out.append((d["config"]["residents"], d["config"]["days"], max(peaks), name))
    d = json.loads((RESULTS / "resources.json").read_text())
    out += [(m["residents"], m["days"], m["peak_rss_gb"], "resources") for m in
            d["memory_peak_gib"]]
    return out


def test_memory_estimate_covers_every_measured_peak() -> None:
    for residents, days, peak, name in _measured():
        est = estimate(residents, days).memory / GiB
        assert peak <= est <= 1.1 * peak + 0.25, (name, residents, days, peak, est)


def test_disk_estimate_covers_every_measured_peak() -> None:
    d = json.loads((RESULTS / "resources.json").read_text())
    for m in d["disk_peak_bytes"]:
        est = estimate(m["residents"], m["days"]).disk
        assert m["peak"] <= est <= 1.5 * m["peak"] + (8 << 20), (m, est)
