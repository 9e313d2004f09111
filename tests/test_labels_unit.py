"""The label functions of services/evaluate.py on hand-made tables (issue 16)."""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from creditsim.rundays import prc_coverage, working_days
from creditsim.services.evaluate import (
    WrongfulCauseT,
    deletion_deadline,
    label_decisions,
    label_spells,
)

DAYS = 60


def _spells_truth(rows: list[tuple[int, int, int | None, bool, int | None]]) -> pl.DataFrame:
    """Spells as spell_truth returns them: (start, end, wrong_person, deletion
    deadline) per row, one resident and record each."""
    n = len(rows)
    return pl.DataFrame({
        "resident_id": pl.Series(range(n), dtype=pl.Int32),
        "list": pl.Series(["L"] * n).cast(pl.Enum(["L"])),
        "start_day": pl.Series([r[0] for r in rows], dtype=pl.Int32),
        "end_day": pl.Series([r[1] for r in rows], dtype=pl.Int32),
        "record_id": pl.Series(range(100, 100 + n), dtype=pl.Int64),
        "wrong_person": [r[2] for r in rows],
        "wrong_cause": pl.Series(["linkage_error" if r[2] else None for r in rows],
                                 dtype=WrongfulCauseT),
        "truth_deletion_deadline": pl.Series([r[3] for r in rows], dtype=pl.Int32),
    })


def _every_listed_day(spells: pl.DataFrame) -> pl.DataFrame:
    """One denial on every day each spell lists its resident."""
    rows = []
    for r in spells.iter_rows(named=True):
        end = DAYS if r["end_day"] is None else r["end_day"]
        rows += [(r["resident_id"], d, r["record_id"]) for d in range(r["start_day"], end)]
    d = pl.DataFrame(rows, schema=["resident_id", "day", "spell_record_id"], orient="row")
    return d.with_columns(
        pl.col("resident_id").cast(pl.Int32), pl.col("day").cast(pl.Int16),
        pl.col("spell_record_id").cast(pl.Int64),
        pl.col("resident_id").cast(pl.Int32).alias("via_resident_id"),
        pl.lit("L").alias("cause"), pl.lit("list").alias("cause_type"))


@st.composite
def _spell_rows(draw: st.DrawFn) -> list[tuple]:
    out = []
    for _ in range(draw(st.integers(1, 12))):
        start = draw(st.integers(0, DAYS - 1))
        end = draw(st.one_of(st.none(), st.integers(start + 1, DAYS)))
        perf = draw(st.one_of(st.none(), st.integers(0, DAYS)))
        out.append((start, end, draw(st.booleans()), perf))
    return out


@given(_spell_rows())
def test_a_spell_is_wrongful_exactly_when_one_of_its_listed_days_is(rows: list) -> None:
    """Item 2: spells and decisions use one deadline. A spell is labelled wrongful
    (with a cause) exactly when a decision on one of its listed days would be, with
    the same cause."""
    spells = _spells_truth(rows)
    per_day = label_decisions(_every_listed_day(spells), spells)
    by_spell = per_day.group_by("spell_record_id").agg(
        pl.col("wrongful").any().alias("any_day"),
        pl.col("wrongful_cause").drop_nulls().first().alias("day_cause"))
    got = label_spells(spells, DAYS).join(by_spell, left_on="record_id",
                                          right_on="spell_record_id", how="left")
    assert got["wrongful"].to_list() == got["any_day"].to_list()
    assert got["wrongful_cause"].cast(pl.String).to_list() == \
        got["day_cause"].cast(pl.String).to_list()


def test_listed_up_to_the_deadline_is_not_late() -> None:
    """With the deadline on day 15, a spell that ends (exclusive) on day 16 was listed
    on no day after it, one that ends on day 17 was."""
    spells = _spells_truth([(0, 16, False, 15), (0, 17, False, 15)])
    days = label_decisions(_every_listed_day(spells), spells).filter(pl.col("wrongful"))
    assert days["day"].to_list() == [16]
    assert label_spells(spells, DAYS)["wrongful"].to_list() == [False, True]


def test_deadline_is_three_prc_working_days_after_the_court_knows() -> None:
    """The court learns of a performance on Thursday 30 September 2021: 1-7 October
    are the National Day holiday, Friday 8 and Saturday 9 October make-up working
    days, so the third working day is Monday 11 October (Monday to Friday alone
    would give Tuesday 5 October). A null known day has no deadline."""
    start = dt.date(2021, 1, 1)
    known = pl.Series([(dt.date(2021, 9, 30) - start).days, None], dtype=pl.Int32)
    got = deletion_deadline(start, known).to_list()
    assert got == [(dt.date(2021, 10, 11) - start).days, None]


@given(st.integers(0, 3000), st.integers(0, 400))
def test_prc_working_days_against_the_package(offset: int, n: int) -> None:
    """The run's working-day mask agrees with chinese_calendar.is_workday inside the
    package's coverage and is Monday to Friday outside it."""
    start = dt.date(2024, 1, 1) + dt.timedelta(days=offset)
    mask = working_days(start, n, "prc")
    lo, hi = prc_coverage()
    for i in range(n):
        d = start + dt.timedelta(days=i)
        want = chinese_calendar.is_workday(d) if lo <= d <= hi else d.weekday() < 5
        assert bool(mask[i]) == want, d
