"""Small builders for registers and linked record streams used by the policy tests."""

from __future__ import annotations

from datetime import date

import polars as pl

from creditsim.catalogue import HukouT, KindT, RelationT

RECORD_COLUMNS = [
    "record_id",
    "resident_id",
    "kind",
    "day_event",
    "day_recorded",
    "amount",
    "case_number",
]


def register(rows: list[dict]) -> pl.DataFrame:
    """A platform register from dicts with resident_id, birth_date, hukou, years_in_city
    (and optionally household_id, relation, father_id, mother_id, consent)."""
    n = len(rows)
    data = {
        "resident_id": pl.Series([r["resident_id"] for r in rows], dtype=pl.Int32),
        "household_id": pl.Series(
            [r.get("household_id", r["resident_id"]) for r in rows], dtype=pl.Int32
        ),
        "relation": pl.Series([r.get("relation", "head") for r in rows], dtype=RelationT),
        "father_id": pl.Series([r.get("father_id") for r in rows], dtype=pl.Int32),
        "mother_id": pl.Series([r.get("mother_id") for r in rows], dtype=pl.Int32),
        "birth_date": pl.Series(
            [r.get("birth_date", date(1980, 1, 1)) for r in rows], dtype=pl.Date
        ),
        "hukou": pl.Series([r.get("hukou", "local") for r in rows], dtype=HukouT),
        "years_in_city": pl.Series([r.get("years_in_city", 10.0) for r in rows], dtype=pl.Float32),
    }
    if any("consent" in r for r in rows):
        data["consent"] = pl.Series([r.get("consent", True) for r in rows], dtype=pl.Boolean)
    assert n == len(data["resident_id"])
    return pl.DataFrame(data)


def linked(records: list[tuple]) -> pl.DataFrame:
    """A linked record stream from tuples in RECORD_COLUMNS order
    (day_event may be given as the day_recorded, amount and case_number may be None)."""
    return pl.DataFrame(
        {
            "record_id": pl.Series([r[0] for r in records], dtype=pl.Int64),
            "resident_id": pl.Series([r[1] for r in records], dtype=pl.Int32),
            "kind": pl.Series([r[2] for r in records], dtype=KindT),
            "day_event": pl.Series([r[3] for r in records], dtype=pl.Int16),
            "day_recorded": pl.Series([r[4] for r in records], dtype=pl.Int16),
            "amount": pl.Series([r[5] for r in records], dtype=pl.Float64),
            "case_number": pl.Series(
                [r[6] if len(r) > 6 else None for r in records], dtype=pl.String
            ),
        }
    )


def sort_all(df: pl.DataFrame) -> pl.DataFrame:
    """Rows in a canonical order (every column ascending, nulls first)."""
    return df.sort(df.columns, nulls_last=False)
