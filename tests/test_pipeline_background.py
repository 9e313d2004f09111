"""Linkage's register index, built in a background thread beside the behaviour and
records stages, gives the run it would give built in the linkage stage; a failure
there fails the run and leaves nothing behind."""

from __future__ import annotations

import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import polars as pl
import pytest

from creditsim import pipeline
from creditsim.config import make_config


def _digests(out: Path) -> dict[str, str]:
    m = json.loads((out / "manifest.json").read_text())
    return {k: v["sha256"] for k, v in m["tables"].items()}


@pytest.mark.slow
def test_background_index_changes_nothing(tmp_path: Path) -> None:
    cfg = make_config(residents=4000, days=90, burn_in_days=0, seed=5)
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
    ("creditsim.pipeline", "resident_cells", "cells failed"),  # taken by the platform stage
    pytest.param("creditsim.linkage.stage", "_metrics", "metrics failed",  # beside platform
                 marks=pytest.mark.slow),
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
        pipeline.run(make_config(residents=2000, days=30, burn_in_days=0), out)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def _frames(obj: object) -> list[pl.DataFrame]:
    """The frames in ``obj``: a frame, or inside partials, tuples, lists, dicts and
    dataclass instances."""
    if isinstance(obj, pl.DataFrame):
        return [obj]
    if isinstance(obj, partial):
        return _frames((obj.func, obj.args, obj.keywords))
    if isinstance(obj, (tuple, list)):
        return [f for x in obj for f in _frames(x)]
    if isinstance(obj, dict):
        return [f for x in obj.values() for f in _frames(x)]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):  # StageInput, StageOutput
        return _frames([getattr(obj, f.name) for f in dataclasses.fields(obj)])
    return []


@pytest.mark.slow
def test_background_thread_gets_frames_no_stage_uses(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule that keeps the background thread from deadlocking against the stages:
    every frame handed to it is a frame object of its own (``df.clone()``: the same
    buffers), never one a stage reads or returns. Polars locks each Python-side frame,
    and a frame used from two threads at once can deadlock (one thread holds the
    frame's lock waiting for the GIL, the other holds the GIL waiting for the lock);
    with the residents frame shared, about one small run in three hangs. Checked on
    every job the run submits, so it fails for a job handed a shared frame whether or
    not that run happens to hang."""
    handed: list[pl.DataFrame] = []
    used: list[pl.DataFrame] = []  # held, so no object id is reused during the run

    class Recording(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            handed.extend(_frames((fn, args, kwargs)))
            return super().submit(fn, *args, **kwargs)

    def recorded(fn):  # noqa: ANN001, ANN202
        def stage_fn(ctx, tables):  # noqa: ANN001, ANN202
            used.extend(_frames(tables))
            out = fn(ctx, tables)
            used.extend(_frames(out))
            return out
        return stage_fn

    monkeypatch.setattr(pipeline, "ThreadPoolExecutor", Recording)
    monkeypatch.setattr(pipeline, "PLAN", [dataclasses.replace(st, fn=recorded(st.fn))
                                           for st in pipeline.PLAN])
    pipeline.run(make_config(residents=2000, days=30, burn_in_days=0), tmp_path / "run")
    assert len(handed) >= 3 and used  # register index, demand, linkage metrics
    shared = [f.columns[:3] for f in handed if any(f is u for u in used)]
    assert not shared, f"frames shared with the stages: {shared}"


@pytest.mark.fuzz
def test_background_thread_does_not_deadlock(tmp_path: Path) -> None:
    """Opt-in (``pytest -m fuzz``): eight real runs, each in a child process with a
    time limit. A shared frame makes about one small run in three hang; the rule
    itself is checked deterministically by the test above."""
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
