"""Stage 1 of linkage: records whose ID number passes the check digit, by ID.

An ID that passes the GB 11643 check is trusted and joined to the register
(a relative's valid ID passes too and links to the relative — as in the real
systems). The join runs on the packed int64 key (17-digit body × 11 + check
index, :func:`creditsim.population.idnumber.pack`) with a binary search into the
register's sorted keys (queries sorted first, so the search walks memory in
order), several times faster than a string join; the strings are parsed straight
from their Arrow buffers (:mod:`creditsim.population.idnumber`).

Each record is linked on its own, so the result does not depend on how the
records are chunked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from creditsim.population import idnumber

#: Outcome of the ID check for each record.
ID_STATUS: tuple[str, ...] = ("known", "unknown_valid", "invalid", "missing")
IdStatusT = pl.Enum(list(ID_STATUS))


@dataclass(frozen=True)
class RegisterIndex:
    """The register's packed ID keys, sorted, with the resident each belongs to."""

    keys: np.ndarray  # int64, sorted
    resident_id: np.ndarray  # int32, aligned with keys

    @classmethod
    def build(cls, register: pl.DataFrame) -> RegisterIndex:
        keys = idnumber.packed(register["id_number"])
        rid = register["resident_id"].to_numpy()
        order = np.argsort(keys, kind="stable")
        return cls(keys=keys[order], resident_id=rid[order].astype(np.int32))

    def lookup(self, packed: np.ndarray) -> np.ndarray:
        """resident_id for each packed key, -1 where absent (or the key is < 0)."""
        if len(self.keys) == 0:
            return np.full(len(packed), -1, dtype=np.int32)
        order = np.argsort(packed)
        pos = np.empty(len(packed), dtype=np.int64)
        pos[order] = np.searchsorted(self.keys, packed[order])
        pos = np.minimum(pos, len(self.keys) - 1)
        hit = (self.keys[pos] == packed) & (packed >= 0)
        return np.where(hit, self.resident_id[pos], -1).astype(np.int32)


def link_by_id(records: pl.DataFrame, index: RegisterIndex, chunk_rows: int = 4_000_000
               ) -> pl.DataFrame:
    """(department, record_id, resident_id, id_status) for every record.

    ``resident_id`` is null unless the record's ID passes the check digit and
    belongs to a registered resident. ``chunk_rows`` bounds peak memory only;
    the result is the same for any value.
    """
    parts = []
    for start in range(0, max(records.height, 1), max(chunk_rows, 1)):
        chunk = records.slice(start, chunk_rows)
        if chunk.height == 0:
            break
        body, check = idnumber.parse(chunk["id_number"])
        rid = index.lookup(np.where(body >= 0, body * 11 + check, -1))
        known = rid >= 0
        status = np.where(known, 0, np.where(chunk["id_number"].is_null().to_numpy(), 3, 2))
        # Only the misses need the (costlier) check-digit test.
        miss = np.flatnonzero(status == 2)
        if miss.size:
            status[miss[idnumber.check_passes(body[miss], check[miss])]] = 1
        parts.append(pl.DataFrame({
            "department": chunk["department"],
            "record_id": chunk["record_id"],
            "resident_id": pl.Series(rid, dtype=pl.Int32).set(pl.Series(~known), None),
            "id_status": pl.Series(np.array(ID_STATUS)[status]).cast(IdStatusT),
        }))
    if not parts:
        return pl.DataFrame(schema={"department": records.schema["department"],
                                    "record_id": pl.Int64, "resident_id": pl.Int32,
                                    "id_status": IdStatusT})
    return pl.concat(parts)
