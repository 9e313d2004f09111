"""Time series and distributions the report draws, computed from a run's tables.

All vectorised: scores are stored as monthly *changes* (docs/policy.md), so tier
counts per month are accumulated from the changes (each change moves one resident
from their previous tier — the baseline tier for their first change — to the new
one) on top of the covered residents, who start at the baseline.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from creditsim.audit import RunData
from creditsim.policy import coverage_days
from creditsim.rundays import snapshots


def _covered_from(run: RunData) -> np.ndarray | None:
    pol = run.policy
    if pol is None or pol.scale is None:
        return None
    cols = ["resident_id", "birth_date", "hukou", "years_in_city"]
    have = set(run.columns("residents"))
    reg = run.scan("residents").select([c for c in [*cols, "consent"] if c in have]).sort(
        "resident_id").collect()
    return coverage_days(pol, reg, run.start_date, run.days)


def _baseline_tier(pol: Any) -> str | None:
    b = pol.scale.baseline
    for t in pol.tiers:
        if t.min <= b <= t.max:
            return str(t.name)
    return None


def tiers_over_time(run: RunData) -> dict[str, Any] | None:
    """Residents per tier at each monthly snapshot: {"month": [...], "tiers": {name: [...]}}."""
    if not run.has("scores"):
        return None
    pol = run.policy
    cov = _covered_from(run)
    sc = run.table("scores")
    months = sorted(set(sc["month"].to_list()))
    if pol is None or cov is None or not pol.tiers:
        return None
    base = _baseline_tier(pol)
    names = [str(t.name) for t in pol.tiers]
    if sc.height == 0:  # nobody's score ever changed: every covered resident at the baseline
        months, days = snapshots(run.start_date, run.days)
        snap_days = days.tolist()
    else:
        snap_days = sc.group_by("month").agg(pl.col("day").max()).sort("month")["day"].to_list()
    m_index = {m: i for i, m in enumerate(months)}
    s = sc.select("resident_id", "month", pl.col("tier").cast(pl.String)).sort(
        "resident_id", "month")
    prev = pl.col("tier").shift(1).over("resident_id")
    s = s.with_columns(prev.fill_null(pl.lit(base)).alias("prev"))
    counts = np.zeros((len(names), len(months)), dtype=np.int64)
    ti = {n: i for i, n in enumerate(names)}
    # (as int64 arrays even when there are no changes: an empty column has no type)
    mi = s["month"].replace_strict(m_index, return_dtype=pl.Int32).to_numpy().astype(np.int64)
    new = s["tier"].replace_strict(ti, return_dtype=pl.Int32).to_numpy().astype(np.int64)
    old = s["prev"].replace_strict(ti, default=-1, return_dtype=pl.Int32).to_numpy().astype(
        np.int64)
    np.add.at(counts, (new, mi), 1)
    ok = old >= 0
    np.add.at(counts, (old[ok], mi[ok]), -1)
    counts = np.cumsum(counts, axis=1)
    if base is not None:
        counts[ti[base]] += np.array([int((cov <= d).sum()) for d in snap_days])
    # The burn-in's months (snapshot days before day 0) set the state the window
    # starts from; only the window's months are shown.
    shown = np.flatnonzero(np.asarray(snap_days) >= 0)
    return {"month": [months[j].isoformat() for j in shown],
            "tiers": {n: counts[i][shown].tolist() for i, n in enumerate(names)}}


def final_scores(run: RunData, bins: int = 50) -> dict[str, Any] | None:
    """Histogram of scores on the last snapshot day (covered residents)."""
    if not run.has("scores"):
        return None
    pol = run.policy
    sc = run.table("scores")
    last = sc.sort("month").group_by("resident_id").agg(pl.col("score").last())["score"]
    values = last.to_numpy()
    note = ""
    cov = _covered_from(run)
    if pol is not None and cov is not None:
        n_base = int((cov <= run.days - 1).sum()) - values.size
        b = pol.scale.baseline
        lo = min(float(values.min()) if values.size else b, b)
        hi = max(float(values.max()) if values.size else b, b) + 1
        edges = np.linspace(lo, hi, bins + 1)
        h, _ = np.histogram(values, bins=edges)
        h[np.clip(np.searchsorted(edges, pol.scale.baseline, side="right") - 1, 0, bins - 1)] \
            += max(n_base, 0)
        note = f"{max(n_base, 0):,} covered residents at the baseline {pol.scale.baseline}"
    else:
        if values.size == 0:
            return None
        edges = np.linspace(values.min(), values.max() + 1, bins + 1)
        h, _ = np.histogram(values, bins=edges)
        note = "residents whose score changed at least once (the policy could not be loaded)"
    return {"left": edges[:-1].tolist(), "width": float(edges[1] - edges[0]),
            "count": h.tolist(), "note": note}


def list_sizes(run: RunData, spells: pl.DataFrame) -> dict[str, Any] | None:
    """Residents on each list on each day."""
    if spells.height == 0 or run.days <= 0:
        return None
    days = run.days
    out = {}
    for lst in sorted(set(spells["list"].to_list())):
        sp = spells.filter(pl.col("list") == lst)
        delta = np.zeros(days + 1, dtype=np.int64)
        st = np.clip(sp["start_day"].to_numpy(), 0, days)
        en = np.clip(sp["end_day"].fill_null(days).to_numpy(), 0, days)
        np.add.at(delta, st, 1)
        np.add.at(delta, en, -1)
        out[lst] = np.cumsum(delta)[:days].tolist()
    start = run.start_date
    return {"date": [(start + dt.timedelta(days=d)).isoformat() for d in range(days)],
            "lists": out}
