"""Fixtures: one small real run, and copies with synthetic later-stage tables.

The real run (20k residents × 365 days) comes from the pipeline. ``rich_run`` replaces
its decisions with a denser synthetic table built to the services contract (denials,
green channel, household spillover, every wrongful cause), so group rates and the
cascade have numbers to check; ``bare_run`` drops decisions, demand and appeals, as
in runs made before the services stage.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from creditsim.catalogue import SERVICES, ServiceT
from creditsim.config import make_config
from creditsim.pipeline import run as run_pipeline
from creditsim.rundir import sha256_file, write_parquet

DecisionT = pl.Enum(["denied", "expedited", "discounted"])
CauseTypeT = pl.Enum(["list", "tier", "score", "covered"])
WrongfulCauseT = pl.Enum(["linkage_error", "data_error", "expired_entry"])


def _rewrite_manifest(run: Path, drop: tuple[str, ...] = (), add: tuple[str, ...] = ()) -> None:
    m = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    for rel in drop:
        m["tables"].pop(rel, None)
        (run / rel).unlink(missing_ok=True)
    for rel in add:
        df = pl.read_parquet(run / rel)
        m["tables"][rel] = {"rows": df.height, "bytes": (run / rel).stat().st_size,
                            "sha256": sha256_file(run / rel),
                            "columns": {c: str(t) for c, t in df.schema.items()}}
    (run / "manifest.json").write_text(json.dumps(m, indent=2), encoding="utf-8")


def synthetic_decisions(run: Path, seed: int = 3) -> pl.DataFrame:
    """A decisions table to the services contract: ~4% of residents denied something
    (a fifth of them wrongly, all three causes), household spillover from heads, ~3%
    green channel."""
    rng = np.random.default_rng(seed)
    reg = pl.read_parquet(run / "residents.parquet", columns=["resident_id", "household_id",
                                                              "relation"])
    n = reg.height
    subj = np.sort(rng.choice(n, size=n // 25, replace=False)).astype(np.int32)
    k = rng.integers(1, 4, size=subj.size)
    rid = np.repeat(subj, k)
    m = rid.size
    wrongful = rng.random(m) < 0.2
    cause = np.where(wrongful, rng.integers(0, 3, size=m), -1)
    den = pl.DataFrame({
        "resident_id": rid, "day": rng.integers(0, 365, size=m).astype(np.int16),
        "service": rng.choice(np.array(SERVICES[:12]), size=m),
        "decision": ["denied"] * m, "rate": [None] * m, "consequence": ["blacklist_x"] * m,
        "cause_type": ["list"] * m, "cause": ["blacklist"] * m, "via_resident_id": rid,
        "spell_record_id": rng.integers(0, 1000, size=m), "wrongful": wrongful,
        "wrongful_cause": [None if c < 0 else WrongfulCauseT.categories[int(c)] for c in cause],
    }, strict=False)
    # Spillover: the head's status denies a school place to the rest of the household.
    heads = reg.filter(pl.col("resident_id").is_in(subj.tolist())
                       & (pl.col("relation") == "head"))
    spill = reg.join(heads.select("household_id", pl.col("resident_id").alias("via")),
                     on="household_id").filter(pl.col("resident_id") != pl.col("via"))
    sp = pl.DataFrame({
        "resident_id": spill["resident_id"], "day": np.full(spill.height, 200, np.int16),
        "service": ["private_school"] * spill.height, "decision": ["denied"] * spill.height,
        "rate": [None] * spill.height, "consequence": ["blacklist_school"] * spill.height,
        "cause_type": ["list"] * spill.height, "cause": ["blacklist"] * spill.height,
        "via_resident_id": spill["via"], "spell_record_id": [7] * spill.height,
        "wrongful": [False] * spill.height, "wrongful_cause": [None] * spill.height,
    }, strict=False)
    green_ids = rng.choice(n, size=n // 33, replace=False).astype(np.int32)
    g = green_ids.size
    gr = pl.DataFrame({
        "resident_id": green_ids, "day": rng.integers(0, 365, size=g).astype(np.int16),
        "service": rng.choice(np.array(["hospital", "transit_fare"]), size=g),
        "decision": rng.choice(np.array(["expedited", "discounted"]), size=g),
        "rate": [0.2] * g, "consequence": ["green"] * g, "cause_type": ["tier"] * g,
        "cause": ["trustworthy"] * g, "via_resident_id": green_ids, "spell_record_id": [None] * g,
        "wrongful": [False] * g, "wrongful_cause": [None] * g,
    }, strict=False)
    schema = {"resident_id": pl.Int32, "day": pl.Int16, "service": ServiceT,
              "decision": DecisionT, "rate": pl.Float32, "consequence": pl.String,
              "cause_type": CauseTypeT, "cause": pl.String, "via_resident_id": pl.Int32,
              "spell_record_id": pl.Int64, "wrongful": pl.Boolean,
              "wrongful_cause": WrongfulCauseT}
    return pl.concat([d.cast(schema) for d in (den, sp, gr)]).sort("resident_id", "day")  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("audit") / "real"
    run_pipeline(make_config(residents=20_000, days=365, burn_in_days=0, seed=4), out)
    return out


@pytest.fixture(scope="session")
def rich_run(real_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("audit") / "rich"
    shutil.copytree(real_run, out)
    write_parquet(synthetic_decisions(out), out / "decisions.parquet")
    _rewrite_manifest(out, add=("decisions.parquet",))
    return out


@pytest.fixture(scope="session")
def bare_run(real_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("audit") / "bare"
    shutil.copytree(real_run, out)
    _rewrite_manifest(out, drop=("decisions.parquet", "demand.parquet", "appeals.parquet"))
    sp = pl.read_parquet(out / "list_spells.parquet")
    write_parquet(sp.drop([c for c in ("wrongful", "wrongful_cause") if c in sp.columns]),
                  out / "list_spells.parquet")
    _rewrite_manifest(out, add=("list_spells.parquet",))
    return out
