"""Linkage's register index, built in a background thread beside the behaviour and
records stages, gives the run it would give built in the linkage stage; a failure
there fails the run and leaves nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from creditsim import pipeline
from creditsim.config import make_config


def _digests(out: Path) -> dict[str, str]:
    m = json.loads((out / "manifest.json").read_text())
    return {k: v["sha256"] for k, v in m["tables"].items()}


def test_background_index_changes_nothing(tmp_path: Path) -> None:
    cfg = make_config(residents=4000, days=90, seed=5)
    a = pipeline.run(cfg, tmp_path / "bg", background=True)
    b = pipeline.run(cfg, tmp_path / "fg", background=False)
    assert _digests(tmp_path / "bg") == _digests(tmp_path / "fg")
    assert (tmp_path / "bg" / "linkage.json").read_text() == \
        (tmp_path / "fg" / "linkage.json").read_text()
    steps = {s["stage"]: s.get("steps", {}) for s in a.manifest["stages"]}
    assert steps["linkage"]["register_index_background"] > 0
    assert steps["linkage"]["metrics_background"] > 0
    assert "register_index_background" not in \
        {s["stage"]: s.get("steps", {}) for s in b.manifest["stages"]}["linkage"]


@pytest.mark.parametrize(("module", "name", "message"), [
    ("creditsim.pipeline", "prepare_register", "index failed"),  # beside behaviour, records
    ("creditsim.pipeline", "demand_totals", "totals failed"),  # taken by the platform stage
    ("creditsim.linkage.stage", "_metrics", "metrics failed"),  # beside the platform stage
])
def test_background_failure_fails_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          module: str, name: str, message: str) -> None:
    """Work done in the background thread fails the run if it fails, and nothing is
    left behind (the metrics fail after every stage has finished)."""
    import importlib

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError(message)

    monkeypatch.setattr(importlib.import_module(module), name, broken)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match=message):
        pipeline.run(make_config(residents=2000, days=30), out)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_background_thread_does_not_deadlock(tmp_path: Path) -> None:
    """Regression: the background thread once shared the residents frame with the
    main thread's Parquet conversion, and about one run in three hung for ever (a
    frame lock against the GIL): 6 of 20 small runs hung before the fix, and this
    test failed at its first run. Eight runs, each in a child process with a time
    limit."""
    import subprocess
    import sys

    for i in range(8):
        out = tmp_path / f"r{i}"
        cmd = [sys.executable, "-m", "creditsim", "run", "--quiet", "--residents",
               str(100_000 + 25_000 * (i % 3)), "--days", "60", "--seed", str(i),
               "--out", str(out)]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail(f"run {i} hung (deadlock?)")
        assert done.returncode == 0, done.stderr.decode()[-2000:]


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"),
                    reason="per-thread priority is a Linux feature")
def test_background_thread_runs_at_lowest_priority() -> None:
    """Only the calling thread is lowered (Linux priorities are per thread)."""
    import os
    import threading

    seen: list[int] = []

    def work() -> None:
        pipeline._lower_priority()
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    th = threading.Thread(target=work)
    th.start()
    th.join()
    assert seen == [19]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < 19
