"""The audit's group tables pooled over replicates: several audits of one scenario
(a sweep arm's replicates, or runs that differ only in their seed) as one.

Per grouping and group, the counts and denominators of every group metric and the
residents are summed over the audits, and the rates, Wilson intervals, ratios to the
reference group with their Katz intervals, four-fifths flags and comparison states
are computed from the sums with the audit's own function
(:func:`creditsim.audit.groups.rate_rows`), so a pooled row has the schema of an
audit row (docs/audit.md), over R × N residents.

The replicates are independent synthetic cities, so the pooled counts are counts
over R × N residents; like the single-run audit, the intervals treat residents as
independent (households are not modelled as clusters). The reference group is the
one asked for, else the one the audits were given, else the largest pooled group;
the thresholds are the ones asked for, else the audits' own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from creditsim.audit.groups import choose_reference, rate_rows
from creditsim.audit.run import AuditError
from creditsim.audit.stats import Thresholds

SCHEMA = "creditsim.audit.pooled/1"


def pool_audits(audits: Iterable[Mapping[str, Any]], thresholds: Thresholds | None = None,
                reference: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``{"replicates": R, "thresholds": {...}, "groups": {grouping: table}}`` of the
    audits (read one at a time: an iterable of audit documents is enough)."""
    acc: dict[str, dict[str, Any]] = {}
    n = 0
    th = thresholds
    for audit in audits:
        n += 1
        if th is None:
            s = audit["settings"]
            th = Thresholds(s["min_residents"], s["min_events"])
        for grouping, table in audit["groups"].items():
            _add(acc.setdefault(grouping, {"given": None, "groups": {}}), table)
    th = th or Thresholds()
    refs = dict(reference or {})
    unknown = sorted(set(refs) - set(acc)) if n else []
    if unknown:
        raise AuditError(f"reference given for {', '.join(unknown)}, which the audits do "
                         "not group by")
    return {"replicates": n,
            "thresholds": {"min_residents": th.min_residents, "min_events": th.min_events},
            "groups": {g: _table(a, g, th, refs.get(g)) for g, a in acc.items()}}


def _add(acc: dict[str, Any], table: Mapping[str, Any]) -> None:
    if table.get("reference_rule") == "given":
        acc["given"] = table["reference"]
    for row in table["rows"]:
        g = acc["groups"].setdefault(row["group"], {"residents": 0, "metrics": {}})
        g["residents"] += row["residents"]
        for m, v in row.items():
            if isinstance(v, dict) and "denominator" in v:
                cnt = g["metrics"].setdefault(m, [0, 0])
                cnt[0] += v["count"]
                cnt[1] += v["denominator"]


def _table(acc: dict[str, Any], grouping: str, th: Thresholds, wanted: str | None
           ) -> dict[str, Any]:
    groups = acc["groups"]
    keys = list(groups)
    residents = np.array([groups[k]["residents"] for k in keys], dtype=np.float64)
    metrics = list(dict.fromkeys(m for k in keys for m in groups[k]["metrics"]))
    counts = {m: np.array([groups[k]["metrics"].get(m, [0, 0])[0] for k in keys],
                          dtype=np.float64) for m in metrics}
    dens = {m: np.array([groups[k]["metrics"].get(m, [0, 0])[1] for k in keys],
                        dtype=np.float64) for m in metrics}
    given = wanted or acc["given"]
    ref = choose_reference({k: groups[k]["residents"] for k in keys}, given, grouping)
    return {"reference": ref, "reference_rule": "given" if given else "largest group",
            "rows": rate_rows(keys, counts, dens, ref, th, residents)}


def pooled_rows(cells: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """One row per cell, grouping, group and metric (the columns of an audit row's
    metric, flattened), with the cell's ``arm`` and ``point`` (null for runs)."""
    rows = []
    for c in cells:
        for grouping, table in c["groups"].items():
            for r in table["rows"]:
                for m, v in r.items():
                    if not isinstance(v, dict) or "rate" not in v:
                        continue
                    rows.append({"arm": c.get("arm"), "point": c.get("point"),
                                 "replicates": c["replicates"], "grouping": grouping,
                                 "group": str(r["group"]), "reference": str(table["reference"]),
                                 "residents": r["residents"], "metric": m,
                                 "count": v["count"], "denominator": v["denominator"],
                                 "rate": v["rate"], "ci95_lo": v["ci95"][0],
                                 "ci95_hi": v["ci95"][1], "ratio": v["ratio"],
                                 "ratio_ci95_lo": v["ratio_ci95"][0],
                                 "ratio_ci95_hi": v["ratio_ci95"][1],
                                 "four_fifths_flag": v["four_fifths_flag"],
                                 "comparison": v["comparison"]})
    schema = {"arm": pl.String, "point": pl.Int32, "replicates": pl.Int64,
              "grouping": pl.String, "group": pl.String, "reference": pl.String,
              "residents": pl.Int64, "metric": pl.String, "count": pl.Float64,
              "denominator": pl.Float64, "rate": pl.Float64, "ci95_lo": pl.Float64,
              "ci95_hi": pl.Float64, "ratio": pl.Float64, "ratio_ci95_lo": pl.Float64,
              "ratio_ci95_hi": pl.Float64, "four_fifths_flag": pl.Boolean,
              "comparison": pl.String}
    return pl.DataFrame(rows, schema=schema)


def same_scenario_problems(runs: Sequence[tuple[str, Mapping[str, Any], Any]]) -> list[str]:
    """Why the runs (path, configuration, seed) are not replicates of one scenario:
    their configurations must differ in the seed only, and the seeds must differ."""
    out = []
    first_path, first, _ = runs[0]
    base = {k: v for k, v in first.items() if k != "seed"}
    for path, cfg, _ in runs[1:]:
        diff = sorted(k for k in {*base, *cfg} - {"seed"} if base.get(k) != cfg.get(k))
        if diff:
            out.append(f"{path}: not a replicate of {first_path}: the configurations differ "
                       f"in {', '.join(diff)} (replicates differ in the seed only)")
    seen: dict[Any, str] = {}
    for path, _, s in runs:
        if s in seen:
            out.append(f"{path}: the same seed as {seen[s]} ({s}): the same run twice")
        seen.setdefault(s, path)
    return out
