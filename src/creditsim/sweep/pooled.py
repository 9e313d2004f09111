"""The audit's group tables pooled over each arm's (and design point's) replicates.

The pooling is the audit's (:func:`creditsim.audit.pooled.pool_audits`: counts and
denominators summed, rates and ratios recomputed with the audit's own code); this
module reads a sweep's finished jobs, one ``audit.json`` at a time, cell by cell.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from creditsim.audit.pooled import pool_audits, pooled_rows
from creditsim.audit.stats import Thresholds

SCHEMA = "creditsim.sweep.pooled/1"


def pooled(root: Path, index: pl.DataFrame, thresholds: Thresholds | None = None,
           reference: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Pooled group tables of every cell (arm, point) of the sweep at ``root``."""
    done = index.filter(pl.col("status") == "done")
    cells: dict[tuple[int, int | None], list[str]] = {}
    names: dict[tuple[int, int | None], str] = {}
    for job, ai, arm, point in done.select("job", "arm_index", "arm", "point").iter_rows():
        cells.setdefault((ai, point), []).append(job)
        names[(ai, point)] = arm
    out = []
    th: dict[str, Any] = {}
    for key in sorted(cells, key=lambda k: (k[0], -1 if k[1] is None else k[1])):
        p = pool_audits(_audits(root, cells[key]), thresholds, reference)
        th = p["thresholds"]
        out.append({"arm": names[key], "point": key[1], "replicates": p["replicates"],
                    "groups": p["groups"]})
    return {"schema": SCHEMA, "sweep": str(root), "cells": out,
            "settings": {"pooled_over": "replicates (counts and denominators summed)",
                         "rate_interval": "wilson", "ratio_interval": "katz_log",
                         "min_residents": th.get("min_residents"),
                         "min_events": th.get("min_events")}}


def _audits(root: Path, jobs: list[str]) -> Iterator[dict[str, Any]]:
    for job in jobs:
        yield json.loads((root / "jobs" / job / "audit.json").read_text(encoding="utf-8"))


def pooled_frame(doc: dict[str, Any]) -> pl.DataFrame:
    """One row per cell, grouping, group and metric (columns as in the audit's rows)."""
    return pooled_rows(doc["cells"])
