"""What the platform sees: identity columns of records and register, and keys.

The platform reads only :data:`~creditsim.linkage.schema.RECORD_IDENTITY` from the
departments' tables and :data:`~creditsim.linkage.schema.REGISTER_IDENTITY` from the
resident register, selected by name, so nothing else (in particular no column of
the simulation's ground truth) ever reaches the linkage code.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from creditsim import catalogue as cat
from creditsim.errors import ConfigError, Problem
from creditsim.linkage.schema import RECORD_IDENTITY, REGISTER_IDENTITY

_RECORD_TYPES: dict[str, pl.DataType] = {
    "record_id": pl.Int64(), "department": cat.DepartmentT, "name": pl.String(),
    "id_number": pl.String(), "birth_date": pl.Date(), "sex": cat.SexT,
    "district": cat.DistrictT,
}
_REGISTER_TYPES: dict[str, pl.DataType] = {
    "resident_id": pl.Int32(), "name": pl.String(), "id_number": pl.String(),
    "birth_date": pl.Date(), "sex": cat.SexT, "district": cat.DistrictT,
}


def _check_columns(df: pl.DataFrame, wanted: dict[str, pl.DataType], where: str) -> list[Problem]:
    problems = []
    for col, dtype in wanted.items():
        if col not in df.columns:
            problems.append(Problem(f"missing column {col!r}", where))
        elif col == "district" and isinstance(df.schema[col], pl.Enum):
            continue  # the categories are the city's districts (cat.DistrictT for Beijing)
        elif df.schema[col] != dtype and df.schema[col] != pl.Null:
            problems.append(Problem(f"column {col!r} is {df.schema[col]}, expected {dtype}", where))
    return problems


def _types_of(df: pl.DataFrame, wanted: dict[str, pl.DataType]) -> dict[str, pl.DataType]:
    """``wanted``, with the district column's own Enum (the city's districts)."""
    dist = df.schema.get("district")
    return {**wanted, "district": dist} if isinstance(dist, pl.Enum) else wanted


def record_views(records: Mapping[str, pl.DataFrame]) -> list[pl.DataFrame]:
    """The identity columns of each department's records, one frame per department.

    Departments come in the catalogue's order (whatever the order of the mapping);
    the frames share the departments' column buffers (no copy).
    """
    problems: list[Problem] = []
    parts = []
    for dept in sorted(records, key=lambda d: cat.DEPARTMENTS.index(d)
                       if d in cat.DEPARTMENTS else len(cat.DEPARTMENTS)):
        df = records[dept]
        where = f"records[{dept!r}]"
        if dept not in cat.DEPARTMENTS:
            problems.append(Problem(f"unknown department {dept!r}", where))
            continue
        found = _check_columns(df, _RECORD_TYPES, where)
        problems += found
        if not found:
            parts.append(df.select(RECORD_IDENTITY).cast(  # type: ignore[arg-type]
                _types_of(df, _RECORD_TYPES)))
    if problems:
        raise ConfigError(problems)
    ids = np.concatenate([p["record_id"].to_numpy() for p in parts]) if parts else \
        np.zeros(0, np.int64)
    if len(ids):
        lo, hi = int(ids.min()), int(ids.max())
        if hi - lo < 4 * len(ids):  # dense ids: count distinct values by marking
            seen = np.zeros(hi - lo + 1, dtype=bool)
            seen[ids - lo] = True
            distinct = int(seen.sum())
        else:
            distinct = pl.Series(ids).n_unique()
        if distinct != len(ids):
            raise ConfigError("record_id values are not unique across departments")
    return parts


def record_view(records: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """The identity columns of every department's records, in one frame
    (:func:`record_views` concatenated)."""
    parts = record_views(records)
    if not parts:
        return pl.DataFrame(schema=_RECORD_TYPES)
    return pl.concat(parts, how="vertical")


def register_view(register: pl.DataFrame) -> pl.DataFrame:
    """The identity columns of the resident register, sorted by resident_id."""
    problems = _check_columns(register, _REGISTER_TYPES, "register")
    if problems:
        raise ConfigError(problems)
    if register.height == 0:
        raise ConfigError("the resident register is empty")
    reg = register.select(REGISTER_IDENTITY).cast(  # type: ignore[arg-type]
        _types_of(register, _REGISTER_TYPES))
    if not reg["resident_id"].is_sorted():
        reg = reg.sort("resident_id")
    if reg["resident_id"].n_unique() != reg.height:
        raise ConfigError("resident_id values in the register are not unique")
    return reg
