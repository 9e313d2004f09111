"""Was a sanction deserved? (evaluation: reads the truth, by design).

This module is the auditor's side of the services stage, like
``linkage/evaluate.py`` for linkage: it compares the platform's list spells and
decisions with what really happened. Causes of a wrongful sanction:

* ``linkage_error`` — the record that put the person on the list belongs to
  someone else and the platform's probabilistic linkage chose the wrong resident;
* ``data_error`` — the record belongs to someone else and carried another
  person's valid ID number (or a mistyped one that happens to be valid), so it
  was linked to the wrong person by ID;
* ``expired_entry`` — a late deletion: the right person, but the debt behind the
  entry was performed, the court knew it (its record of the performance was
  entered) and the entry was still applied more than ``DELETION_WORKING_DAYS``
  working days of the People's Republic after that.

The deletion rule is the SPC's (sources#spc-list-provisions, Art. 10: delete within
three working days of performance); the court learns of a performance on the day
its first record of it is entered, the court department's recording lag after the
payment. Working days are the PRC's (public holidays and make-up working days,
``rundays.working_days(..., "prc")``), Monday to Friday outside the years the
holiday tables cover.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from creditsim.rundays import add_working_days, days_outside_prc_coverage, prc_coverage

WrongfulCauseT = pl.Enum(["linkage_error", "data_error", "expired_entry"])

#: Working days the court has to delete an entry once it knows of the performance
#: (sources#spc-list-provisions, Art. 10), counted in the PRC's calendar.
DELETION_WORKING_DAYS = 3
#: The calendar the deletion deadline is counted in (rundays.CALENDARS).
DELETION_CALENDAR = "prc"


def deletion_deadline(start_date: date, known_day: pl.Series) -> pl.Series:
    """The last day an entry may still be listed when the court learnt of the
    performance on ``known_day`` (nullable): the ``DELETION_WORKING_DAYS``-th working
    day after it."""
    known = known_day.cast(pl.Int64)
    due = add_working_days(start_date, known.fill_null(0).to_numpy(),
                           DELETION_WORKING_DAYS, DELETION_CALENDAR)
    return pl.DataFrame({"k": known, "d": due}).select(
        pl.when(pl.col("k").is_not_null()).then(pl.col("d")).cast(pl.Int32)
        .alias("truth_deletion_deadline")).to_series()


def deletion_calendar(start_date: date, days: int) -> dict[str, object]:
    """How the labels count the deletion deadline of a run (``loop.json``
    ``calendar``): the rule, the calendar, the dates its holiday tables cover and
    how many of the run's days fall outside them (counted Monday to Friday)."""
    lo, hi = prc_coverage()
    return {"deletion_working_days": DELETION_WORKING_DAYS,
            "from": "the court's first record of the performance",
            "working_days": DELETION_CALENDAR,
            "holidays_known": [lo.isoformat(), hi.isoformat()],
            "outside_known": "Monday to Friday",
            "run_days_outside_known": days_outside_prc_coverage(start_date, days)}


def spell_truth(spells: pl.DataFrame, links: pl.DataFrame, records_truth: pl.DataFrame,
                events: pl.DataFrame, performances: pl.DataFrame,
                start_date: date) -> pl.DataFrame:
    """Per list spell: whether it rests on someone else's record, when (in truth)
    the debt behind it was performed, and by when the entry had to be deleted.

    ``records_truth``: record_id, truth_event_id for every spell's record;
    ``events``: the court's events (event_id, kind, ref_event_id, day);
    ``performances``: truth_event_id and day_recorded of the court's records of
    performances (the day the court learns of each).
    Returns the spells with columns ``wrong_person`` (bool), ``wrong_cause``
    (linkage_error / data_error / null), ``truth_performed_day``,
    ``truth_known_day`` (the court's first record of a performance of the case) and
    ``truth_deletion_deadline`` (nullable: not performed, or not known by the
    horizon).
    """
    lk = links.select("record_id", "method", "resident_id", "truth_resident_id")
    sp = spells.join(lk.rename({"resident_id": "_linked"}), on="record_id", how="left")
    sp = sp.with_columns(
        (pl.col("truth_resident_id").is_not_null()
         & (pl.col("truth_resident_id") != pl.col("resident_id"))).alias("wrong_person"))
    sp = sp.with_columns(
        pl.when(~pl.col("wrong_person")).then(None)
        .when(pl.col("method").cast(pl.String) == "id").then(pl.lit("data_error"))
        .otherwise(pl.lit("linkage_error")).cast(WrongfulCauseT).alias("wrong_cause"))
    # The enforcement case behind the spell's record, and its truth performance day.
    ev = events.select("event_id", "kind", "ref_event_id", "day")
    rec = records_truth.select("record_id", "truth_event_id")
    case = rec.join(ev, left_on="truth_event_id", right_on="event_id", how="left").select(
        "record_id",
        pl.when(pl.col("kind").cast(pl.String) == "enforcement_opened")
        .then(pl.col("truth_event_id")).otherwise(pl.col("ref_event_id")).alias("_case"))
    perf = ev.filter(pl.col("kind").cast(pl.String) == "judgment_performed").join(
        performances.group_by("truth_event_id").agg(pl.col("day_recorded").min()),
        left_on="event_id", right_on="truth_event_id", how="left")
    performed = perf.group_by("ref_event_id").agg(
        pl.col("day").min().cast(pl.Int32).alias("truth_performed_day"),
        pl.col("day_recorded").min().cast(pl.Int32).alias("truth_known_day"))
    sp = sp.join(case, on="record_id", how="left").join(
        performed, left_on="_case", right_on="ref_event_id", how="left")
    sp = sp.with_columns(deletion_deadline(start_date, sp["truth_known_day"]))
    return sp.drop("_case", "_linked", "method", "truth_resident_id")


def _late(day: pl.Expr) -> pl.Expr:
    """Listed on ``day`` after the deletion deadline, by the right person's record."""
    return (~pl.col("wrong_person").fill_null(False)) \
        & pl.col("truth_deletion_deadline").is_not_null() \
        & (day > pl.col("truth_deletion_deadline"))


def label_decisions(decisions: pl.DataFrame, spells_t: pl.DataFrame) -> pl.DataFrame:
    """Add ``wrongful`` and ``wrongful_cause`` to decisions caused by list spells.

    Decisions caused by tiers or scores are labelled afterwards by
    :func:`label_state_decisions`; coverage-caused ones are never wrongful.
    """
    key = spells_t.select(
        pl.col("resident_id").alias("via_resident_id"),
        pl.col("list").cast(pl.String).alias("cause"),
        pl.col("record_id").alias("spell_record_id"),
        "wrong_person", "wrong_cause", "truth_deletion_deadline",
    ).unique(["via_resident_id", "cause", "spell_record_id"], keep="first", maintain_order=True)
    d = decisions.join(key, on=["via_resident_id", "cause", "spell_record_id"], how="left",
                       maintain_order="left")
    expired = _late(pl.col("day").cast(pl.Int32))
    return d.with_columns(
        (pl.col("wrong_person").fill_null(False) | expired).alias("wrongful"),
        pl.when(pl.col("wrong_person").fill_null(False)).then(pl.col("wrong_cause"))
        .when(expired).then(pl.lit("expired_entry").cast(WrongfulCauseT))
        .otherwise(None).cast(WrongfulCauseT).alias("wrongful_cause"),
    ).drop("wrong_person", "wrong_cause", "truth_deletion_deadline")


def label_spells(spells_t: pl.DataFrame, days: int) -> pl.DataFrame:
    """List spells with ``wrongful`` (any wrongful day) and ``wrongful_cause``.

    The spell's days are ``start_day`` to ``end_day`` exclusive (to the horizon if
    open): it is an expired entry when its last listed day is after the deadline,
    the rule :func:`label_decisions` applies to each day."""
    expired = _late(pl.col("end_day").fill_null(days) - 1)
    return spells_t.with_columns(
        (pl.col("wrong_person") | expired).alias("wrongful"),
        pl.when(pl.col("wrong_person")).then(pl.col("wrong_cause"))
        .when(expired).then(pl.lit("expired_entry").cast(WrongfulCauseT))
        .otherwise(None).cast(WrongfulCauseT).alias("wrongful_cause"),
    ).drop("wrong_person", "wrong_cause")


def label_state_decisions(decisions: pl.DataFrame, truth_states: pl.DataFrame,
                          baseline: tuple[int | None, str | None],
                          conditions: dict[str, tuple[list[str] | None, int | None]],
                          links: pl.DataFrame) -> pl.DataFrame:
    """Label decisions caused by tiers or scores against a truth-world scoring.

    ``truth_states``: (resident_id, start, end, score, tier) of the policy applied
    to every record linked to its true subject, duplicates removed. A decision is
    wrongful when the subject (``via_resident_id``) would not have met the
    consequence's condition on that day in the truth world. The cause is
    ``linkage_error`` when the subject's profile held someone else's record linked
    probabilistically or missed one of their own, ``data_error`` otherwise (a record
    under a relative's valid ID, a duplicate, a wrong field).
    """
    st = decisions.with_row_index("_i").filter(
        pl.col("cause_type").cast(pl.String).is_in(["tier", "score"]))
    if st.height == 0:
        return decisions
    base = st.select("_i", "via_resident_id", "day", "consequence")
    covering = base.join(truth_states.rename({"resident_id": "via_resident_id"}),
                         on="via_resident_id", how="inner").filter(
        (pl.col("day").cast(pl.Int32) >= pl.col("start"))
        & (pl.col("day").cast(pl.Int32) < pl.col("end"))).unique("_i", keep="first")
    # Days no truth interval covers are at the baseline in the truth world.
    hit = base.join(covering.select("_i", "score", pl.col("tier").cast(pl.String)), on="_i",
                    how="left",
                    maintain_order="left").with_columns(
        pl.col("score").fill_null(pl.lit(baseline[0])).alias("t_score"),
        pl.col("tier").fill_null(pl.lit(baseline[1])).alias("t_tier"))
    meets = pl.lit(False)
    for cid, (tiers, score_min) in conditions.items():
        cond = pl.col("t_tier").is_in(tiers) if tiers is not None else \
            (pl.col("t_score") >= score_min)
        meets = pl.when(pl.col("consequence") == cid).then(cond.fill_null(False)).otherwise(meets)
    undeserved = hit.filter(~meets).select("_i", "via_resident_id")
    if undeserved.height == 0:
        return decisions
    # Why: the subject's profile vs the truth.
    lk = links.select("resident_id", "truth_resident_id", "method")
    wrong_prob = lk.filter((pl.col("resident_id") != pl.col("truth_resident_id"))
                           & (pl.col("method").cast(pl.String) == "probabilistic"))["resident_id"]
    missed = lk.filter(pl.col("resident_id").is_null())["truth_resident_id"]
    linkage_side = pl.concat([wrong_prob, missed]).drop_nulls().unique().implode()
    cause = undeserved.with_columns(
        pl.when(pl.col("via_resident_id").is_in(linkage_side)).then(pl.lit("linkage_error"))
        .otherwise(pl.lit("data_error")).cast(WrongfulCauseT).alias("_cause"))
    out = decisions.with_row_index("_i").join(cause.select("_i", "_cause"), on="_i",
                                              how="left", maintain_order="left")
    return out.with_columns(
        (pl.col("wrongful") | pl.col("_cause").is_not_null()).alias("wrongful"),
        pl.coalesce("wrongful_cause", "_cause").alias("wrongful_cause"),
    ).drop("_i", "_cause")
