"""The platform's record stream and the row selections the rounds use (platform side).

The stream is every department's candidate records in one table, each with the
resident the platform linked it to. It is made once per run; a round selects the
rows of the records that exist (a boolean mask the world side keeps up to date)
and, after round 0, the rows of the residents whose records changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from creditsim import catalogue as cat
from creditsim.policy import PolicyResult

#: The columns of the consolidated record stream the policy engine reads.
STREAM_COLUMNS = ("record_id", "department", "kind", "day_event", "day_recorded", "amount",
                  "case_number")


def record_stream(records: Mapping[str, pl.DataFrame], *extra: str) -> pl.DataFrame:
    """Every department's records in one table: STREAM_COLUMNS (case_number null
    outside the courts) plus ``extra`` columns."""
    return pl.concat([
        df.select(*STREAM_COLUMNS[:-1],
                  (pl.col("case_number") if "case_number" in df.columns
                   else pl.lit(None, dtype=pl.String)).alias("case_number"), *extra)
        for df in records.values()])


def linked_records(records: Mapping[str, pl.DataFrame], links: pl.DataFrame) -> pl.DataFrame:
    """The platform's consolidated stream: every record with the resident the
    platform assigned it to (null when unlinked)."""
    return record_stream(records).join(links.select("record_id", "resident_id"),
                                       on="record_id", how="left", maintain_order="left")


@dataclass(frozen=True)
class Stream:
    """Every candidate record as the platform holds it, fixed for the run."""

    #: STREAM_COLUMNS and the platform's resident_id (null: unlinked), one row per record
    linked: pl.DataFrame
    #: the platform's resident of each row (-1: unlinked)
    resident: np.ndarray
    #: the row of each record id (-1: no such record); record ids are dense
    pos: np.ndarray
    #: the first record id after every candidate record's
    next_record_id: int


def build_stream(records: Mapping[str, pl.DataFrame], links: pl.DataFrame) -> Stream:
    """The stream of ``records`` with the platform's links placed by record-id
    position (the same as joining ``links`` on record_id, without a 30M-row join)."""
    stream = record_stream(records)
    rids = stream["record_id"].to_numpy()
    pos = np.full(int(rids.max()) + 1 if len(rids) else 0, -1, dtype=np.int64)
    pos[rids] = np.arange(len(rids))
    lk_pos = cat.rows_of(rids, links["record_id"].to_numpy())
    assigned = np.full(len(rids), -1, dtype=np.int32)
    on = lk_pos >= 0
    assigned[lk_pos[on]] = links["resident_id"].fill_null(-1).to_numpy()[on]
    linked = stream.with_columns(
        pl.Series("resident_id", assigned, dtype=pl.Int32).set(pl.Series(assigned < 0), None))
    return Stream(linked=linked, resident=linked["resident_id"].fill_null(-1).to_numpy(),
                  pos=pos, next_record_id=int(stream["record_id"].max() or 0) + 1)


def link_by_case(links: pl.DataFrame, cases: pl.DataFrame, records: pl.DataFrame
                 ) -> pl.DataFrame:
    """The platform's links of new court ``records``: each is linked to whoever the
    record of its case is (``cases``: case_rid, new_rid; the two share the case
    number)."""
    lk = links.join(cases, left_on="record_id", right_on="case_rid", how="inner").with_columns(
        pl.col("new_rid").cast(pl.Int64).alias("record_id")).drop("new_rid")
    return lk.join(records.select("record_id"), on="record_id", how="semi").select(links.columns)


def member_of(ids: np.ndarray, n: int) -> Callable[[pl.Series], pl.Series]:
    """A test "resident id is one of ``ids``" (ids in 0..n-1) for Series of ids.

    Few ids (a round's changed residents): Polars' ``is_in`` against a small hash
    set. Many: a flag per resident id, looked up per row. (At city scale a lookup
    in a 22 MB table misses the cache on almost every row, so is_in on a small set
    is several times faster.)"""
    if ids.size <= n // 64:
        s = pl.Series(ids.astype(np.int64))
        return lambda col: col.is_in(s.cast(col.dtype).implode()).fill_null(False)
    flag = np.zeros(n + 1, dtype=bool)
    flag[ids] = True
    return lambda col: pl.Series(flag[(col.fill_null(n) if col.null_count() else col)
                                      .to_numpy()])


def mix(a: pl.DataFrame, b: pl.DataFrame, hit: Callable[[pl.Series], pl.Series]
        ) -> pl.DataFrame:
    """``a``'s rows of residents not ``hit``, then ``b``'s rows of residents hit."""
    return pl.concat([a.filter(~hit(a["resident_id"])), only(b, hit)])


def only(df: pl.DataFrame, hit: Callable[[pl.Series], pl.Series]) -> pl.DataFrame:
    """``df``'s rows of residents ``hit``."""
    return df.filter(hit(df["resident_id"]))


def merge_rescored(prev: PolicyResult, sub: PolicyResult, changed: np.ndarray
                   ) -> PolicyResult:
    """``prev`` with the rows of residents ``changed`` replaced by ``sub``'s."""
    hit = member_of(changed, int(prev.covered_from.size))
    return replace(prev, ledger=mix(prev.ledger, sub.ledger, hit),
                   scores=mix(prev.scores, sub.scores, hit),
                   list_spells=mix(prev.list_spells, sub.list_spells, hit),
                   override_spells=mix(prev.override_spells, sub.override_spells, hit))
