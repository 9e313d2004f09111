"""Benchmark the first three stages — population, behaviour, records — in-process.

    .venv/bin/python benchmarks/bench_city.py [--residents 21893095] [--feedback]

Prints each stage's seconds (wall and CPU, all threads) and the process's
peak resident memory after it (``ru_maxrss``), and writes
``benchmarks/results/city-<residents>[-feedback].json`` (with the date and the
commit measured; the result it replaces is kept beside it: ``resultfile.py``). By
default behavioural feedback is off, so the behaviour stage draws exactly the
events the city produces (with ``--feedback`` it also draws the "boost"
candidates the platform loop may keep).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from creditsim import pipeline
from creditsim.config import make_config
from creditsim.platform import FeedbackModel, LoopModels

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))  # resultfile.py beside this script

import resultfile  # noqa: E402


def _cpu() -> float:
    """User + system CPU seconds of this process, all threads (a check on wall
    times taken while other jobs share the machine)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--residents", type=int, default=21_893_095)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--feedback", action="store_true")
    args = ap.parse_args()
    cfg = make_config(residents=args.residents, days=args.days, feedback=args.feedback)
    out: dict = {"residents": args.residents, "days": args.days, "feedback": args.feedback,
                 "loadavg_before": _loadavg(), "stages": []}
    with tempfile.TemporaryDirectory() as tmp:
        ctx = pipeline.RunContext(config=cfg, workdir=Path(tmp), run_dir=Path(tmp),
                                  progress=lambda s, f: None,
                                  loop_models=LoopModels(feedback=FeedbackModel(
                                      enabled=args.feedback)))
        tables: dict = {}
        t_all = time.perf_counter()
        for st in pipeline.PLAN[:3]:
            t0, c0 = time.perf_counter(), _cpu()
            done = st.fn(ctx, pipeline.StageInput(tables))  # no background: no handoffs
            tables.update(done.tables)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
            row = {"stage": st.name, "seconds": round(time.perf_counter() - t0, 2),
                   "cpu_seconds": round(_cpu() - c0, 2), "peak_rss_gb": round(peak, 2)}
            out["stages"].append(row)
            print(f"{st.name:<11} {row['seconds']:7.2f} s   cpu {row['cpu_seconds']:7.2f} s   "
                  f"peak {row['peak_rss_gb']:.2f} GB")
        out["total_seconds"] = round(time.perf_counter() - t_all, 2)
        out["loadavg_after"] = _loadavg()
        out["rows"] = {k: v.height for k, v in tables.items()}
    print(f"total       {out['total_seconds']:7.2f} s")
    tag = "-feedback" if args.feedback else ""
    resultfile.save(RESULTS / f"city-{args.residents}{tag}.json", out)


if __name__ == "__main__":
    main()
