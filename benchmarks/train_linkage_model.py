"""Regenerate the shipped linkage model ``src/creditsim/linkage/models/<preset>.json``.

Usage::

    python benchmarks/train_linkage_model.py [--residents 219000] [--seed 1]

Builds a synthetic city of the preset (population, a year of behaviour, the
departments' records), runs the deterministic ID pass, and estimates the m
probabilities by EM on the records left for the probabilistic pass
(:func:`creditsim.linkage.train.train_model`). m describes the departments' error
processes, which do not depend on the city's size, so a city of ~1:100 suffices.
The shipped model was made with the defaults below.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from pathlib import Path

import polars as pl

from creditsim.behaviour.generate import generate_events
from creditsim.cities import CITIES
from creditsim.linkage import prepare, train
from creditsim.linkage.deterministic import RegisterIndex, link_by_id
from creditsim.linkage.features import register_features
from creditsim.population.synth import synthesize
from creditsim.records.generate import build_records

OUT = Path(__file__).resolve().parents[1] / "src" / "creditsim" / "linkage" / "models"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="beijing")
    ap.add_argument("--residents", type=int, default=219_000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    d0 = dt.date(2021, 1, 1)
    residents = synthesize(CITIES[a.preset], a.residents, a.seed, d0)
    events = generate_events(residents, seed=a.seed, days=365, start_date=d0)
    records = build_records(events, residents, seed=a.seed, days=365, start_year=d0.year)
    recs = prepare.record_view(records)
    reg = prepare.register_view(residents)
    det = link_by_id(recs, RegisterIndex.build(reg))
    rest = recs.join(det.filter(pl.col("resident_id").is_null()).select("record_id"),
                     on="record_id", how="semi")
    with tempfile.TemporaryDirectory() as tmp:
        model = train.train_model(rest, register_features(reg), seed=a.seed,
                                  workdir=Path(tmp) / "train")
    model["creditsim_training"] = {
        "preset": a.preset, "residents": a.residents, "seed": a.seed,
        "records_scored": rest.height,
        "script": "benchmarks/train_linkage_model.py",
    }
    path = OUT / f"{a.preset}.json"
    path.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path} (EM on {rest.height} records)")


if __name__ == "__main__":
    main()
