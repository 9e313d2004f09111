"""Result files of the benchmarks: every file says when it was measured and on what code.

``save(path, doc)`` writes ``doc`` with three fields in front:

* ``date``: when the result was written (UTC, ISO 8601);
* ``commit``: the git commit checked out in this repository (``git rev-parse HEAD``),
  or ``"unknown"`` when git or the repository is not available;
* ``commit_dirty``: whether the source (``src/``, ``pyproject.toml``, the benchmark
  scripts) differed from that commit, or ``null`` when unknown.

A result already at ``path`` is kept beside it as ``<stem>-<date>-<commit>.json``
(its own date and short commit), so ``<configuration>.json`` is always the latest
and every earlier measurement stays, under a name that says when and what.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: What "the code measured" is: the paths whose changes make a result differ.
SOURCE_PATHS = ("src", "pyproject.toml", "benchmarks", ":(exclude)benchmarks/results")


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True,
                              text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def stamp() -> dict[str, Any]:
    """``date``, ``commit`` and ``commit_dirty`` of a measurement made now."""
    commit = _git("rev-parse", "HEAD")
    dirty = None
    if commit is not None:
        status = _git("status", "--porcelain", "--untracked-files=no", "--", *SOURCE_PATHS)
        dirty = None if status is None else status != ""
    return {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "commit": commit or "unknown", "commit_dirty": dirty}


def archive_name(path: Path, doc: dict[str, Any]) -> Path:
    """Where an earlier result ``doc`` at ``path`` is kept: ``<stem>-<day>-<commit>.json``,
    with the time of day added when that name is taken (two sets on one commit and day)."""
    date = str(doc.get("date") or doc.get("measured") or "unknown")
    commit = str(doc.get("commit") or "unknown")[:7]
    out = path.with_name(f"{path.stem}-{date[:10]}-{commit}.json")
    if out.exists():
        out = path.with_name(f"{path.stem}-{date[:10]}-{commit}-{date[11:19].replace(':', '')}"
                             ".json")
    return out


def save(path: Path, doc: dict[str, Any]) -> Path:
    """Write ``doc``, stamped, to ``path``; an earlier result there is kept beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
        path.replace(archive_name(path, old if isinstance(old, dict) else {}))
    head = {"name": doc["name"]} if "name" in doc else {}
    out = {**head, **stamp(), **{k: v for k, v in doc.items() if k not in ("date", "commit")}}
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return path
