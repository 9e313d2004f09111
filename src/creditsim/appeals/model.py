"""Objections and repayments, vectorised over list spells."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from creditsim.params import Cited
from creditsim.rng import keyed_uniforms
from creditsim.rundays import add_working_days

A = "assumption"
OutcomeT = pl.Enum(["upheld", "rejected"])

APPEALS_SCHEMA = {
    "resident_id": pl.Int32(), "list": pl.String(), "spell_start_day": pl.Int32(),
    "record_id": pl.Int64(), "filed_day": pl.Int32(), "decided_day": pl.Int32(),
    "outcome": OutcomeT,
}


@dataclass(frozen=True)
class AppealsModel:
    """Who objects to a wrongful listing, how fast the platform answers, how often it
    agrees. Probabilities are per wrongful spell."""

    base: Cited[float] = Cited(0.35, A + ": share of wrongly listed people with average "
                               "means who object (AP 2019: people are often not told, "
                               "facts.md §8)")
    tertiary_factor: Cited[float] = Cited(1.8, A + ": the university-educated object more")
    low_income_factor: Cited[float] = Cited(0.6, A + ": bottom three income deciles object less")
    migrant_factor: Cited[float] = Cited(0.6, A + ": migrants face registration and "
                                         "distance barriers")
    notice_days: Cited[tuple[int, int]] = Cited(
        (7, 90), A + ": days until the person learns of the listing (often at a blocked "
        "ticket purchase)")
    answer_working_days: Cited[int] = Cited(
        10, "Credit China answers repair/objection applications within 10 working days "
        "(June 2025 State Council plan, facts.md §8)")
    act_working_days: Cited[int] = Cited(
        3, "the responsible authority decides within 3 working days (facts.md §8)")
    success_wrongful: Cited[float] = Cited(0.8, A + ": most objections with evidence succeed")


@dataclass(frozen=True)
class RepaymentModel:
    """How fast rightly listed debtors pay up, by means."""

    monthly_hazard: Cited[float] = Cited(
        0.06, A + ": about half of listed debtors with average means perform within a "
        "year; 'the listing … restores credit' examples show same-day repayment is "
        "possible for those able (facts.md §4.3)")
    decile_slope: Cited[float] = Cited(0.12, A + ": log-hazard rises with income decile")
    court_lag_days: Cited[int] = Cited(2, A + ": the court records the performance")


def objections(spells: pl.DataFrame, residents: pl.DataFrame, *, seed: int, days: int,
               start_date: dt.date, model: AppealsModel) -> pl.DataFrame:
    """Objections to wrongful spells (``wrongful`` and ``wrongful_cause`` labelled).

    For someone else's record the objection can come any time after listing; for
    an expired entry, only after the debt was performed. Returns the appeals
    table (APPEALS_SCHEMA)."""
    w = spells.filter(pl.col("wrongful"))
    if w.height == 0:
        return pl.DataFrame(schema=APPEALS_SCHEMA)
    idx = pl.Series(w["resident_id"].to_numpy().astype(np.int64))  # ids are row numbers
    who = pl.DataFrame({c: residents[c].gather(idx)
                        for c in ("education", "income_decile", "hukou")})
    key = w["record_id"].to_numpy().astype(np.int64) * 64 + w["resident_id"].to_numpy() % 64
    u = keyed_uniforms(seed, "appeals.objection", key, 3)
    p = np.full(w.height, model.base.value)
    p *= np.where(who["education"].cast(pl.String) == "tertiary", model.tertiary_factor.value, 1.0)
    p *= np.where(who["income_decile"].to_numpy() <= 3, model.low_income_factor.value, 1.0)
    p *= np.where(who["hukou"].cast(pl.String) == "migrant", model.migrant_factor.value, 1.0)
    objects = u[:, 0] < np.minimum(p, 1.0)
    lo, hi = model.notice_days.value
    notice = np.floor(lo + u[:, 1] * (hi - lo + 1)).astype(np.int64)
    start = w["start_day"].to_numpy().astype(np.int64)
    expired = (w["wrongful_cause"].cast(pl.String) == "expired_entry").to_numpy()
    perf = w["truth_performed_day"].fill_null(0).to_numpy().astype(np.int64)
    filed = np.where(expired, np.maximum(start, perf) + notice, start + notice)
    decided = add_working_days(start_date, filed, model.answer_working_days.value
                               + model.act_working_days.value)
    end = w["end_day"].fill_null(days).to_numpy().astype(np.int64)
    m = objects & (filed < end) & (filed < days)
    upheld = u[:, 2] < model.success_wrongful.value
    out = pl.DataFrame({
        "resident_id": w["resident_id"].cast(pl.Int32), "list": w["list"].cast(pl.String),
        "spell_start_day": w["start_day"].cast(pl.Int32), "record_id": w["record_id"],
        "filed_day": pl.Series(filed, dtype=pl.Int32),
        "decided_day": pl.Series(decided, dtype=pl.Int32),
        "outcome": pl.Series(np.where(upheld, "upheld", "rejected")).cast(OutcomeT),
    }).filter(pl.Series(m))
    return out.sort("filed_day", "resident_id", "record_id")


def apply_appeals(spells: pl.DataFrame, appeals: pl.DataFrame) -> pl.DataFrame:
    """End every spell whose objection was upheld on its decision day."""
    up = appeals.filter(pl.col("outcome") == "upheld").select(
        "resident_id", "record_id", pl.col("list").alias("_list"),
        pl.col("spell_start_day").alias("start_day"), pl.col("decided_day"))
    sp = spells.with_columns(pl.col("list").cast(pl.String).alias("_list")).join(
        up, on=["resident_id", "record_id", "_list", "start_day"], how="left",
        maintain_order="left")
    ends_earlier = pl.col("decided_day").is_not_null() & (
        pl.col("end_day").is_null() | (pl.col("decided_day") < pl.col("end_day")))
    dtype = spells.schema["exit_reason"]
    return sp.with_columns(
        pl.when(ends_earlier).then(pl.col("decided_day")).otherwise(pl.col("end_day"))
        .cast(spells.schema["end_day"]).alias("end_day"),
        pl.when(ends_earlier).then(pl.lit("appealed")).otherwise(
            pl.col("exit_reason").cast(pl.String)).cast(dtype).alias("exit_reason"),
    ).drop("_list", "decided_day")


def repayments(spells: pl.DataFrame, residents: pl.DataFrame, *, seed: int, days: int,
               model: RepaymentModel, lists: set[str]) -> pl.DataFrame:
    """Repayment days of rightly listed debtors on per-case lists.

    ``spells`` carry ``wrong_person``/``wrongful`` labels and ``truth_performed_day``.
    Returns columns case_record_id (the spell's record), resident_id, day.
    """
    sp = spells.filter(pl.col("list").cast(pl.String).is_in(list(lists))
                       & ~pl.col("wrong_person") & pl.col("truth_performed_day").is_null())
    if sp.height == 0:
        return pl.DataFrame(schema={"case_record_id": pl.Int64, "resident_id": pl.Int32,
                                    "day": pl.Int32})
    dec = residents["income_decile"].to_numpy()[sp["resident_id"].to_numpy()].astype(float)
    h = model.monthly_hazard.value * np.exp(model.decile_slope.value * (dec - 5.5))
    u = keyed_uniforms(seed, "appeals.repayment", sp["record_id"].to_numpy(), 1)[:, 0]
    delay = -np.log1p(-u.astype(np.float64)) / h * 30.44
    day = sp["start_day"].to_numpy().astype(np.float64) + np.floor(delay)
    out = pl.DataFrame({"case_record_id": sp["record_id"], "resident_id": sp["resident_id"],
                        "day": pl.Series(np.minimum(day, 2**31 - 1), dtype=pl.Int32)})
    return out.filter(pl.col("day") < days).unique("case_record_id", keep="first",
                                                   maintain_order=True)
