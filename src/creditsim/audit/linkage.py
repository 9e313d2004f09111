"""Linkage accuracy, overall and by group of residents (the auditor reads the truth).

Pairwise, as in :mod:`creditsim.linkage.evaluate`: every record has one true subject.
For a group, *recall* counts the records whose true subject is in the group
(correct / records) and *precision* the links the platform assigned to residents of
the group (correct / links); *residents given wrong records* counts members who were
assigned at least one record of someone else. Intervals are Wilson 95% on records,
links and residents; records of one resident are not independent, so treat the
record-level intervals as a lower bound on the uncertainty.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from creditsim.audit.groups import group_order
from creditsim.audit.run import RunData
from creditsim.audit.stats import num, wilson


def load_links(run: RunData) -> pl.DataFrame | None:
    """(department, record_id, resident_id, method, match_probability, truth_resident_id,
    correct) or None if the run has no links table with the truth."""
    if not run.has("links") or "truth_resident_id" not in run.columns("links"):
        return None
    lk = run.table("links")
    return lk.with_columns(
        (pl.col("resident_id") == pl.col("truth_resident_id")).fill_null(False).alias("correct"))


def _rate(k: int, n: int) -> dict[str, Any]:
    lo, hi = wilson(np.array([k]), np.array([n]))
    return {"count": int(k), "denominator": int(n), "rate": num(k / n) if n else None,
            "ci95": [num(lo[0]), num(hi[0])]}


def overall(links: pl.DataFrame) -> dict[str, Any]:
    n = links.height
    linked = int(links["resident_id"].is_not_null().sum())
    correct = int(links["correct"].sum())
    by_method = {str(m): int(c) for m, c in links.group_by("method").len().sort("method")
                 .iter_rows()}
    return {"records": n, "links": linked, "correct": correct, "wrong": linked - correct,
            "unlinked": n - linked, "precision": _rate(correct, linked),
            "recall": _rate(correct, n), "by_method": by_method}


def by_group(links: pl.DataFrame, attrs: pl.DataFrame, col: str) -> list[dict[str, Any]]:
    a = attrs.select("resident_id", pl.col(col).cast(pl.String).alias("_g"))
    true_side = links.join(a.rename({"resident_id": "truth_resident_id"}),
                           on="truth_resident_id", how="left").group_by("_g").agg(
        pl.len().alias("records"), pl.col("correct").sum().alias("correct"))
    asg = links.filter(pl.col("resident_id").is_not_null()).join(
        a, on="resident_id", how="left").group_by("_g").agg(
        pl.len().alias("links"), pl.col("correct").sum().alias("links_correct"),
        pl.col("resident_id").filter(~pl.col("correct")).n_unique().alias("victims"))
    sizes = a.group_by("_g").agg(pl.len().alias("residents"))
    order = pl.DataFrame({"_g": [str(x) for x in group_order(attrs[col])]})
    t = (order.join(sizes, on="_g", how="left").join(true_side, on="_g", how="left")
         .join(asg, on="_g", how="left").fill_null(0))
    rows = []
    for r in t.iter_rows(named=True):
        rows.append({
            "group": r["_g"], "residents": int(r["residents"]),
            "recall": _rate(int(r["correct"]), int(r["records"])),
            "precision": _rate(int(r["links_correct"]), int(r["links"])),
            "residents_given_wrong_records": _rate(int(r["victims"]), int(r["residents"])),
        })
    return rows


def linkage_audit(run: RunData, attrs: pl.DataFrame, by: list[str]) -> dict[str, Any]:
    links = load_links(run)
    if links is None:
        return {"status": "missing", "missing": ["links"]}
    out: dict[str, Any] = {"status": "ok", "overall": overall(links)}
    dep = links.group_by("department").agg(pl.len().alias("n"),
                                           pl.col("resident_id").is_not_null().sum().alias("l"),
                                           pl.col("correct").sum().alias("c")).sort("department")
    out["by_department"] = {str(r["department"]): {"records": int(r["n"]),
                                                   "precision": _rate(int(r["c"]), int(r["l"])),
                                                   "recall": _rate(int(r["c"]), int(r["n"]))}
                            for r in dep.iter_rows(named=True)}
    out["by_group"] = {col: by_group(links, attrs, col) for col in by}
    return out
