"""Names, types and constants of the linkage stage's data contract.

The ``links`` table (one row per departmental record) and the identity columns
the platform reads. See docs/linkage.md for the full contract.
"""

from __future__ import annotations

import polars as pl

from creditsim import catalogue as cat

#: How a record was attributed: by its ID number, by the probabilistic model, or not at all.
METHODS: tuple[str, ...] = ("id", "probabilistic", "unlinked")
MethodT = pl.Enum(list(METHODS))

#: Columns of a departmental record the platform may read to identify its subject.
RECORD_IDENTITY: tuple[str, ...] = (
    "record_id", "department", "name", "id_number", "birth_date", "sex", "district",
)
#: Columns of the resident register the platform may read.
REGISTER_IDENTITY: tuple[str, ...] = (
    "resident_id", "name", "id_number", "birth_date", "sex", "district",
)

#: The platform's output, in column order. The audit appends the true subject
#: (see :data:`creditsim.linkage.evaluate.LINKS_SCHEMA` for the full ``links`` table).
PLATFORM_LINKS_SCHEMA: dict[str, pl.DataType] = {
    "department": cat.DepartmentT,
    "record_id": pl.Int64(),
    "resident_id": pl.Int32(),
    "method": MethodT,
    "match_probability": pl.Float64(),
}

#: Default match threshold on the record-level posterior (docs/linkage.md §Threshold).
DEFAULT_THRESHOLD = 0.5
