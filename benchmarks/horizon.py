"""Cold start and long horizons: how long the lists take to fill, and what a long run costs.

``cold-start`` runs ``creditsim run`` with no burn-in over a long horizon (default
1:100 Beijing, 219,000 residents, 10 years), measures the stock of listed residents
(open spells of every list, and of each list) on every day, takes the steady state
as the mean over the last ``--steady-years`` years, and finds the smallest burn-in
after which the stock stays within 10 % of it (the stock on day B of this run is the
stock on day 0 of a run with burn-in B started B days later; the loop runs the whole
system through the burn-in). Result: ``benchmarks/results/cold-start.json``.

``memory`` runs the same residents at several horizons (``--years 1,3,10``) and
records wall time, the peak resident memory of the process tree and each table's
rows, so that what grows beyond the tables can be found. Result:
``benchmarks/results/horizon-memory-<residents>.json``.

    .venv/bin/python benchmarks/horizon.py cold-start
    .venv/bin/python benchmarks/horizon.py cold-start --residents 2000 --years 2 --results scratch
    .venv/bin/python benchmarks/horizon.py memory --residents 219000 --years 1,3,10
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # resultfile.py and bench.py beside this script

import resultfile  # noqa: E402
from bench import tree_rss  # noqa: E402

#: The stock on day 0 must be within this share of the steady state.
TOLERANCE = 0.10
#: Days of the moving mean the stock is judged by (a list of a few hundred residents
#: moves by several per cent from day to day at 1:100).
WINDOW = 90


def run_child(out: Path, residents: int, days: int, extra: list[str]) -> dict[str, Any]:
    """``creditsim run`` in a child process: wall seconds, peak RSS of its tree, manifest."""
    cmd = [sys.executable, "-m", "creditsim", "run", "--quiet", "--overwrite", "--out",
           str(out), "--residents", str(residents), "--days", str(days), *extra]
    t0 = time.perf_counter()
    with open(out.with_suffix(".log"), "w") as fh:
        child = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
        ps, peak = psutil.Process(child.pid), 0
        while child.poll() is None:
            peak = max(peak, tree_rss(ps))
            time.sleep(0.05)
    wall = time.perf_counter() - t0
    if child.returncode != 0:
        raise SystemExit(f"run failed:\n{out.with_suffix('.log').read_text()}")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return {"wall_seconds": round(wall, 1), "peak_rss_gb": round(peak / 2**30, 2),
            "stages": {s["stage"]: s["seconds"] for s in manifest["stages"]},
            "tables": {k: v["rows"] for k, v in manifest["tables"].items()},
            "table_bytes": sum(v["bytes"] for v in manifest["tables"].values()),
            "manifest": manifest}


def daily_stock(spells: pl.DataFrame, days: int) -> np.ndarray:
    """Residents on the list on each day 0..days-1 (spells: start_day, end_day; a null
    end is open at the end of the run). A resident with two overlapping spells of one
    list counts twice, which the engine does not produce (one spell per list at a time)."""
    delta = np.zeros(days + 1, dtype=np.int64)
    st = np.clip(spells["start_day"].to_numpy(), 0, days)
    en = np.clip(spells["end_day"].fill_null(days).to_numpy(), 0, days)
    np.add.at(delta, st, 1)
    np.add.at(delta, en, -1)
    return np.cumsum(delta)[:days]


def settle_days(stock: np.ndarray, steady: float, window: int = WINDOW
                ) -> tuple[int | None, int | None]:
    """The first day on which the ``window``-day mean of ``stock`` (centred) comes
    within TOLERANCE of ``steady``, and the first day from which it stays within."""
    if steady <= 0 or stock.size < window:
        return None, None
    mean = np.convolve(stock, np.ones(window) / window, mode="valid")  # days i..i+window-1
    off = np.abs(mean / steady - 1.0) > TOLERANCE
    half = window // 2
    reach = int(np.argmin(off)) + half if not off.all() else None
    bad = np.flatnonzero(off)
    stay = (0 if bad.size == 0 else int(bad[-1]) + 1)
    return reach, stay + half if stay < mean.size else None


def measure_stock(out: Path, days: int, steady_years: float) -> dict[str, Any]:
    sp = pl.read_parquet(out / "list_spells.parquet").with_columns(pl.col("list").cast(pl.String))
    tail = int(round(steady_years * 365.25))
    series: dict[str, Any] = {}
    groups = {"every_list": sp, **{k: sp.filter(pl.col("list") == k)
                                   for k in sorted(set(sp["list"].to_list()))}}
    for name, df in groups.items():
        stock = daily_stock(df, days)
        steady = float(stock[-tail:].mean())
        reach, stay = settle_days(stock, steady)
        monthly = stock[np.minimum(np.arange(30, days + 30, 30.4375).astype(int), days) - 1]
        series[name] = {
            "steady_state": round(steady, 1),
            "steady_window_days": [days - tail, days],
            "burn_in_days_to_reach_10pct": reach,
            "burn_in_days_to_stay_within_10pct": stay,
            "stock_at_day": {str(d): int(stock[d]) for d in (0, 110, 182, 365, 730, 1095,
                                                             1461, 1826, 2557) if d < days},
            "year_1_mean_over_steady": round(float(stock[:365].mean()) / steady, 3)
            if steady else None,
            "first_day_listed": int(np.flatnonzero(stock)[0]) if stock.any() else None,
            "monthly_stock": monthly.tolist(),
        }
    return series


def cold_start(args: argparse.Namespace) -> None:
    days = int(round(args.years * 365.25))
    work = Path(tempfile.mkdtemp(prefix="cold-start-", dir=args.workdir))
    try:
        out = work / "run"
        done = run_child(out, args.residents, days, ["--burn-in-days", "0", "--seed",
                                                     str(args.seed)])
        series = measure_stock(out, days, args.steady_years)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    doc = {"name": "cold-start", "residents": args.residents, "days": days,
           "seed": args.seed, "policy": "beijing", "feedback": True,
           "method": f"stock = residents on the list each day (open spells); steady state = "
                     f"mean over the last {args.steady_years} years; burn-in = first day on "
                     f"which the centred {WINDOW}-day mean comes within {TOLERANCE:.0%} of it "
                     f"(reach), and from which it stays within (stay)",
           "wall_seconds": done["wall_seconds"], "peak_rss_gb": done["peak_rss_gb"],
           "stages": done["stages"], "tables": done["tables"],
           "packages": done["manifest"]["packages"], "lists": series}
    doc["name"] = args.name or doc["name"]
    path = resultfile.save(Path(args.results) / f"{doc['name']}.json", doc)
    for name, s in series.items():
        print(f"{name:34} steady {s['steady_state']:>9} burn-in to 10%: reach "
              f"{s['burn_in_days_to_reach_10pct']}, stay {s['burn_in_days_to_stay_within_10pct']}"
              f" days, year 1 / steady "
              f"{s['year_1_mean_over_steady']}, first listed day {s['first_day_listed']}")
    print(f"{done['wall_seconds']} s, peak {done['peak_rss_gb']} GiB → {path}")


def memory(args: argparse.Namespace) -> None:
    rows = []
    for years in [float(y) for y in args.years_list.split(",")]:
        days = int(round(years * 365))
        work = Path(tempfile.mkdtemp(prefix="horizon-", dir=args.workdir))
        try:
            done = run_child(work / "run", args.residents, days,
                             ["--burn-in-days", str(args.burn_in), "--seed", str(args.seed)])
        finally:
            shutil.rmtree(work, ignore_errors=True)
        rows.append({"years": years, "days": days, "burn_in_days": args.burn_in,
                     "wall_seconds": done["wall_seconds"], "peak_rss_gb": done["peak_rss_gb"],
                     "table_bytes": done["table_bytes"], "stages": done["stages"],
                     "tables": done["tables"]})
        print(f"{args.residents:,} x {days} (+{args.burn_in}): {done['wall_seconds']} s, "
              f"peak {done['peak_rss_gb']} GiB, tables {done['table_bytes'] / 2**30:.2f} GiB")
    doc = {"name": f"horizon-memory-{args.residents}", "residents": args.residents,
           "seed": args.seed, "runs": rows}
    print(resultfile.save(Path(args.results) / f"horizon-memory-{args.residents}.json", doc))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("cold-start", "memory"):
        p = sub.add_parser(name)
        p.add_argument("--residents", type=int, default=219_000)
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--results", default=str(HERE / "results"))
        p.add_argument("--workdir", default=None, help="where the runs are made (temporary)")
    cs = sub.choices["cold-start"]
    cs.add_argument("--years", type=float, default=10.0)
    cs.add_argument("--steady-years", type=float, default=4.0)
    cs.add_argument("--name", default=None, help="result file name (default cold-start)")
    mem = sub.choices["memory"]
    mem.add_argument("--years", dest="years_list", default="1,3,10")
    mem.add_argument("--burn-in", type=int, default=0)
    args = ap.parse_args()
    cold_start(args) if args.cmd == "cold-start" else memory(args)


if __name__ == "__main__":
    main()
