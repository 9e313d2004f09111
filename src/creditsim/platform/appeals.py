"""The platform's side of objections: answering them and ending the spells it upholds
(platform side: reads no truth).

Who objects, and when, is the residents' affair (:mod:`creditsim.platform.world.residents`);
the platform sees only the objections filed. Both sides' parameters are here, in
one record per process, so a run's manifest lists them together.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from creditsim.params import Cited
from creditsim.rng import keyed_uniforms
from creditsim.rundays import add_working_days

A = "assumption"
#: The uniforms of an objection: [filed?, notice delay, upheld?] (keyed by record and
#: resident; the first two are drawn on the residents' side, the third here).
OBJECTION_STREAM = "appeals.objection"
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
                               "sources#ap-not-told-2019)", bounds=(0.0, 1.0))
    tertiary_factor: Cited[float] = Cited(1.8, A + ": the university-educated object more")
    low_income_factor: Cited[float] = Cited(0.6, A + ": bottom three income deciles object less")
    migrant_factor: Cited[float] = Cited(0.6, A + ": migrants face registration and "
                                         "distance barriers")
    notice_days: Cited[tuple[int, int]] = Cited(
        (7, 90), A + ": days until the person learns of the listing (often at a blocked "
        "ticket purchase)")
    answer_working_days: Cited[int] = Cited(
        10, "Credit China answers repair/objection applications within 10 working days "
        "(sources#repair-plan-2025)")
    act_working_days: Cited[int] = Cited(
        3, "the responsible authority decides within 3 working days (sources#repair-plan-2025)")
    success_wrongful: Cited[float] = Cited(0.8, A + ": most objections with evidence succeed")


@dataclass(frozen=True)
class RepaymentModel:
    """How fast rightly listed debtors pay up, by means."""

    monthly_hazard: Cited[float] = Cited(
        0.06, A + ": about half of listed debtors with average means perform within a "
        "year; 'the listing … restores credit' examples show same-day repayment is "
        "possible for those able (sources#delisting-example-2016)")
    decile_slope: Cited[float] = Cited(0.12, A + ": log-hazard rises with income decile")
    court_lag_days: Cited[int] = Cited(2, A + ": the court records the performance")


#: Objections residents file (the world side's output; no truth): the spell objected to
#: and the filing day.
FILED_SCHEMA = {
    "resident_id": pl.Int32(), "list": pl.String(), "spell_start_day": pl.Int32(),
    "record_id": pl.Int64(), "filed_day": pl.Int32(),
}


def answer_objections(filed: pl.DataFrame, *, seed: int, start_date: dt.date,
                      model: AppealsModel) -> pl.DataFrame:
    """The platform's answer to each filed objection: decided after the answering
    and acting delays (working days), upheld with the platform's success rate.

    The outcome's uniform is keyed like the filing's (record and resident), so an
    objection's fate does not depend on which others were filed. Returns the
    appeals table (APPEALS_SCHEMA), in order of filing."""
    if filed.height == 0:
        return pl.DataFrame(schema=APPEALS_SCHEMA)
    key = filed["record_id"].to_numpy().astype(np.int64) * 64 \
        + filed["resident_id"].to_numpy() % 64
    u = keyed_uniforms(seed, OBJECTION_STREAM, key, 3)
    decided = add_working_days(start_date, filed["filed_day"].to_numpy().astype(np.int64),
                               model.answer_working_days.value + model.act_working_days.value,
                               "prc")
    upheld = u[:, 2] < model.success_wrongful.value
    out = filed.with_columns(
        pl.Series("decided_day", decided, dtype=pl.Int32),
        pl.Series("outcome", np.where(upheld, "upheld", "rejected")).cast(OutcomeT))
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

