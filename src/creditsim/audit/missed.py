"""Missed sanctions: who the lists should have held and did not (docs/audit.md).

The **truth-world listing** applies the run's record-triggered sanctioning lists to the
records that happened, each attached to its true subject (``truth_resident_id``), one
record per event (the first entered, as a perfect platform would hold them): who would
have been listed with perfect linkage and no wrong ID numbers. Per resident, over the
results window:

* ``should``: a truth-world spell on a sanctioning list overlaps the window;
* ``listed_by_records``: a platform spell on a sanctioning record-triggered list does;
* false positive = listed and not ``should``; false negative (**missed**) = ``should``
  and not listed.

A missed resident's **cause** is read from the record that opens each of their
truth-world spells: ``unlinked`` (the platform did not link it), ``linked_to_other``
(the platform attached it to someone else), or ``other`` (the platform held it under
the right person, but its spell did not overlap the window: a later or earlier
record of someone else changed its course). A resident counts under every cause.
Departments in this model do not lose records (every event that happens is recorded,
some after the window's end, which are in neither world), so "lost" does not occur.

Score lists (``score_below``) are left out of both sides: listing by score would need a
truth-world rescoring of every resident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl

from creditsim.audit.run import RunData
from creditsim.audit.sanctions import sanctioning_lists
from creditsim.policy import apply_policy

MISSED_CAUSES: tuple[str, ...] = ("unlinked", "linked_to_other", "other")
#: The record columns the lists read, with the type of a column a department lacks.
_STREAM: dict[str, pl.DataType] = {
    "record_id": pl.Int64(), "kind": pl.String(), "day_event": pl.Int16(),
    "day_recorded": pl.Int16(), "amount": pl.Float64(), "case_number": pl.String()}


@dataclass
class Missed:
    """Per-resident flags (``people``) and the section of the audit (``summary``)."""

    people: pl.DataFrame | None
    summary: dict[str, Any]


def _truth_stream(run: RunData, kinds: set[str]) -> pl.DataFrame:
    """The records of ``kinds`` that happened, under their true subjects, one per
    event, days on the simulated clock (burn-in from 0)."""
    parts = []
    for d in run.departments:
        lf = run.scan(f"records/{d}")
        have = set(lf.collect_schema().names())
        if "truth_resident_id" not in have or "truth_event_id" not in have:
            continue
        parts.append(lf.filter(pl.col("kind").cast(pl.String).is_in(sorted(kinds))).select(
            *[pl.col(c) if c in have else pl.lit(None, dtype=t).alias(c)
              for c, t in _STREAM.items()], pl.col("truth_event_id"),
            pl.col("truth_resident_id").alias("resident_id")))
    if not parts:
        return pl.DataFrame()
    b = run.burn_in_days
    df = pl.concat([p.collect().with_columns(pl.col("kind").cast(pl.String)) for p in parts],
                   how="vertical_relaxed")
    return df.sort("record_id").unique("truth_event_id", keep="first", maintain_order=True) \
        .with_columns((pl.col("day_event").cast(pl.Int32) + b).alias("day_event"),
                      (pl.col("day_recorded").cast(pl.Int32) + b).alias("day_recorded")) \
        .drop("truth_event_id")


def truth_spells(run: RunData, lists: set[str]) -> pl.DataFrame | None:
    """Truth-world spells of the record-triggered lists ``lists`` overlapping the
    window (days on the run's clock); None without a policy or truth columns."""
    pol = run.policy
    defs = [li for li in pol.lists if li.id in lists and li.score_below is None]
    if not defs:
        return None
    kinds = {k for li in defs for t in li.triggers for k in t.kinds}
    kinds |= {k for li in defs for k in (*li.exit_kinds, *li.aggravating_kinds)}
    stream = _truth_stream(run, kinds)
    if stream.width == 0:
        return None
    b, days = run.burn_in_days, run.days
    # Only the lists: without a scale the engine keeps no ledger and no snapshots, and
    # record-triggered lists read nothing but the records.
    sub = pol.model_copy(update={"lists": defs, "scale": None, "tiers": [], "caps": [],
                                 "rules": [], "overrides": [], "consequences": []})
    reg = run.scan("residents").select("resident_id", "birth_date", "hukou",
                                       "years_in_city").sort("resident_id").collect()
    sp = apply_policy(sub, reg, stream, days=b + days,
                      start_date=run.start_date - timedelta(days=b)).list_spells
    sp = sp.with_columns(pl.col("list").cast(pl.String),
                         (pl.col("start_day") - b).alias("start_day"),
                         (pl.col("end_day") - b).alias("end_day"))
    return sp.filter((pl.col("start_day") < days)
                     & (pl.col("end_day").is_null() | (pl.col("end_day") > 0)))


def missed_sanctions(run: RunData, spells: pl.DataFrame) -> Missed:
    """Both error types of the sanctioning record-triggered lists, per resident.
    ``spells``: the platform's spells in the window with the audit's ``sanction``."""
    lists = sanctioning_lists(run)
    why = None
    if run.policy is None or lists is None:
        why = "the run's policy is not available"
    elif not run.has("links") or "truth_resident_id" not in run.columns("links"):
        why = "no links with truth_resident_id"
    truth = None if why else truth_spells(run, lists)
    if why or truth is None:
        return Missed(None, {"status": "missing",
                             "missing": [why or "record-triggered sanctioning lists "
                                                "or records with their truth"]})
    kind_lists = sorted({li.id for li in run.policy.lists
                         if li.id in lists and li.score_below is None})
    n = run.n_residents

    def flag(ids: pl.Series) -> np.ndarray:
        out = np.zeros(n, dtype=bool)
        out[ids.drop_nulls().to_numpy()] = True
        return out

    plat = spells.filter(pl.col("list").is_in(kind_lists))
    should, pred = flag(truth["resident_id"]), flag(plat["resident_id"])
    fn = should & ~pred
    cause = _causes(run, truth.filter(pl.Series(fn[truth["resident_id"].to_numpy()])), flag)
    people = pl.DataFrame({
        "resident_id": np.arange(n, dtype=np.int32), "should_be_listed": should,
        "listed_by_records": pred, "not_should_be_listed": ~should,
        "not_listed_by_records": ~pred, "false_positive": pred & ~should,
        "missed_sanction": fn, **{f"missed_{c}": cause[c] for c in MISSED_CAUSES}})
    by_list = {}
    for lst in kind_lists:
        s_l = flag(truth.filter(pl.col("list") == lst)["resident_id"])
        p_l = flag(plat.filter(pl.col("list") == lst)["resident_id"])
        by_list[lst] = _confusion(s_l, p_l)
    return Missed(people, {
        "status": "ok", "lists": kind_lists, **_confusion(should, pred),
        "missed_by_cause": {c: int(cause[c].sum()) for c in MISSED_CAUSES},
        "by_list": by_list,
        "score_lists_left_out": sorted(set(lists) - set(kind_lists)),
        "rule": "truth world: the run's record-triggered sanctioning lists applied to the "
                "records that happened, each under its true subject, one record per event"})


def _confusion(should: np.ndarray, pred: np.ndarray) -> dict[str, int]:
    return {"should_be_listed": int(should.sum()), "listed": int(pred.sum()),
            "true_positive": int((should & pred).sum()),
            "false_positive": int((pred & ~should).sum()),
            "missed": int((should & ~pred).sum()),
            "true_negative": int((~should & ~pred).sum())}


def _causes(run: RunData, missed: pl.DataFrame, flag: Any) -> dict[str, np.ndarray]:
    """Per cause, the residents with a missed truth-world spell of that cause."""
    lk = run.scan("links").select("record_id", pl.col("resident_id").alias("_to")).filter(
        pl.col("record_id").is_in(missed["record_id"].implode())).collect()
    m = missed.join(lk, on="record_id", how="left")
    return {"unlinked": flag(m.filter(pl.col("_to").is_null())["resident_id"]),
            "linked_to_other": flag(m.filter(pl.col("_to").is_not_null()
                                             & (pl.col("_to") != pl.col("resident_id")))
                                    ["resident_id"]),
            "other": flag(m.filter(pl.col("_to") == pl.col("resident_id"))["resident_id"])}
