"""The figures of a sweep: per job, per arm, and paired arm-vs-arm differences.

* Each job's figures (:func:`job_metrics`) are every number of the audit's headline
  (nested tables flattened with dots: ``decisions.denied``; text and booleans left
  out; keys read generically, so a new headline figure appears by itself), and for
  each grouping, group and group metric its rate and its ratio to the reference:
  ``groups.<grouping>.<group>.<metric>.rate`` / ``.ratio``.
* Per arm (and design point), over replicates (:func:`arm_summary`): n (replicates
  with a value), mean, sd, median, p10 and p90 (linear interpolation between order
  statistics) and the Monte-Carlo standard error of the mean, ``mcse = sd / √n``.
* Paired differences (:func:`differences`): for each pair of arms A before B and each
  design point, ``B − A`` per replicate — the two share the replicate's seed, so the
  residents and the luck cancel — then their mean, sd, standard error and a
  t-based 95 % interval ``mean ± t(0.975, n−1) · sd / √n`` (n ≥ 2).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

KEYS = ("arm_index", "arm", "point")


def job_metrics(audit: Mapping[str, Any]) -> dict[str, float | None]:
    """The flat figures of one audit (see the module)."""
    out: dict[str, float | None] = {}
    _flatten_numbers(audit.get("headline", {}), "", out)
    for grouping, table in audit.get("groups", {}).items():
        for row in table.get("rows", []):
            for metric, v in row.items():
                if isinstance(v, dict) and "rate" in v:
                    base = f"groups.{grouping}.{row['group']}.{metric}"
                    out[f"{base}.rate"] = _num(v.get("rate"))
                    out[f"{base}.ratio"] = _num(v.get("ratio"))
    return out


def _num(v: Any) -> float | None:
    return None if v is None or isinstance(v, bool) else float(v)


def _flatten_numbers(d: Mapping[str, Any], prefix: str, out: dict[str, float | None]) -> None:
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping):
            _flatten_numbers(v, f"{name}.", out)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[name] = float(v)
        elif v is None:
            out[name] = None


def values_frame(root: Path, index: pl.DataFrame) -> pl.DataFrame:
    """Long frame of every done job's figures: job, arm_index, arm, point, replicate,
    metric, value (null where the audit has none, e.g. a ratio without a reference)."""
    parts = []
    for job, ai, arm, point, rep in index.filter(pl.col("status") == "done").select(
            "job", "arm_index", "arm", "point", "replicate").iter_rows():
        m = json.loads((root / "jobs" / job / "summary.json").read_text(encoding="utf-8"))
        metrics = m["metrics"]
        parts.append(pl.DataFrame({"metric": list(metrics), "value": list(metrics.values())},
                                  schema={"metric": pl.String, "value": pl.Float64})
                     .with_columns(job=pl.lit(job), arm_index=pl.lit(ai, pl.Int32),
                                   arm=pl.lit(arm), point=pl.lit(point, pl.Int32),
                                   replicate=pl.lit(rep, pl.Int32)))
    schema = {"job": pl.String, "arm_index": pl.Int32, "arm": pl.String, "point": pl.Int32,
              "replicate": pl.Int32, "metric": pl.String, "value": pl.Float64}
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).select(list(schema))


def arm_summary(values: pl.DataFrame) -> pl.DataFrame:
    """Per arm, design point and metric: n, mean, sd, median, p10, p90, mcse."""
    v = pl.col("value")
    return (values.drop_nulls("value").group_by(*KEYS, "metric", maintain_order=True)
            .agg(pl.len().alias("n"), v.mean().alias("mean"), v.std().alias("sd"),
                 v.median().alias("median"),
                 v.quantile(0.1, "linear").alias("p10"), v.quantile(0.9, "linear").alias("p90"))
            .with_columns((pl.col("sd") / pl.col("n").sqrt()).alias("mcse"))
            .sort("arm_index", "point", "metric", nulls_last=False))


def differences(values: pl.DataFrame) -> pl.DataFrame:
    """Paired B − A per pair of arms (A before B), design point and metric: n, mean,
    sd, se, ci95_lo, ci95_hi (t-based)."""
    from scipy.stats import t as student_t

    v = values.drop_nulls("value").select("arm_index", "arm", "point", "replicate",
                                          "metric", "value")
    a = v.rename({"arm_index": "a_index", "arm": "a", "value": "a_value"})
    b = v.rename({"arm_index": "b_index", "arm": "b", "value": "b_value"})
    pairs = (a.join(b, on=["point", "replicate", "metric"], nulls_equal=True)
             .filter(pl.col("a_index") < pl.col("b_index"))
             .with_columns((pl.col("b_value") - pl.col("a_value")).alias("d")))
    d = pl.col("d")
    out = (pairs.group_by("a_index", "a", "b_index", "b", "point", "metric")
           .agg(pl.len().alias("n"), d.mean().alias("mean"), d.std().alias("sd"))
           .with_columns((pl.col("sd") / pl.col("n").sqrt()).alias("se"))
           .sort("a_index", "b_index", "point", "metric"))
    n = out["n"].to_numpy()
    tq = [float(student_t.ppf(0.975, k - 1)) if k >= 2 else None for k in n]
    out = out.with_columns(pl.Series("t", tq, dtype=pl.Float64))
    return out.with_columns((pl.col("mean") - pl.col("t") * pl.col("se")).alias("ci95_lo"),
                            (pl.col("mean") + pl.col("t") * pl.col("se")).alias("ci95_hi")
                            ).drop("t")
