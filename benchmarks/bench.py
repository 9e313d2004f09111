"""Benchmark the creditsim pipeline at several scales.

Runs ``creditsim run`` in a child process per configuration (``configs.toml``),
samples the resident memory of the whole process tree every 50 ms, reads the
per-stage times from the run's manifest, and writes one JSON file per configuration
under ``benchmarks/results/`` with the machine description, package versions, the date
and the commit measured (``resultfile.py``: the result it replaces is kept beside it).

    .venv/bin/python benchmarks/bench.py            # every configuration but smoke
    .venv/bin/python benchmarks/bench.py b1m full   # named ones
    .venv/bin/python benchmarks/bench.py full --repeat 3   # median of three, all kept
    .venv/bin/python benchmarks/bench.py b1m --residents 2000 --days 30 --results scratch/results
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))  # resultfile.py beside this script

import resultfile  # noqa: E402


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def run_one(name: str, cfg: dict, workdir: Path) -> dict:
    out = workdir / name
    cmd = [sys.executable, "-m", "creditsim", "run", "--quiet", "--out", str(out),
           "--residents", str(cfg["residents"]), "--days", str(cfg["days"]),
           "--seed", str(cfg.get("seed", 1)), "--city", cfg.get("city", "beijing"),
           # no burn-in unless the configuration asks: the figures stay comparable
           "--burn-in-days", str(cfg.get("burn_in_days", 0)),
           # a configuration measured beyond the resource estimate (the estimate is what
           # the measurement is for) runs anyway
           *(["--force"] if cfg.get("force") else [])]
    log = workdir / f"{name}.log"
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        child = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
        ps = psutil.Process(child.pid)
        peak = 0
        while child.poll() is None:
            peak = max(peak, tree_rss(ps))
            time.sleep(0.05)
    wall = time.perf_counter() - t0
    output = log.read_text()
    if child.returncode != 0:
        raise SystemExit(f"{name} failed:\n{output}")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    shutil.rmtree(out, ignore_errors=True)
    rd = cfg["residents"] * (cfg["days"] + cfg.get("burn_in_days", 0))  # simulated
    return {
        "name": name,
        "config": cfg,
        "wall_seconds": round(wall, 2),
        "pipeline_seconds": round(sum(s["seconds"] for s in manifest["stages"]), 2),
        "stages": manifest["stages"],
        "peak_rss_gb": round(peak / 2**30, 2),
        "resident_days_per_second": round(rd / wall),
        "seconds_per_million_resident_days": round(wall / rd * 1e6, 4),
        "tables": {k: v["rows"] for k, v in manifest["tables"].items()},
        "packages": manifest["packages"],
        "machine": {"platform": platform.platform(), "cpus": psutil.cpu_count(),
                    "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                    "python": platform.python_version()},
        "measured": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def run_repeated(name: str, cfg: dict, workdir: Path, repeats: int) -> dict:
    """``run_one`` ``repeats`` times in a row. The result is the run with the median
    wall time, plus every run's wall time, peak and stage seconds (``repeats``)
    and the machine's load average before each: on a small virtual machine the
    same run varies by several per cent, so one number can mislead."""
    runs = []
    for _ in range(max(1, repeats)):
        load = [round(x, 2) for x in os.getloadavg()]
        r = run_one(name, cfg, workdir)
        r["load_average_before"] = load
        runs.append(r)
    order = sorted(range(len(runs)), key=lambda i: runs[i]["wall_seconds"])
    out = dict(runs[order[(len(runs) - 1) // 2]])
    if len(runs) > 1:
        out["repeats"] = [{"wall_seconds": r["wall_seconds"], "peak_rss_gb": r["peak_rss_gb"],
                           "load_average_before": r["load_average_before"],
                           "stages": {st["stage"]: st["seconds"] for st in r["stages"]}}
                          for r in runs]
        out["wall_seconds_min_median_max"] = [runs[order[0]]["wall_seconds"],
                                              out["wall_seconds"],
                                              runs[order[-1]]["wall_seconds"]]
        out["peak_rss_gb_max"] = max(r["peak_rss_gb"] for r in runs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="configurations (default: all but smoke and "
                    "those marked on_request)")
    ap.add_argument("--no-save", action="store_true", help="do not write results JSON")
    ap.add_argument("--results", type=Path, default=RESULTS,
                    help="directory of the result files (default: benchmarks/results)")
    ap.add_argument("--residents", type=int, help="override every configuration's residents")
    ap.add_argument("--days", type=int, help="override every configuration's days")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each configuration N times; report the median run and all")
    ap.add_argument("--peer", default="100000x30",
                    help="also run the Mesa peer comparison at RESIDENTSxDAYS in this "
                         "invocation ('none' to skip; needs the 'bench' extra)")
    args = ap.parse_args()
    configs = tomllib.loads((HERE / "configs.toml").read_text())
    names = args.names or [n for n, c in configs.items()
                           if n != "smoke" and not c.get("on_request")]
    unknown = [n for n in names if n not in configs]
    if unknown:
        raise SystemExit(f"unknown configuration(s): {', '.join(unknown)}; "
                         f"known: {', '.join(configs)}")
    override = {k: v for k, v in (("residents", args.residents), ("days", args.days))
                if v is not None}
    results = []
    with tempfile.TemporaryDirectory(prefix="creditsim-bench-") as tmp:
        for n in names:
            r = run_repeated(n, {**configs[n], **override}, Path(tmp), args.repeat)
            results.append(r)
            if not args.no_save:
                resultfile.save(args.results / f"{n}.json", r)
    peer = None
    if args.peer != "none":
        sys.path.insert(0, str(HERE / "peer"))
        try:
            import compare as peer_compare  # benchmarks/peer/compare.py
        except ImportError as e:  # Mesa missing: say so, keep the pipeline numbers
            print(f"peer comparison skipped: {e}")
        else:
            res_n, days_n = (int(x) for x in args.peer.lower().split("x"))
            peer = peer_compare.compare(res_n, days_n, repeats=3)
            if not args.no_save:
                resultfile.save(args.results / "peer.json", peer)
    table = Table(title="creditsim benchmark")
    stages = [s["stage"] for s in results[0]["stages"]]
    for col in ["config", "residents", "days", *stages, "wall s", "peak GB", "res-days/s"]:
        table.add_column(col, justify="right")
    for r in results:
        st = {s["stage"]: s["seconds"] for s in r["stages"]}
        table.add_row(r["name"], f"{r['config']['residents']:,}", str(r["config"]["days"]),
                      *[f"{st.get(s, 0):.1f}" for s in stages], f"{r['wall_seconds']:.1f}",
                      f"{r['peak_rss_gb']:.2f}", f"{r['resident_days_per_second']:,}")
    Console().print(table)
    if peer is not None:
        m = peer["throughput"]["mesa"]["resident_days_per_second"]
        c = peer["throughput"]["creditsim"]["resident_days_per_second"]
        Console().print(
            f"peer model {peer['config']['residents']:,} × {peer['config']['days']} days: "
            f"Mesa {m:,} resident-days/s, creditsim {c:,} ({peer['ratio_creditsim_over_mesa']}×),"
            f" aggregates agree: {peer['all_agree']}")


if __name__ == "__main__":
    os.environ.setdefault("POLARS_MAX_THREADS", str(psutil.cpu_count()))
    main()
