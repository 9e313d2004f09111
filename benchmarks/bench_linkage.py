"""Benchmark the linkage stage at city scale.

Usage::

    python benchmarks/bench_linkage.py --data DIR [--residents N] [--out results.json]

``--out`` writes the result with the date and the commit measured (``resultfile.py``).

``DIR`` holds ``residents.parquet`` and ``records_<department>.parquet`` (the
population and records stages' outputs); if it does not exist they are generated
there first (``--residents`` people, seed 1, Beijing, 365 days from 2021-01-01).

Reports wall time of the deterministic pass over all records, of the
probabilistic pass (and how many records it scored), peak resident memory of the
process, and the accuracy at the default threshold.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from creditsim.linkage import link_records

sys.path.insert(0, str(Path(__file__).resolve().parent))  # resultfile.py beside this script

import resultfile  # noqa: E402


def make_data(out: Path, n: int, seed: int = 1) -> None:
    from creditsim.behaviour.generate import generate_events
    from creditsim.cities import BEIJING
    from creditsim.population.synth import synthesize
    from creditsim.records.generate import build_records

    out.mkdir(parents=True, exist_ok=True)
    d0 = dt.date(2021, 1, 1)
    r = synthesize(BEIJING, n, seed, d0)
    r.write_parquet(out / "residents.parquet")
    ev = generate_events(r, seed=seed, days=365, start_date=d0)
    recs = build_records(ev, r, seed=seed, days=365, start_year=2021)
    del ev
    for k, v in recs.items():
        v.write_parquet(out / f"records_{k}.parquet")


def load(data: Path) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    # Only the columns linkage reads: the process's peak memory is then the stage's own.
    cols = ["record_id", "department", "name", "id_number", "birth_date", "sex", "district",
            "truth_resident_id"]
    records = {p.stem.split("_", 1)[1]: pl.read_parquet(p, columns=cols)
               for p in sorted(data.glob("records_*.parquet"))}
    register = pl.read_parquet(data / "residents.parquet", columns=[
        "resident_id", "name", "id_number", "birth_date", "sex", "district", "hukou"])
    return records, register


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--residents", type=int, default=21_893_095)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--memory-limit", default="4GB")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--charts", type=Path)
    a = ap.parse_args()
    if not (a.data / "residents.parquet").exists():
        t0 = time.perf_counter()
        make_data(a.data, a.residents)
        print(f"generated data in {time.perf_counter() - t0:.1f} s", flush=True)
    records, register = load(a.data)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = link_records(records, register, seed=a.seed, workdir=Path(tmp) / "splink",
                           charts_dir=a.charts, memory_limit=a.memory_limit)
        total = time.perf_counter() - t0
    m = res.metrics
    out = {
        "residents": register.height,
        "records": m["overall"]["records"],
        "probabilistic_records": m["probabilistic_pass"]["records"],
        "probabilistic_keys": m["probabilistic_pass"].get("keys"),
        "scored_pairs": m["probabilistic_pass"].get("scored_pairs"),
        "seconds": {**{k: round(v, 2) for k, v in res.timings.items()}, "total": round(total, 2)},
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "overall": m["overall"],
        "by_stage": m["by_stage"],
        "name_commonness": m["by_group"]["name_commonness"],
        "threshold_sweep": m["threshold_sweep"],
    }
    print(json.dumps(out, indent=1))
    if a.out:
        resultfile.save(a.out, out)


if __name__ == "__main__":
    main()
