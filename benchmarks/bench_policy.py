"""Benchmark the fast scoring engine at Beijing scale.

Generates a synthetic register (21.9M residents) and a synthetic linked record
stream (50M records, a plausible mix of kinds, court records with case numbers),
then times ``apply_policy`` for each preset and reports wall time, peak extra
RSS (sampled every 20 ms above the RSS before the call) and table sizes, and writes
them to ``benchmarks/results/policy-<residents>.json`` with the date and the commit
measured (``resultfile.py``; the result it replaces is kept beside it).

    python benchmarks/bench_policy.py                       # full size, rongcheng fuzhou beijing
    python benchmarks/bench_policy.py --residents 1e6 --records 2e6 --preset spc-list

Target (issue 3): >= 50M records for 21.9M residents in <= 30 s and <= 4 GB extra.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import psutil

from creditsim.catalogue import KIND_NAMES, HukouT, KindT
from creditsim.policy import apply_policy, load_policy

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # resultfile.py beside this script

import resultfile  # noqa: E402

# share of records per kind (court kinds rare, as in real caseloads)
MIX = {
    "traffic_violation": 0.30,
    "loan_arrears": 0.10,
    "card_arrears": 0.10,
    "utility_late_fee": 0.14,
    "fare_evasion": 0.08,
    "volunteer_hours": 0.15,
    "tax_arrears": 0.02,
    "honour": 0.01,
    "blood_donation": 0.02,
    "heroic_act": 0.002,
    "drunk_driving": 0.005,
    "lawsuit_lost": 0.01,
    "enforcement_opened": 0.01,
    "refuse_to_perform": 0.004,
    "obstruct_enforcement": 0.001,
    "evade_enforcement": 0.001,
    "judgment_performed": 0.006,
    "commercial_fraud": 0.002,
    "counterfeit_goods": 0.002,
    "utility_theft": 0.002,
    "heating_tamper": 0.001,
    "tax_evasion": 0.001,
    "rail_misconduct": 0.001,
    "air_misconduct": 0.001,
}
COURT = {
    "lawsuit_lost",
    "enforcement_opened",
    "refuse_to_perform",
    "obstruct_enforcement",
    "evade_enforcement",
    "judgment_performed",
}


def make_register(n: int, rng: np.random.Generator) -> pl.DataFrame:
    birth = np.datetime64("1940-01-01") + rng.integers(0, 365 * 80, n).astype("timedelta64[D]")
    return pl.DataFrame(
        {
            "resident_id": np.arange(n, dtype=np.int32),
            "birth_date": pl.Series(birth).cast(pl.Date),
            "hukou": pl.Series(np.where(rng.random(n) < 0.38, "migrant", "local")).cast(HukouT),
            "years_in_city": rng.exponential(8.0, n).astype(np.float32),
        }
    )


def make_records(m: int, n: int, days: int, rng: np.random.Generator) -> pl.DataFrame:
    kinds = list(MIX)
    p = np.array(list(MIX.values()))
    code_of = {k: i for i, k in enumerate(KIND_NAMES)}
    kind = np.array([code_of[k] for k in kinds], dtype=np.uint8)[
        rng.choice(len(kinds), m, p=p / p.sum())
    ]
    # residents: heavy-tailed activity (a few residents have many records)
    res = (n * rng.random(m) ** 1.6).astype(np.int32)
    rec = rng.integers(0, days, m).astype(np.int16)
    ev = np.maximum(rec - rng.integers(0, 30, m), 0).astype(np.int16)
    amount = np.round(rng.lognormal(4.0, 1.2, m), 2)
    vol = kind == code_of["volunteer_hours"]
    amount[vol] = np.round(rng.gamma(2.0, 4.0, vol.sum()), 1)
    court = np.isin(kind, [code_of[k] for k in COURT])
    case = np.where(court, res.astype(np.int64) * 4 + rng.integers(0, 2, m), -1)
    unlinked = rng.random(m) < 0.01
    names = np.asarray(KIND_NAMES, dtype=object)
    return pl.DataFrame(
        {
            "record_id": np.arange(m, dtype=np.int64),
            "resident_id": np.where(unlinked, -1, res),
            "kind": pl.Series(names[kind], dtype=pl.String).cast(KindT),
            "day_event": ev,
            "day_recorded": rec,
            "amount": amount,
            "case": case,
        }
    ).select(
        "record_id",
        pl.when(pl.col("resident_id") >= 0)
        .then(pl.col("resident_id"))
        .cast(pl.Int32)
        .alias("resident_id"),
        "kind",
        "day_event",
        "day_recorded",
        "amount",
        pl.when(pl.col("case") >= 0).then(pl.format("C{}", pl.col("case"))).alias("case_number"),
    )


class PeakRSS:
    """Samples this process's RSS in a thread; ``extra`` = peak minus RSS at start."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> PeakRSS:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def extra_gb(self) -> float:
        return (self.peak - self.base) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--residents", type=float, default=21.9e6)
    ap.add_argument("--records", type=float, default=50e6)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--preset", action="append", help="preset(s) to time (default: rongcheng fuzhou beijing)"
    )
    ap.add_argument("--no-save", action="store_true", help="do not write the results JSON")
    a = ap.parse_args()
    n, m = int(a.residents), int(a.records)
    rng = np.random.default_rng(a.seed)
    t0 = time.perf_counter()
    register = make_register(n, rng)
    linked = make_records(m, n, a.days, rng)
    print(f"generated {n:,} residents and {m:,} records in {time.perf_counter() - t0:.1f} s")
    rows = []
    for name in a.preset or ["rongcheng", "fuzhou", "beijing"]:
        policy = load_policy(name)
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            r = apply_policy(policy, register, linked, days=a.days, start_date=date(2021, 1, 1))
            wall = time.perf_counter() - t0
        parts = " ".join(f"{k}={v:.1f}s" for k, v in r.timings.items())
        print(
            f"{name:10s} wall {wall:6.1f} s  extra RSS {mem.extra_gb:5.2f} GB  "
            f"ledger {r.ledger.height:,}  scores {r.scores.height:,}  "
            f"spells {r.list_spells.height:,}  [{parts}]",
            flush=True,
        )
        rows.append({"preset": name, "wall_seconds": round(wall, 2),
                     "extra_rss_gb": round(mem.extra_gb, 2), "ledger_rows": r.ledger.height,
                     "score_rows": r.scores.height, "spells": r.list_spells.height,
                     "timings": {k: round(v, 2) for k, v in r.timings.items()}})
        del r
    if not a.no_save:
        resultfile.save(HERE / "results" / f"policy-{n}.json",
                        {"config": {"residents": n, "records": m, "days": a.days,
                                    "seed": a.seed}, "presets": rows})


if __name__ == "__main__":
    main()
