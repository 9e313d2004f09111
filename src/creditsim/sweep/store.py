"""The sweep directory: its jobs, the index and the checks of ``--resume``/``--expand``.

::

    DIR/sweep.json          what the sweep computes: schema, spec text, every job's key
    DIR/spec.toml           the spec as given
    DIR/index.parquet       one row per job (docs/sweep.md), rebuilt from jobs/
    DIR/jobs/<cell>/<rep>/  one job: summary.json, audit.json, job.json, run/ (keep =
                            "tables"), and last the marker ``done`` (or ``failed``)

A job is written in a hidden sibling ``.<rep>.partial-<pid>-<random>`` and renamed
into place after its marker, so a directory ``jobs/<cell>/<rep>`` is always
complete, and a killed sweep leaves only temporary directories, which the next
start removes. The index is rebuilt from the job directories in the spec's job
order, so it never depends on the order in which jobs finished.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from creditsim import fsops
from creditsim.errors import CreditsimError, Problem
from creditsim.rundir import TEMP_NAME
from creditsim.sweep.spec import SCHEMA, Job, Spec

SWEEP_DOC = "sweep.json"
INDEX = "index.parquet"
LOCK = ".sweep.lock"
DONE, FAILED, JOB_DOC = "done", "failed", "job.json"
#: Index columns that depend on the machine and the moment, not on the results.
TIMING_COLUMNS = ("seconds", "cpu_seconds", "peak_rss_mb")


class SweepError(CreditsimError):
    """The sweep directory cannot be used as asked."""


def job_dir(root: Path, job: Job) -> Path:
    return root / "jobs" / job.cell / f"{job.replicate:04d}"


def status(root: Path, job: Job) -> str:
    """``done``, ``failed`` or ``missing`` (a directory from another spec counts as missing)."""
    d = job_dir(root, job)
    for marker in (DONE, FAILED):
        if (d / marker).exists():
            return marker if _key(d) == job.key else "missing"
    return "missing"


def _key(d: Path) -> str | None:
    try:
        return json.loads((d / JOB_DOC).read_text(encoding="utf-8")).get("key")
    except (OSError, ValueError):
        return None


def prepare(root: Path, spec: Spec, resume: bool, expand: bool) -> fsops.Lock:
    """Check that the sweep may run into ``root`` and take its lock. A new sweep needs
    an empty or absent ``root``; ``resume`` the same jobs as the sweep there;
    ``expand`` every job of the sweep there, unchanged (arms and replicates may be
    added). Nothing is written before every check has passed."""
    doc_path = root / SWEEP_DOC
    if doc_path.exists():
        if not (resume or expand):
            raise SweepError(Problem("already holds a sweep: --resume to finish it, "
                                     "--expand to add arms or replicates", str(root)))
        _check_same(json.loads(doc_path.read_text(encoding="utf-8")), spec, expand, root)
    elif root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise SweepError(Problem("exists and is not a sweep directory (choose another --out)",
                                 str(root)))
    bad = fsops.unwritable_ancestor(root)
    if bad:
        raise SweepError(Problem(bad, str(root)))
    root.mkdir(parents=True, exist_ok=True)
    try:
        lock = fsops.take_lock(root / LOCK)
    except fsops.LockBusy as e:
        raise SweepError(Problem(f"another sweep (pid {e.holder}) is running into it",
                                 str(root))) from None
    return lock


def _check_same(old: dict[str, Any], spec: Spec, expand: bool, root: Path) -> None:
    old_jobs: dict[str, str] = old.get("jobs", {})
    new_jobs = {j.rel: j.key for j in spec.jobs}
    changed = sorted(r for r, k in old_jobs.items() if new_jobs.get(r, k) != k)
    removed = sorted(set(old_jobs) - set(new_jobs))
    added = sorted(set(new_jobs) - set(old_jobs))
    problems = [Problem("job changed: its configuration differs from the sweep's", f"{root} {r}")
                for r in changed[:20]]
    problems += [Problem("job not in the new spec (an expansion only adds)", f"{root} {r}")
                 for r in removed[:20]]
    if not expand and added:
        problems.append(Problem(f"the spec adds {len(added)} jobs: use --expand", str(root)))
    if problems:
        raise SweepError(problems)


def write_sweep_doc(root: Path, spec: Spec) -> None:
    doc = {"schema": SCHEMA, "spec_origin": spec.origin, "spec": spec.text,
           "resized": spec.resized, "parameters": list(spec.parameter_keys),
           "keep": spec.keep,
           "jobs": {j.rel: j.key for j in spec.jobs}}
    fsops.write_atomic(root / "spec.toml", lambda f: f.write(spec.text.encode("utf-8")))
    _write_json(root / SWEEP_DOC, doc)


def _write_json(path: Path, doc: Any) -> None:
    data = (json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode()
    fsops.write_atomic(path, lambda f: f.write(data))


def remove_stale(root: Path, gone: Iterable[int] = ()) -> list[str]:
    """Remove the temporary job directories of processes that are not running (or
    are in ``gone``: workers the caller has just killed); returns what it removed."""
    removed = []
    for d in sorted((root / "jobs").glob("*/.*")):
        m = TEMP_NAME.match(d.name)
        if not m:
            continue
        pid = int(m["pid"])
        if pid in gone or not fsops.pid_alive(pid):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(str(d.relative_to(root)))
    return removed


def clear_failed(root: Path, jobs: Sequence[Job]) -> None:
    for j in jobs:
        d = job_dir(root, j)
        if d.exists():
            shutil.rmtree(d, ignore_errors=True)


def index_frame(root: Path, spec: Spec) -> pl.DataFrame:
    """One row per job of ``spec`` in job order: job, arm, arm_index, point,
    replicate, seed, one ``param.KEY`` column per design key, status, seconds,
    cpu_seconds, peak_rss_mb, error."""
    rows = []
    for j in spec.jobs:
        st = status(root, j)
        doc: dict[str, Any] = {}
        if st != "missing":
            doc = json.loads((job_dir(root, j) / JOB_DOC).read_text(encoding="utf-8"))
        rows.append({"job": j.rel, "arm": j.arm, "arm_index": j.arm_index, "point": j.point,
                     "replicate": j.replicate, "seed": j.seed,
                     **{f"param.{k}": j.values.get(k) for k in spec.parameter_keys},
                     "status": st, "seconds": doc.get("seconds"),
                     "cpu_seconds": doc.get("cpu_seconds"),
                     "peak_rss_mb": doc.get("peak_rss_mb"), "error": doc.get("error")})
    schema = {"job": pl.String, "arm": pl.String, "arm_index": pl.Int32, "point": pl.Int32,
              "replicate": pl.Int32, "seed": pl.Int64,
              **{f"param.{k}": pl.Float64 for k in spec.parameter_keys},
              "status": pl.String, "seconds": pl.Float64, "cpu_seconds": pl.Float64,
              "peak_rss_mb": pl.Float64,
              "error": pl.String}
    return pl.DataFrame(rows, schema=schema)


def write_index(root: Path, spec: Spec) -> pl.DataFrame:
    df = index_frame(root, spec)
    fsops.write_atomic(root / INDEX, lambda f: df.write_parquet(f, statistics=False))
    return df


def read_sweep_doc(root: Path) -> dict[str, Any]:
    try:
        doc = json.loads((root / SWEEP_DOC).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError(Problem("not a sweep directory (no sweep.json)", str(root))) from None
    except (OSError, ValueError) as e:
        raise SweepError(Problem(f"cannot read sweep.json: {e}", str(root))) from None
    if doc.get("schema") != SCHEMA:
        raise SweepError(Problem(f"unknown sweep schema {doc.get('schema')!r}", str(root)))
    return doc
