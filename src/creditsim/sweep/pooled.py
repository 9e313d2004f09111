"""The audit's group tables pooled over a sweep's replicates.

For each arm (and design point), grouping and group, the counts and denominators of
every group metric and the residents are summed over the replicates that are done,
and the rates, Wilson intervals, ratios to the reference group with their Katz
intervals, four-fifths flags and comparison states are computed from the sums with
the audit's own function (:func:`creditsim.audit.groups.rate_rows`, same thresholds),
so a pooled row has the schema of an audit row (docs/audit.md).

The replicates are independent synthetic cities, so the pooled counts are counts
over R × N residents; like the single-run audit, the intervals treat residents as
independent (households are not modelled as clusters). The reference group is the
one the audits named when it was given, else the largest pooled group.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from creditsim.audit.groups import choose_reference, rate_rows
from creditsim.audit.stats import Thresholds

SCHEMA = "creditsim.sweep.pooled/1"


def pooled(root: Path, index: pl.DataFrame) -> dict[str, Any]:
    """Pooled group tables of every cell (arm, point) of the sweep at ``root``."""
    cells: dict[tuple[int, int | None], dict[str, Any]] = {}
    done = index.filter(pl.col("status") == "done")
    for job, ai, arm, point in done.select("job", "arm_index", "arm", "point").iter_rows():
        audit = json.loads((root / "jobs" / job / "audit.json").read_text(encoding="utf-8"))
        cell = cells.setdefault((ai, point), {"arm": arm, "point": point, "replicates": 0,
                                              "settings": audit["settings"], "acc": {}})
        cell["replicates"] += 1
        for grouping, table in audit["groups"].items():
            _add(cell["acc"].setdefault(grouping, {"given": None, "groups": {}}), table)
    th = None
    out = []
    for key in sorted(cells, key=lambda k: (k[0], -1 if k[1] is None else k[1])):
        c = cells[key]
        s = c["settings"]
        th = Thresholds(s["min_residents"], s["min_events"])
        out.append({"arm": c["arm"], "point": c["point"], "replicates": c["replicates"],
                    "groups": {g: _table(acc, g, th) for g, acc in c["acc"].items()}})
    return {"schema": SCHEMA, "sweep": str(root), "cells": out,
            "settings": {"pooled_over": "replicates (counts and denominators summed)",
                         "rate_interval": "wilson", "ratio_interval": "katz_log",
                         "min_residents": th.min_residents if th else None,
                         "min_events": th.min_events if th else None}}


def _add(acc: dict[str, Any], table: dict[str, Any]) -> None:
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


def _table(acc: dict[str, Any], grouping: str, th: Thresholds) -> dict[str, Any]:
    groups = acc["groups"]
    keys = list(groups)
    residents = np.array([groups[k]["residents"] for k in keys], dtype=np.float64)
    metrics = list(dict.fromkeys(m for k in keys for m in groups[k]["metrics"]))
    counts = {m: np.array([groups[k]["metrics"].get(m, [0, 0])[0] for k in keys],
                          dtype=np.float64) for m in metrics}
    dens = {m: np.array([groups[k]["metrics"].get(m, [0, 0])[1] for k in keys],
                        dtype=np.float64) for m in metrics}
    ref = choose_reference({k: groups[k]["residents"] for k in keys}, acc["given"], grouping)
    return {"reference": ref, "reference_rule": "given" if acc["given"] else "largest group",
            "rows": rate_rows(keys, counts, dens, ref, th, residents)}


def pooled_frame(doc: dict[str, Any]) -> pl.DataFrame:
    """One row per cell, grouping, group and metric (columns as in the audit's rows)."""
    rows = []
    for c in doc["cells"]:
        for grouping, table in c["groups"].items():
            for r in table["rows"]:
                for m, v in r.items():
                    if not isinstance(v, dict) or "rate" not in v:
                        continue
                    rows.append({"arm": c["arm"], "point": c["point"],
                                 "replicates": c["replicates"], "grouping": grouping,
                                 "group": r["group"], "reference": table["reference"],
                                 "residents": r["residents"], "metric": m,
                                 "count": v["count"], "denominator": v["denominator"],
                                 "rate": v["rate"], "ci95_lo": v["ci95"][0],
                                 "ci95_hi": v["ci95"][1], "ratio": v["ratio"],
                                 "ratio_ci95_lo": v["ratio_ci95"][0],
                                 "ratio_ci95_hi": v["ratio_ci95"][1],
                                 "four_fifths_flag": v["four_fifths_flag"],
                                 "comparison": v["comparison"]})
    return pl.DataFrame(rows, infer_schema_length=None)
