"""Destinations are checked before any work: bad ``--out`` values of ``run`` and
``report`` give one line at once, exit 2, and leave nothing behind."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from .helpers import TINY, cli, error_lines, leftovers

#: Refusals must come before the city is built (that alone takes longer).
AT_ONCE = 3.0


#: Real runs, child processes and signals: the full suite, not the fast subset.
pytestmark = pytest.mark.slow


def _refused_at_once(*args: object) -> list[str]:
    t0 = time.perf_counter()
    res = cli(*args)
    secs = time.perf_counter() - t0
    lines = error_lines(res)
    assert secs < AT_ONCE, f"refused only after {secs:.1f} s"
    assert "plan:" not in res.output  # nothing started
    return lines


@pytest.mark.parametrize("kind", ["loop", "loop_parent", "dangling", "dot", "empty",
                                  "dotdot", "file_parent"])
def test_bad_run_destinations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              kind: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    if kind in ("loop", "loop_parent"):
        os.symlink("b", work / "a")
        os.symlink("a", work / "b")
        out = "a" if kind == "loop" else "a/run"
    elif kind == "dangling":
        os.symlink(tmp_path / "nowhere" / "run", work / "r")
        out = "r"
    elif kind == "file_parent":
        (work / "f").write_text("x")
        out = "f/run"
    else:
        out = {"dot": ".", "empty": "", "dotdot": "sub/.."}[kind]
    lines = _refused_at_once("run", *TINY, "--out", out)
    assert len(lines) == 1, lines
    assert leftovers(work) == sorted(p.name for p in work.iterdir())  # nothing added
    assert not [p for p in tmp_path.rglob("*") if ".partial-" in p.name or
                p.name.endswith(".lock")]


def test_link_to_an_empty_directory_receives_the_run(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    res = cli("run", *TINY, "--out", tmp_path / "link")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "link").is_symlink() and (target / "manifest.json").is_file()
    assert leftovers(tmp_path) == ["link", "target"]


def test_report_into_an_existing_directory(tiny_run: Path, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    lines = _refused_at_once("report", tiny_run, "--out", tmp_path / "d")
    assert "is a directory" in lines[0]
    assert leftovers(tmp_path) == ["d"] and not list((tmp_path / "d").iterdir())


def test_report_over_an_existing_file_needs_overwrite(tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    out.write_text("mine\n", encoding="utf-8")
    lines = _refused_at_once("report", tiny_run, "--out", out)
    assert "--overwrite" in lines[0]
    assert out.read_text(encoding="utf-8") == "mine\n"
    res = cli("report", tiny_run, "--out", out, "--overwrite")
    assert res.exit_code == 0, res.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert leftovers(tmp_path) == ["r.html"]


@pytest.mark.parametrize("kind", ["file_parent", "loop_parent", "empty", "dangling"])
def test_bad_report_destinations(tiny_run: Path, tmp_path: Path, kind: str,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    if kind == "file_parent":
        (tmp_path / "f").write_text("x")
        out = "f/r.html"
    elif kind == "loop_parent":
        os.symlink("b", tmp_path / "a")
        os.symlink("a", tmp_path / "b")
        out = "a/r.html"
    elif kind == "dangling":
        os.symlink(tmp_path / "nowhere.html", tmp_path / "r.html")
        out = "r.html"
    else:
        out = ""
    before = leftovers(tmp_path)
    _refused_at_once("report", tiny_run, "--out", out)
    assert leftovers(tmp_path) == before


def test_report_failure_leaves_no_temporary_file(tiny_run: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import creditsim.report.html as html

    def boom(*_a: object, **_k: object) -> str:
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(html, "render_html", lambda run, audit=None: "x" * 10_000)
    monkeypatch.setattr(os, "fsync", boom)
    res = cli("report", tiny_run, "--out", tmp_path / "r.html")
    assert res.exit_code == 2
    assert leftovers(tmp_path) == []
