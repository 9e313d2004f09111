"""Time on a list with censoring: Kaplan–Meier per list and per group (docs/audit.md).

A spell's time origin is its own start (a spell begun in the burn-in counts from that
day). Spells still open at the end of the results window are right-censored there.
The audit keeps the spells that overlap the window, so a spell begun before day 0 is
seen only because it lasted past day 0: it is left-truncated and enters the risk set
``−start_day`` days after its start. Every exit route ends a spell (an exit, not a
competing risk: the figure is how long people stay listed, whatever gets them off).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from creditsim.audit.stats import kaplan_meier, num


def spell_times(spells: pl.DataFrame, days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Duration (days from the spell's start to its end or to ``days``), whether it
    ended in the window, and its entry day (left truncation) of each spell."""
    start = spells["start_day"].to_numpy().astype(np.float64)
    end = spells["end_day"].cast(pl.Float64).to_numpy()
    ended = ~np.isnan(end) & (end <= days)
    stop = np.where(ended, end, float(days))
    return stop - start, ended, np.maximum(0.0, -start)


def km_summary(spells: pl.DataFrame, days: int) -> dict[str, Any]:
    """Spells, exits, censored, Kaplan–Meier median and restricted mean to ``days``."""
    if spells.height == 0:
        return {"spells": 0, "ended": 0, "censored": 0, "median": None,
                "restricted_mean": None, "restricted_to": days}
    dur, ended, entry = spell_times(spells, days)
    s = kaplan_meier(dur, ended, entry)
    return {"spells": s.n, "ended": s.events, "censored": s.n - s.events,
            "median": s.median(), "restricted_mean": num(s.restricted_mean(days)),
            "restricted_to": days}


def km_by_group(spells: pl.DataFrame, attrs: pl.DataFrame, by: Sequence[str], days: int
                ) -> dict[str, list[dict[str, Any]]]:
    """:func:`km_summary` of the spells of each group of each grouping in ``by``."""
    out: dict[str, list[dict[str, Any]]] = {}
    for col in by:
        sp = spells.join(attrs.select("resident_id", pl.col(col).cast(pl.String).alias("_g")),
                         on="resident_id", how="left")
        groups = sorted({g for g in sp["_g"].to_list() if g is not None},
                        key=lambda g: (len(g), g) if g.isdigit() else (0, g))
        out[col] = [{"group": g, **km_summary(sp.filter(pl.col("_g") == g), days)}
                    for g in groups]
    return out
