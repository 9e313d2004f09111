"""A full disk is one located line, never a traceback, and leaves nothing behind.

The disk is filled by injection: each place a run or a report writes (Polars'
scratch files, pyarrow's tables in the background, JSON documents, DuckDB and
Splink inside linkage, the report's HTML) fails as it does on a full disk, with
the exception and message that library raises there. With root and
``CREDITSIM_TMPFS_TESTS=1``, runs are also made into small real tmpfs mounts.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from creditsim.cli import app
from creditsim.resources import disk_full_path

runner = CliRunner()
SMALL = ["--residents", "400", "--days", "120", "--burn-in-days", "0", "--quiet"]
FULL = "No space left on device"


#: Real runs, child processes and signals: the full suite, not the fast subset.
pytestmark = pytest.mark.slow


def _leftovers(where: Path) -> list[str]:
    return sorted(p.name for p in where.iterdir())


def _one_line(res: Any, located: str) -> str:
    """The command failed with exit 2 and exactly one error line, located at
    ``located``, saying how much space is needed."""
    assert res.exit_code == 2, (res.output, res.exception)
    assert "Traceback" not in res.output and "SELECT" not in res.output, res.output
    errs = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errs) == 1, res.output
    text = " ".join(res.output.split()[res.output.split().index("error:"):])
    assert text.startswith(f"error: {located}: no space left on device; about "), text
    assert " is needed in " in text and " free now)" in text, text
    return text


def _run(out: Path) -> Any:
    return runner.invoke(app, ["run", *SMALL, "--out", str(out)])


def test_scratch_written_by_polars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = pl.DataFrame.write_parquet

    def full(self: pl.DataFrame, file: Any, *a: Any, **k: Any) -> None:
        if "_work" in str(file):
            Path(file).write_bytes(b"PAR1 partial")
            raise pl.exceptions.ComputeError(
                "parquet: File out of specification: underlying IO error: "
                f"{FULL} (os error 28)")
        real(self, file, *a, **k)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    _one_line(_run(tmp_path / "r"), str(tmp_path / "r"))
    assert _leftovers(tmp_path) == []


def test_tables_written_by_pyarrow_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    def full(table: Any, where: Any, **k: Any) -> None:
        Path(where).write_bytes(b"PAR1 partial")
        raise OSError(f"Error writing bytes to file. Detail: [errno 28] {FULL}")

    monkeypatch.setattr(pq, "write_table", full)
    _one_line(_run(tmp_path / "r"), str(tmp_path / "r"))
    assert _leftovers(tmp_path) == []


def test_json_documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from creditsim.rundir import RunWriter

    def full(self: RunWriter, rel: str, obj: Any) -> None:
        (self.tmp / rel).write_text("{", encoding="utf-8")
        raise OSError(errno.ENOSPC, FULL)

    monkeypatch.setattr(RunWriter, "write_json", full)
    _one_line(_run(tmp_path / "r"), str(tmp_path / "r"))
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", ["io", "temp_directory"])
def test_duckdb_inside_splink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              kind: str) -> None:
    """Splink wraps DuckDB's error in a SplinkException that quotes its SQL; the
    line names the file DuckDB could not write (or the run) and no SQL."""
    import duckdb
    from splink.internals.duckdb.database_api import DuckDBAPI

    spill = tmp_path / ".r.partial" / "duckdb_tmp" / "duckdb_temp_storage-0.tmp"
    calls: list[str] = []

    def full(self: Any, sql: str) -> Any:
        calls.append(sql)
        if kind == "io":
            raise duckdb.IOException(
                f'IO Error: Could not write file "{spill}": {FULL}')
        raise duckdb.OutOfMemoryException(
            "Out of Memory Error: failed to offload data block of size 256.0 KiB "
            "(800.0 KiB/921.5 KiB used).\nThis limit was set by the "
            "'max_temp_directory_size' setting.")

    monkeypatch.setattr(DuckDBAPI, "_execute_sql_against_backend", full)
    res = _run(tmp_path / "r")
    assert calls, "the run did not reach Splink"
    _one_line(res, str(spill) if kind == "io" else str(tmp_path / "r"))
    assert _leftovers(tmp_path) == []


def test_report_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = tmp_path / "r"
    assert runner.invoke(app, ["run", "--residents", "300", "--days", "60", "--burn-in-days", "0",
                               "--quiet", "--out", str(run_dir)]).exit_code == 0
    out = tmp_path / "rep" / "report.html"
    out.parent.mkdir()
    _full_under(monkeypatch, out.parent, after=1000)
    res = runner.invoke(app, ["report", str(run_dir), "--out", str(out)])
    _one_line(res, str(out))
    assert _leftovers(out.parent) == []


def _full_under(monkeypatch: pytest.MonkeyPatch, where: Path, after: int) -> None:
    """Files opened for writing under ``where`` take ``after`` bytes, then fail
    with ENOSPC (as a full disk does), through every Python way to open one."""
    import _io
    import builtins

    real_open = io.open

    class Full(io.RawIOBase):
        def __init__(self, f: Any):
            self.f, self.left = f, after

        def writable(self) -> bool:
            return True

        def write(self, b: Any) -> int:
            n = min(len(b), self.left)
            self.f.write(bytes(b[:n]))
            self.f.flush()
            self.left -= n
            if n < len(b):
                raise OSError(errno.ENOSPC, FULL)
            return n

        def close(self) -> None:
            self.f.close()
            super().close()

    def fake_open(file: Any, mode: str = "r", *a: Any, **k: Any) -> Any:
        target = os.readlink(f"/proc/self/fd/{file}") if isinstance(file, int) else file
        if not any(c in mode for c in "wax+") or not str(Path(target).absolute()).startswith(
                str(where)):
            return real_open(file, mode, *a, **k)
        raw = Full(real_open(file, "r+b" if "+" in mode else mode.replace("t", "") +
                             ("" if "b" in mode else "b"), buffering=0))
        if "b" in mode:
            return raw
        return io.TextIOWrapper(io.BufferedWriter(raw), encoding=k.get("encoding", "utf-8"))

    for mod in (io, _io, builtins):
        monkeypatch.setattr(mod, "open", fake_open)


def test_disk_full_is_recognised_only_for_a_full_disk() -> None:
    assert disk_full_path(OSError(errno.ENOSPC, FULL, "/x/y")) == (True, "/x/y")
    try:
        try:
            raise OSError(errno.ENOSPC, FULL)
        except OSError as inner:
            raise RuntimeError("Error executing the following sql ...") from inner
    except RuntimeError as e:
        assert disk_full_path(e) == (True, None)
    assert disk_full_path(OSError(errno.EACCES, "Permission denied", "/x")) == (False, None)
    assert disk_full_path(ValueError("no space here")) == (False, None)


# ----------------------------------------------------------------------------- real disks


def _can_mount() -> bool:
    return (os.environ.get("CREDITSIM_TMPFS_TESTS") == "1" and hasattr(os, "geteuid")
            and os.geteuid() == 0 and shutil.which("mount") is not None)


@pytest.mark.skipif(not _can_mount(), reason="opt-in: root and CREDITSIM_TMPFS_TESTS=1")
@pytest.mark.parametrize("size", ["1m", "3m", "4m"])
def test_real_full_tmpfs(tmp_path: Path, size: str) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                   check=True)
    try:
        res = subprocess.run(
            [sys.executable, "-m", "creditsim", "run", "--residents", "20000", "--days", "365",
             "--quiet", "--force", "--out", str(mnt / "r")], capture_output=True, text=True,
            env={**os.environ, "COLUMNS": "200"})
        assert res.returncode == 2, res.stderr
        assert "Traceback" not in res.stderr
        lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
        assert len(lines) == 1 and "no space left on device; about" in lines[0], res.stderr
        assert _leftovers(mnt) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
