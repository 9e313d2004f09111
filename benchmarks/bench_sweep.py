"""The sweep benchmark: wall time of a sweep and where each job's seconds go.

    .venv/bin/python benchmarks/bench_sweep.py                      # 2 arms × 50 at 1:100 × 365
    .venv/bin/python benchmarks/bench_sweep.py --residents 21893 --arms 1 --replicates 6
    .venv/bin/python benchmarks/bench_sweep.py --replicates 4 --save   # results/sweep-….json

Arms are the ``beijing`` and ``spc-list`` policies (``--arms 1``: beijing only). The
sweep runs into a temporary directory that is removed afterwards. The result lists
the wall time, every job's seconds and peak memory (the index's columns), and the
median seconds per stage over the jobs, separately for each worker's first job (which
pays the imports and the first use of Splink and DuckDB) and for the others.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from resultfile import save  # noqa: E402

from creditsim.sweep.api import Options, run_sweep  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def spec(residents: int, days: int, replicates: int, arms: int) -> dict:
    policies = ["beijing", "spc-list"][:arms]
    return {"replicates": replicates, "seed": 1,
            "base": {"residents": residents, "days": days},
            "arms": [{"name": p, "policy": p} for p in policies]}


def stage_medians(jobs: list[dict]) -> dict[str, float]:
    by: dict[str, list[float]] = {}
    for j in jobs:
        for s in j.get("stages") or []:
            by.setdefault(s["stage"], []).append(float(s["seconds"]))
            for step, secs in (s.get("steps") or {}).items():
                by.setdefault(f"{s['stage']}.{step}", []).append(float(secs))
    return {k: round(statistics.median(v), 3) for k, v in by.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--residents", type=int, default=218_930)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--replicates", type=int, default=50)
    ap.add_argument("--arms", type=int, choices=(1, 2), default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tasks-per-worker", type=int, default=16)
    ap.add_argument("--save", action="store_true", help="write benchmarks/results/sweep-….json")
    ap.add_argument("--results", type=Path, default=RESULTS)
    a = ap.parse_args(argv)
    if a.residents > 1_000_000:
        ap.error("at most 1,000,000 residents per job here")
    work = Path(tempfile.mkdtemp(prefix="creditsim-bench-sweep-"))
    try:
        t0 = time.perf_counter()
        sw = run_sweep(spec(a.residents, a.days, a.replicates, a.arms), work / "sw",
                       Options(workers=a.workers, tasks_per_worker=a.tasks_per_worker))
        wall = time.perf_counter() - t0
        idx = sw.index
        jobs = [json.loads((work / "sw" / "jobs" / j / "job.json").read_text())
                for j in idx["job"]]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    first = [j for j in jobs if j.get("worker_job") == 0]
    later = [j for j in jobs if j.get("worker_job", 0) > 0]
    doc = {"name": f"sweep-{a.residents}x{a.days}-{a.arms}x{a.replicates}-w{a.workers}",
           "config": vars(a) | {"results": None}, "jobs": len(jobs),
           "status": dict(idx["status"].value_counts().iter_rows()),
           "wall_seconds": round(wall, 1),
           "job_seconds": {"median": round(float(idx["seconds"].median()), 2),
                           "min": round(float(idx["seconds"].min()), 2),
                           "max": round(float(idx["seconds"].max()), 2)},
           "job_cpu_seconds_median": round(float(idx["cpu_seconds"].median()), 2),
           "peak_rss_mb_max": float(idx["peak_rss_mb"].max()),
           "stages_first_job_of_worker": stage_medians(first),
           "stages_later_jobs": stage_medians(later),
           "per_job": idx.select("job", "seconds", "cpu_seconds", "peak_rss_mb").to_dicts()}
    print(json.dumps({k: v for k, v in doc.items() if k != "per_job"}, indent=2))
    if a.save:
        print(save(a.results / f"{doc['name']}.json", doc))
    return 0 if idx["status"].eq("done").all() else 1


if __name__ == "__main__":
    sys.exit(main())
