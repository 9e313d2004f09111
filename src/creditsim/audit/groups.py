"""Groupings of residents and per-group rates with intervals, ratios and flags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from creditsim.audit.run import AuditError, RunData
from creditsim.audit.stats import (
    ALPHA,
    FOUR_FIFTHS,
    Thresholds,
    band_p,
    four_fifths,
    holm,
    katz_se,
    num,
    risk_ratio,
    wilson,
)

#: Groupings the audit knows; the first five are the default.
GROUPINGS: tuple[str, ...] = ("district", "hukou", "income_decile", "age_band", "sex",
                              "education", "relation", "name_commonness")
DEFAULT_BY: tuple[str, ...] = GROUPINGS[:5]

#: Age bands (years at the run's start date): label, lowest age, highest age.
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("0-17", 0, 17), ("18-29", 18, 29), ("30-44", 30, 44), ("45-59", 45, 59),
    ("60-74", 60, 74), ("75+", 75, None),
)
NAME_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("unique", 1, 1), ("2-9", 2, 9), ("10-99", 10, 99), ("100-999", 100, 999),
    ("1000+", 1000, None),
)


def parse_by(by: str | Sequence[str] | None) -> list[str]:
    """Normalise ``--by`` (a comma list or a sequence); unknown names are an error."""
    if by is None:
        return list(DEFAULT_BY)
    items = [b.strip() for b in (by.split(",") if isinstance(by, str) else by)]
    items = [b for b in items if b]
    bad = [b for b in items if b not in GROUPINGS]
    if bad:
        raise AuditError(f"unknown grouping {', '.join(map(repr, bad))}; "
                         f"choose from {', '.join(GROUPINGS)}")
    if not items:
        raise AuditError(f"no grouping given; choose from {', '.join(GROUPINGS)}")
    return list(dict.fromkeys(items))


def _band(col: pl.Expr, bands: Sequence[tuple[str, int, int | None]]) -> pl.Expr:
    out = pl.lit(None, dtype=pl.String)
    for label, lo, hi in reversed(bands):
        cond = col >= lo if hi is None else (col >= lo) & (col <= hi)
        out = pl.when(cond).then(pl.lit(label)).otherwise(out)
    return out.cast(pl.Enum([b[0] for b in bands]))


def attributes(run: RunData, by: Sequence[str]) -> pl.DataFrame:
    """resident_id plus one column per grouping (Enum or integer), in resident order."""
    need = {"resident_id"}
    for b in by:
        need |= {"age_band": {"birth_date"}, "name_commonness": {"name"}}.get(b, {b})
    have = set(run.columns("residents"))
    missing = sorted(need - have)
    if missing:
        raise AuditError(f"{run.path}: residents table lacks {', '.join(missing)}")
    df = run.scan("residents").select(sorted(need)).sort("resident_id").collect()
    start = run.start_date
    exprs: list[pl.Expr] = [pl.col("resident_id")]
    for b in by:
        if b == "age_band":
            bd = pl.col("birth_date")
            md = bd.dt.month().cast(pl.Int32) * 100 + bd.dt.day().cast(pl.Int32)
            age = (pl.lit(start.year) - bd.dt.year().cast(pl.Int32)
                   - (md > start.month * 100 + start.day).cast(pl.Int32))
            exprs.append(_band(age, AGE_BANDS).alias(b))
        elif b == "name_commonness":
            exprs.append(_band(pl.len().over("name"), NAME_BANDS).alias(b))
        else:
            exprs.append(pl.col(b))
    return df.select(exprs)


def group_order(s: pl.Series) -> list[Any]:
    """The groups of a column in their natural order (Enum order, else sorted)."""
    vals = s.drop_nulls().unique()
    if isinstance(s.dtype, pl.Enum):
        cats = s.dtype.categories.to_list()
        present = set(vals.cast(pl.String).to_list())
        return [c for c in cats if c in present]
    return sorted(vals.to_list())


def choose_reference(sizes: Mapping[str, int], wanted: str | None, grouping: str) -> str:
    """The reference group: ``wanted`` if given, else the largest group."""
    if wanted is not None:
        if wanted not in sizes:
            raise AuditError(f"reference group {grouping}={wanted!r} not found; groups: "
                             f"{', '.join(sizes)}")
        return wanted
    return max(sizes, key=lambda g: (sizes[g], -list(sizes).index(g)))


def _states(k: np.ndarray, n: np.ndarray, ri: int, th: Thresholds,
            residents: np.ndarray) -> list[str]:
    """The comparison state of each group against the reference ``ri``."""
    out = []
    for i in range(len(k)):
        if i == ri:
            out.append("reference")
        elif (residents[i] < th.min_residents or residents[ri] < th.min_residents
              or k[ri] < th.min_events or max(k[i], n[i] * k[ri] / n[ri]) < th.min_events):
            out.append("insufficient_data")
        elif not (k[ri] > 0 and n[ri] > 0):
            out.append("undefined")
        else:
            out.append("ok")
    return out


def compare_metric(k: np.ndarray, n: np.ndarray, ri: int, th: Thresholds,
                   residents: np.ndarray) -> list[dict[str, Any]]:
    """One metric's compared rates, one per group: count, rate, Wilson interval, ratio
    to the group ``ri`` with its Katz interval, and the tests against the four-fifths
    band and against 1, Holm-adjusted over the groups whose comparison is ``ok``."""
    lo, hi = wilson(k, n)
    ratio, rlo, rhi = risk_ratio(k, n, float(k[ri]), float(n[ri]))
    states = _states(k, n, ri, th, residents)
    tested = np.array([st == "ok" for st in states])
    # A group with no events has no Katz interval; its tests use half an event (the
    # usual continuity correction), so that "none of 10,000 where the reference has
    # 5%" can still be found significant.
    k_cc = np.where(k > 0, k, 0.5)
    r_cc = (k_cc / np.where(n > 0, n, np.nan)) / (k[ri] / n[ri]) if k[ri] > 0 else ratio
    se_cc = katz_se(k_cc, n, float(k[ri]), float(n[ri]))
    p_band = np.where(tested, band_p(r_cc, se_cc, FOUR_FIFTHS), np.nan)
    p_one = np.where(tested, band_p(r_cc, se_cc, (1.0, 1.0)), np.nan)
    a_band, a_one = holm(p_band), holm(p_one)
    out = []
    for i, st in enumerate(states):
        r = num(ratio[i])
        ok = st == "ok"
        out.append({
            "count": int(k[i]), "denominator": int(n[i]),
            "rate": num(k[i] / n[i]) if n[i] > 0 else None,
            "ci95": [num(lo[i]), num(hi[i])],
            "ratio": r, "ratio_ci95": [num(rlo[i]), num(rhi[i])],
            "outside_four_fifths": four_fifths(r) if ok else None,
            "p_four_fifths": num(p_band[i]) if ok else None,
            "p_four_fifths_holm": num(a_band[i]) if ok else None,
            "four_fifths_flag": bool(a_band[i] < ALPHA) if ok and a_band[i] == a_band[i]
            else (False if ok else None),
            "ci_excludes_1": (bool(rlo[i] > 1 or rhi[i] < 1)
                              if ok and rlo[i] == rlo[i] else None),
            "p_ratio_1_holm": num(a_one[i]) if ok else None,
            "differs_from_1": bool(a_one[i] < ALPHA) if ok and a_one[i] == a_one[i]
            else None,
            "comparison": st,
        })
    return out


def rate_rows(keys: list[str], counts: Mapping[str, np.ndarray], denominators: Mapping[
        str, np.ndarray], ref: str, th: Thresholds, residents: np.ndarray) -> list[dict[str, Any]]:
    """Per-group rows: for each metric its compared rates (:func:`compare_metric`)."""
    ri = keys.index(ref)
    rows: list[dict[str, Any]] = [{"group": k, "residents": int(residents[i]),
                                   "status": "ok" if residents[i] >= th.min_residents
                                   else "insufficient_data"} for i, k in enumerate(keys)]
    for m, k in counts.items():
        for row, cell in zip(rows, compare_metric(k, denominators[m], ri, th, residents),
                             strict=True):
            row[m] = cell
    return rows


def group_table(people: pl.DataFrame, attrs: pl.DataFrame, col: str, metrics: Sequence[str],
                among: Mapping[str, str], reference: str | None, th: Thresholds
                ) -> dict[str, Any]:
    """Rates of boolean ``metrics`` by ``col``. ``among`` maps a derived metric name to
    ``(numerator column) / (denominator column)`` as ``"num|den"`` for conditional
    rates (e.g. wrongful among the sanctioned)."""
    df = attrs.select("resident_id", pl.col(col).cast(pl.String).alias("_g")).join(
        people, on="resident_id", how="left")
    agg = [pl.len().alias("_n")] + [pl.col(m).sum().alias(m) for m in metrics]
    agg += [pl.col(spec.split("|")[1]).sum().alias(f"_den_{name}")
            for name, spec in among.items()]
    agg += [(pl.col(spec.split("|")[0]) & pl.col(spec.split("|")[1])).sum().alias(name)
            for name, spec in among.items()]
    g = df.filter(pl.col("_g").is_not_null()).group_by("_g").agg(agg)
    order = [str(x) for x in group_order(attrs[col])]
    g = pl.DataFrame({"_g": order}).join(g, on="_g", how="left").fill_null(0)
    keys = g["_g"].to_list()
    residents = g["_n"].to_numpy().astype(np.float64)
    sizes = dict(zip(keys, g["_n"].to_list(), strict=True))
    ref = choose_reference(sizes, reference, col)
    counts = {m: g[m].to_numpy().astype(np.float64) for m in [*metrics, *among]}
    dens = {m: residents for m in metrics}
    dens |= {name: g[f"_den_{name}"].to_numpy().astype(np.float64) for name in among}
    return {"reference": ref, "reference_rule": "given" if reference else "largest group",
            "rows": rate_rows(keys, counts, dens, ref, th, residents)}
