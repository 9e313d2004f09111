"""Day numbers of a run: calendar periods, monthly snapshot days, working days.

A core module: the scoring engine counts periods and snapshots with it, and the
list and appeal deadlines count working days. Day 0 is the run's ``start_date``.
Calendar periods are counted from the start date's month and year: month 0 is the
calendar month containing day 0 (possibly partial), year 0 the calendar year
containing day 0. Working days come in two calendars (:data:`CALENDARS`):
``"weekdays"``, Monday to Friday, and ``"prc"``, the working days of the People's
Republic of China — Monday to Friday without the public holidays, plus the weekend
days declared make-up working days — as the ``chinese_calendar`` package lists them
(the State Council's yearly holiday notices, sources#prc-public-holidays); outside
the years it covers (:func:`prc_coverage`) the ``"prc"`` calendar is Monday to
Friday. The policy engine's list and appeal deadlines and the labels' deletion
deadline count ``"prc"`` working days (docs/policy.md, docs/audit.md).

A run with a burn-in simulates from ``start_date - burn_in_days``: the stages count
their days from that first simulated day, and the run shifts every day column it
writes (:data:`DAY_COLUMNS`, :func:`to_start`) so that day 0 is the start date and
burn-in rows have negative days.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import chinese_calendar
import numpy as np
import polars as pl

#: Day numbers are Int16 in the record stream; spells and expiries are Int32.
NEVER = np.iinfo(np.int32).max


#: Every day column of every table a run writes (DESIGN.md §5, the data contract):
#: table name (``records/*``: every department's) → its day columns. Tables not named
#: here have none (``residents`` holds dates; ``scores.month`` is a date).
DAY_COLUMNS: dict[str, tuple[str, ...]] = {
    "events": ("day",),
    "records/*": ("day_event", "day_recorded"),
    "ledger": ("day", "expires_day"),
    "scores": ("day",),
    "list_spells": ("start_day", "end_day"),
    "decisions": ("day",),
    "demand": ("day",),
    "appeals": ("spell_start_day", "filed_day", "decided_day"),
}


def day_columns(table: str) -> tuple[str, ...]:
    """The day columns of ``table`` (``"records/court"`` → those of ``records/*``)."""
    if table.startswith("records/"):
        return DAY_COLUMNS["records/*"]
    return DAY_COLUMNS.get(table, ())


def to_start(table: str, df: pl.DataFrame, burn_in_days: int) -> pl.DataFrame:
    """``df`` with its day columns counted from the start date instead of the first
    simulated day (``burn_in_days`` earlier); each column keeps its type (a run's
    horizon fits Int16 either way: config.MAX_DAYS) and its nulls."""
    cols = [c for c in day_columns(table) if c in df.columns]
    if not burn_in_days or not cols:
        return df
    return df.with_columns((pl.col(c) - burn_in_days).cast(df.schema[c]) for c in cols)


def day_dates(start_date: date, days: int) -> np.ndarray:
    """``datetime64[D]`` of each day 0..days-1."""
    return np.datetime64(start_date, "D") + np.arange(days, dtype=np.int64)


def month_index(start_date: date, days: int) -> np.ndarray:
    """Calendar-month index (0 = start date's month) of each day, int32."""
    d = day_dates(start_date, days).astype("datetime64[M]").astype(np.int64)
    return (d - np.datetime64(start_date, "M").astype(np.int64)).astype(np.int32)


def year_index(start_date: date, days: int) -> np.ndarray:
    """Calendar-year index (0 = start date's year) of each day, int32."""
    d = day_dates(start_date, days).astype("datetime64[Y]").astype(np.int64)
    return (d - np.datetime64(start_date, "Y").astype(np.int64)).astype(np.int32)


def period_index(period: str, start_date: date, days: int) -> np.ndarray:
    """Index of the accumulation or cap period of each day."""
    if period == "month":
        return month_index(start_date, days)
    if period == "year":
        return year_index(start_date, days)
    if period in ("run", "record"):
        return np.zeros(days, dtype=np.int32)
    raise ValueError(period)


def snapshots(start_date: date, days: int) -> tuple[list[date], np.ndarray]:
    """Monthly snapshots: the first date of each calendar month touching the run,
    and the snapshot day of each (its last day, or the run's last day)."""
    if days <= 0:
        return [], np.zeros(0, dtype=np.int32)
    mi = month_index(start_date, days)
    n = int(mi[-1]) + 1
    last = np.searchsorted(mi, np.arange(n), side="right") - 1
    firsts = []
    y, m = start_date.year, start_date.month
    for _ in range(n):
        firsts.append(date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return firsts, last.astype(np.int32)


#: The working-day calendars: Monday to Friday, or the PRC's (holidays and make-up days).
CALENDARS = ("weekdays", "prc")


@cache
def _prc_days() -> tuple[np.ndarray, np.ndarray, tuple[date, date]]:
    """The PRC's public holidays and make-up working days (``datetime64[D]``, sorted)
    and the first and last day of the years the package covers."""
    hol = np.array(sorted(chinese_calendar.holidays), dtype="datetime64[D]")
    work = np.array(sorted(chinese_calendar.workdays), dtype="datetime64[D]")
    years = [d.year for d in chinese_calendar.holidays]
    return hol, work, (date(min(years), 1, 1), date(max(years), 12, 31))


def prc_coverage() -> tuple[date, date]:
    """First and last date whose PRC working days are known (whole years of the
    ``chinese_calendar`` package's holiday tables)."""
    return _prc_days()[2]


def working_days(start_date: date, days: int, calendar: str = "prc") -> np.ndarray:
    """Whether each day 0..days-1 is a working day in ``calendar`` (bool)."""
    if calendar not in CALENDARS:
        raise ValueError(f"unknown working-day calendar {calendar!r}")
    dates = day_dates(start_date, max(days, 0))
    wd = (start_date.weekday() + np.arange(dates.size, dtype=np.int64)) % 7 < 5
    if calendar == "prc" and dates.size:
        hol, work, _ = _prc_days()
        wd &= ~np.isin(dates, hol)
        wd |= np.isin(dates, work)
    return wd


def days_outside_prc_coverage(start_date: date, days: int) -> int:
    """How many of the run's days fall outside :func:`prc_coverage` (where the
    ``"prc"`` calendar falls back to Monday to Friday)."""
    lo, hi = prc_coverage()
    dates = day_dates(start_date, max(days, 0))
    return int(((dates < np.datetime64(lo, "D")) | (dates > np.datetime64(hi, "D"))).sum())


def add_working_days(start_date: date, day: np.ndarray, n: int,
                     calendar: str = "weekdays") -> np.ndarray:
    """The ``n``-th working day of ``calendar`` strictly after each ``day`` (``day``
    itself if n = 0)."""
    day = np.asarray(day, dtype=np.int64)
    if n == 0 or day.size == 0:
        return day.copy()
    # Long enough for n working days after the last day, even across the Spring
    # Festival or National Day week (at most 9 days off in a row).
    hi = int(day.max()) + 7 * (n // 5 + 2) + 1 + (14 if calendar == "prc" else 0)
    cw = np.cumsum(working_days(start_date, hi, calendar))
    return np.searchsorted(cw, cw[day] + n, side="left").astype(np.int64)


def date_of(start_date: date, day: int) -> date:
    return start_date + timedelta(days=int(day))
