"""Running a sweep's jobs: a pool of worker processes, one job per task.

Workers are started with ``spawn`` (a fresh interpreter, nothing inherited from the
parent's threads) and replaced after ``tasks_per_worker`` jobs, so that memory the
allocator keeps does not pile up; several jobs in one worker share the import of
the package. On Linux each worker asks to be killed when the sweep's process dies
(``PR_SET_PDEATHSIG``), so a killed sweep leaves no worker writing behind it.

A job (:func:`run_job`) runs the pipeline into its temporary directory, audits the
run through the library, writes ``summary.json`` and ``audit.json`` (the same bytes
whatever the worker, the machine's load or the order of jobs), ``job.json`` (its
seconds and peak memory) and its marker last, then renames the directory into place.

Peak memory per job: on Linux the worker resets its high-water mark before each job
(``/proc/self/clear_refs`` ← 5) and reads ``VmHWM`` after it, so ``peak_rss_mb`` is
the worker's peak resident memory during that job — its own allocations plus what
the interpreter and earlier jobs left resident. Where the reset is not possible it
is the worker's peak so far (``getrusage``), and ``job.json`` says so.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from creditsim import fsops

#: Jobs a worker runs before it is replaced (memory hygiene vs. start-up cost).
TASKS_PER_WORKER = 16
#: Jobs this process has run before the current one (``worker_job`` in job.json: the
#: first job of a worker pays the imports and the first use of Splink and DuckDB).
_jobs_before = [0]


@dataclass(frozen=True)
class Task:
    """What a worker needs for one job (picklable; the config as JSON)."""

    root: str
    rel: str
    key: str
    meta: dict[str, Any]  # arm, point, replicate, seed, values
    config: dict[str, Any]
    keep_tables: bool
    by: tuple[str, ...] | None


@dataclass(frozen=True)
class Outcome:
    rel: str
    status: str  # "done" or "failed"
    seconds: float
    error: str | None


def _worker_init(parent: int) -> None:
    """Die with the sweep's process (Linux), and not be stopped by the terminal's
    Ctrl-C directly: the parent stops the workers it started."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _cpu() -> float:
    """CPU seconds (user + system) of this process so far, all its threads."""
    import resource

    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_mb(reset: bool) -> float:
    if reset:
        try:
            with open("/proc/self/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return round(int(line.split()[1]) / 1024, 1)
        except (OSError, ValueError):
            pass
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round((kb if sys.platform != "darwin" else kb / 1024) / 1024, 1)


def run_job(task: Task) -> Outcome:
    """One job, from its configuration to its directory in place (see the module)."""
    final = Path(task.root) / "jobs" / task.rel
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.partial-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()
    exact = _reset_peak()
    t0, c0 = time.perf_counter(), _cpu()
    error, stages = None, None
    try:
        stages = _compute(task, tmp)
    except Exception as e:  # a failed job is recorded and the sweep goes on
        error = "".join(traceback.format_exception_only(type(e), e)).strip()
        shutil.rmtree(tmp / "run", ignore_errors=True)
    seconds, cpu = round(time.perf_counter() - t0, 3), round(_cpu() - c0, 3)
    status = "failed" if error else "done"
    doc = {"key": task.key, **task.meta, "status": status, "seconds": seconds,
           "cpu_seconds": cpu,
           "peak_rss_mb": _peak_mb(exact),
           "peak_rss": "during this job" if exact else "worker so far",
           "worker_pid": os.getpid(), "worker_job": _jobs_before[0],
           "error": error, "stages": stages, "config": task.config}
    _jobs_before[0] += 1
    _write(tmp / "job.json", json.dumps(doc, indent=2) + "\n")
    _write(tmp / status, "")
    try:
        fsops.rename_noreplace(tmp, final)
    except FileExistsError:  # another process finished the same job first
        shutil.rmtree(tmp, ignore_errors=True)
    return Outcome(task.rel, status, seconds, error)


def _write(path: Path, text: str) -> None:
    fsops.write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def _compute(task: Task, tmp: Path) -> list[dict[str, Any]]:
    """Run, audit, write the job's result files; returns the run's stage timings and
    two more entries (``run_total``, ``audit_and_write``) for ``job.json``."""
    from creditsim.api import open_run
    from creditsim.config import RunConfig
    from creditsim.pipeline import run
    from creditsim.sweep.summary import job_metrics

    cfg = RunConfig.model_validate(task.config)
    t0 = time.perf_counter()
    manifest = run(cfg, tmp / "run").manifest
    t1 = time.perf_counter()
    audit = open_run(tmp / "run", verify=False).audit(by=task.by).data
    audit["run"]["path"] = "run"  # relative: the same bytes wherever the sweep lives
    _write(tmp / "audit.json", json.dumps(audit, indent=2, ensure_ascii=False) + "\n")
    summary = {"job": {"job": task.rel, **task.meta}, "metrics": job_metrics(audit)}
    _write(tmp / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    if not task.keep_tables:
        shutil.rmtree(tmp / "run")
    return [*manifest["stages"], {"stage": "run_total", "seconds": round(t1 - t0, 3)},
            {"stage": "audit_and_write", "seconds": round(time.perf_counter() - t1, 3)}]


@dataclass(frozen=True)
class PoolOptions:
    workers: int = 1
    tasks_per_worker: int = TASKS_PER_WORKER


def run_tasks(tasks: Sequence[Task], options: PoolOptions,
              on_done: Callable[[Outcome], None],
              on_abort: Callable[[list[int]], None] = lambda pids: None) -> list[Outcome]:
    """Run ``tasks`` on ``options.workers`` processes, calling ``on_done`` as each
    finishes (in the parent). If the parent is interrupted (a signal, an error), the
    workers are killed at once (the jobs in flight are lost), ``on_abort`` gets their
    PIDs, and the exception goes on. Outcomes are returned in the order of ``tasks``."""
    import multiprocessing as mp

    if not tasks:
        return []
    threads = max(1, (os.cpu_count() or 1) // max(1, options.workers))
    saved = os.environ.get("POLARS_MAX_THREADS")
    # Each worker uses its share of the cores (read by Polars when it loads, in the
    # worker); inherited by every worker spawned while the pool lives.
    os.environ["POLARS_MAX_THREADS"] = str(threads)
    pool = ProcessPoolExecutor(max_workers=options.workers, mp_context=mp.get_context("spawn"),
                               max_tasks_per_child=options.tasks_per_worker,
                               initializer=_worker_init, initargs=(os.getpid(),))
    try:
        futures: dict[Future[Outcome], int] = {pool.submit(run_job, t): i
                                               for i, t in enumerate(tasks)}
        out: list[Outcome | None] = [None] * len(tasks)
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                o = _outcome(f, tasks[futures[f]])
                out[futures[f]] = o
                on_done(o)
        pool.shutdown(wait=True)
    except BaseException:
        on_abort(_kill_workers(pool))
        raise
    finally:
        if saved is None:
            os.environ.pop("POLARS_MAX_THREADS", None)
        else:
            os.environ["POLARS_MAX_THREADS"] = saved
    return [o for o in out if o is not None]


def _kill_workers(pool: ProcessPoolExecutor) -> list[int]:
    """Kill the pool's worker processes (by their PIDs; they are this process's
    children) and shut the pool down without waiting for their jobs."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for proc in procs:
        if proc.is_alive():
            proc.kill()
    for proc in procs:
        proc.join(timeout=10)
    pool.shutdown(wait=False, cancel_futures=True)
    return [proc.pid for proc in procs if proc.pid]


def _outcome(f: Future[Outcome], task: Task) -> Outcome:
    """A worker that died (killed, out of memory) fails its job; the pool goes on."""
    try:
        return f.result()
    except Exception as e:
        return Outcome(task.rel, "crashed", 0.0, f"{type(e).__name__}: {e}")
