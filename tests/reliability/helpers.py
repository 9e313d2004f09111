"""Helpers of the reliability suite: the CLI in process and in a child process (for
signals, locks and kills), manifest edits, waiting, what a directory holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

import creditsim
from creditsim.cli import app
from creditsim.rundir import sha256_file

runner = CliRunner()
#: No burn-in: these runs test the CLI and the run directory, not a warm stock.
TINY = ["--residents", "2000", "--days", "30", "--burn-in-days", "0", "--quiet"]
#: A run that lasts a few seconds (long enough to interrupt at a chosen stage).
SLOW = ["--residents", "30000", "--days", "300", "--burn-in-days", "0", "--quiet"]
#: The source tree of the creditsim under test (child processes import the same).
SRC = Path(creditsim.__file__).parents[1]


def cli(*args: str) -> Any:
    return runner.invoke(app, [str(a) for a in args])


def error_lines(res: Any) -> list[str]:
    """The output's lines, asserting the command failed with exit 2, one ``error:``
    line per problem and no traceback."""
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert lines and all(ln.startswith("error:") for ln in lines), res.output
    return lines


def edit_manifest(run: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    m = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    edit(m)
    (run / "manifest.json").write_text(json.dumps(m, indent=2), encoding="utf-8")


def reseal(run: Path, rel: str) -> None:
    """Record ``rel``'s current size and sha256 in the manifest (as if the run had
    written the file as it is now)."""
    section = "tables" if rel.endswith(".parquet") else "files"

    def edit(m: dict[str, Any]) -> None:
        m.setdefault(section, {}).setdefault(rel, {}).update(
            bytes=(run / rel).stat().st_size, sha256=sha256_file(run / rel))
    edit_manifest(run, edit)


def spawn(args: list[str], cwd: Path, code: str | None = None) -> subprocess.Popen[str]:
    """``creditsim ARGS`` in a child process (or Python ``code`` that runs it)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    cmd = [sys.executable, "-c", code or "from creditsim.cli import main; main()",
           *[str(a) for a in args]]
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for(cond: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def leftovers(parent: Path, keep: tuple[str, ...] = ()) -> list[str]:
    """Names in ``parent`` other than ``keep``."""
    return sorted(p.name for p in parent.iterdir() if p.name not in keep)
