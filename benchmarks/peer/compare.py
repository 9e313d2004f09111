"""Peer comparison: the same minimal model in Mesa (A) and in creditsim (B).

Runs both implementations in one invocation, several times each (alternating, so
background load hits both alike), checks that they agree on six aggregates within
a tolerance derived from their standard errors, and reports throughput in
resident-days per second (median over the repeats) and the ratio B/A. Writes
``benchmarks/results/peer.json`` with the machine description, package versions, the
date and the commit measured (``benchmarks/resultfile.py``).

    .venv/bin/python benchmarks/peer/compare.py --residents 100000 --days 30

Mesa is an optional benchmark dependency: ``pip install -e ".[bench]"``. Exit code 1
when an aggregate disagrees, 2 when Mesa is missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from peer_common import METRICS, PeerParams, PeerResult, aggregates, agreement, check_consistent
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results"
sys.path.insert(0, str(HERE.parent))  # benchmarks/resultfile.py

import resultfile  # noqa: E402
PACKAGES = ("creditsim", "mesa", "numpy", "polars", "pandas")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "processor": platform.processor() or None,
            "cpus": psutil.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version()}


def _same(a: PeerResult, b: PeerResult) -> bool:
    return all(np.array_equal(getattr(a, k), getattr(b, k))
               for k in ("events", "demands", "denials", "listed_days", "listed_per_day"))


def compare(residents: int, days: int, repeats: int = 3, seed: int = 1,
            params: PeerParams | None = None, z_tol: float = 4.0) -> dict[str, Any]:
    """Run A and B ``repeats`` times each; return the JSON-ready report."""
    import model_creditsim
    import model_mesa

    params = params or PeerParams()
    impls = {"mesa": model_mesa.run, "creditsim": model_creditsim.run}
    runs: dict[str, list[PeerResult]] = {k: [] for k in impls}
    loads: list[float] = []
    for _ in range(repeats):
        for name, fn in impls.items():
            loads.append(os.getloadavg()[0])
            r = fn(residents, days, params, seed)
            check_consistent(r)
            runs[name].append(r)
    rd = residents * days
    perf: dict[str, Any] = {}
    for name, rs in runs.items():
        totals = [r.timings["total"] for r in rs]
        med = statistics.median(totals)
        phases = {k: round(statistics.median(r.timings[k] for r in rs), 4) for k in rs[0].timings}
        perf[name] = {"seconds": [round(t, 4) for t in totals], "median_seconds": round(med, 4),
                      "resident_days_per_second": round(rd / med),
                      "median_phase_seconds": phases,
                      "reproducible": all(_same(rs[0], r) for r in rs[1:])}
    agg = agreement(aggregates(runs["mesa"][0]), aggregates(runs["creditsim"][0]), z_tol)
    return {
        "name": "peer",
        "config": {"residents": residents, "days": days, "seed": seed, "repeats": repeats,
                   "z_tol": z_tol},
        "params": params.as_dict(),
        "throughput": perf,
        "ratio_creditsim_over_mesa": round(
            perf["creditsim"]["resident_days_per_second"]
            / perf["mesa"]["resident_days_per_second"], 1),
        "agreement": agg,
        "all_agree": all(bool(v["agree"]) for v in agg.values()),
        "load_avg_1min": {"max": round(max(loads), 2),
                          "median": round(statistics.median(loads), 2)},
        "packages": {k: _version(k) for k in PACKAGES},
        "machine": machine(),
        "measured": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def print_report(rep: dict[str, Any], console: Console | None = None) -> None:
    if console is None:  # wide enough for the tables when printing to a pipe or a file
        console = Console() if sys.stdout.isatty() else Console(width=120)
    cfg = rep["config"]
    t = Table(title=f"Peer comparison: {cfg['residents']:,} residents × {cfg['days']} days "
                    f"(median of {cfg['repeats']})")
    for col in ("implementation", "median s", "resident-days/s", "setup s", "run s", "runs s"):
        t.add_column(col, justify="right")
    for name, label in (("mesa", "A  Mesa " + (rep["packages"]["mesa"] or "")),
                        ("creditsim", "B  creditsim " + (rep["packages"]["creditsim"] or ""))):
        p = rep["throughput"][name]
        ph = p["median_phase_seconds"]
        t.add_row(label, f"{p['median_seconds']:.3f}", f"{p['resident_days_per_second']:,}",
                  f"{ph['setup']:.3f}", f"{ph['run']:.3f}",
                  " ".join(f"{s:.2f}" for s in p["seconds"]))
    t.caption = (f"B/A = {rep['ratio_creditsim_over_mesa']}×   load avg (1 min) median "
                 f"{rep['load_avg_1min']['median']}, max {rep['load_avg_1min']['max']} "
                 f"on {rep['machine']['cpus']} CPUs")
    a = Table(title=f"Agreement (two-sample z, |z| ≤ {cfg['z_tol']})")
    for col in ("aggregate", "A  Mesa", "B  creditsim", "z", "agree"):
        a.add_column(col, justify="right" if col != "aggregate" else "left")
    for k, meaning in METRICS.items():
        v = rep["agreement"][k]
        a.add_row(meaning, f"{v['a']:.5f} ± {v['a_se']:.5f}", f"{v['b']:.5f} ± {v['b_se']:.5f}",
                  f"{v['z']:+.2f}", "yes" if v["agree"] else "[bold red]NO[/]")
    console.print(t)
    console.print(a)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--residents", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3, help="runs of each implementation")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--z-tol", type=float, default=4.0, help="agreement tolerance in SEs")
    ap.add_argument("--out", type=Path, default=RESULTS / "peer.json")
    ap.add_argument("--no-save", action="store_true", help="do not write the JSON")
    args = ap.parse_args(argv)
    if args.residents < 2 or args.days < 1 or args.repeats < 1:
        ap.error("need --residents ≥ 2, --days ≥ 1, --repeats ≥ 1")
    if _version("mesa") is None:
        print("Mesa is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    rep = compare(args.residents, args.days, args.repeats, args.seed, z_tol=args.z_tol)
    print_report(rep)
    if not args.no_save:
        resultfile.save(args.out, rep)
        print(f"wrote {args.out}")
    return 0 if rep["all_agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
