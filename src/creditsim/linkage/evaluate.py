"""The audit side of linkage: attach the true subject and measure the links.

This is the only module of :mod:`creditsim.linkage` that reads the simulation's
ground truth (the ``truth_resident_id`` column of the records). The platform code
(:mod:`~creditsim.linkage.deterministic`, :mod:`~creditsim.linkage.probabilistic`,
…) never sees it.

Metrics are pairwise, on (record, resident) pairs. Every record has exactly one
true subject, so for a set of records:

* a *link* is a (record, assigned resident) pair; it is *correct* when the
  assigned resident is the true subject;
* precision = correct / links; recall = correct / records; F1 their harmonic mean.

For a group of residents (a district, a hukou status, a name-commonness band)
recall counts the records whose *true* subject is in the group, and precision the
links *assigned* to residents in the group — so a low precision means residents
of that group are often handed other people's records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from creditsim.catalogue import rows_of
from creditsim.linkage.features import dense_index
from creditsim.linkage.schema import PLATFORM_LINKS_SCHEMA

TRUTH_COLUMN = "truth_resident_id"

#: The ``links`` table contract (``links.parquet``), in column order.
LINKS_SCHEMA: dict[str, pl.DataType] = {**PLATFORM_LINKS_SCHEMA, TRUTH_COLUMN: pl.Int32()}

#: Name-commonness bands: how many registered residents share the full name.
COMMONNESS_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("unique", 1, 1),
    ("2-9", 2, 9),
    ("10-99", 10, 99),
    ("100-999", 100, 999),
    ("1000+", 1000, None),
)

#: Thresholds of the precision/recall sweep reported for the probabilistic stage.
SWEEP_THRESHOLDS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9,
                                       0.95, 0.99)


def true_subjects(records: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """(department, record_id, true subject) of every record; empty if absent."""
    parts = [df.select("department", "record_id", TRUTH_COLUMN)
             for df in records.values() if TRUTH_COLUMN in df.columns]
    if not parts:
        return pl.DataFrame(schema={"department": PLATFORM_LINKS_SCHEMA["department"],
                                    "record_id": pl.Int64, TRUTH_COLUMN: pl.Int32})
    return pl.concat([p.cast({"department": PLATFORM_LINKS_SCHEMA["department"],
                              "record_id": pl.Int64, TRUTH_COLUMN: pl.Int32}) for p in parts])


def attach_truth(platform_links: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """The ``links`` table: the platform's links plus each record's true subject."""
    subj = _subjects(truth, platform_links["record_id"].to_numpy())
    out = platform_links.with_columns(
        pl.Series(TRUTH_COLUMN, subj, dtype=pl.Int32).set(pl.Series(subj < 0), None))
    return out.select(list(LINKS_SCHEMA)).cast(LINKS_SCHEMA)  # type: ignore[arg-type]


def _subjects(truth: pl.DataFrame, record_ids: np.ndarray) -> np.ndarray:
    """The true subject of each record id per ``truth`` (record_id, truth column),
    -1 where absent or null. By position (record ids index an array), not a join
    of tens of millions of rows."""
    rows = rows_of(truth["record_id"].to_numpy(), record_ids)
    tr = truth[TRUTH_COLUMN].fill_null(-1).to_numpy()
    return np.where(rows >= 0, tr[np.maximum(rows, 0)], -1) if len(tr) else rows


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def _scores(records: int, links: int, correct: int) -> dict[str, Any]:
    p, r = _ratio(correct, links), _ratio(correct, records)
    f1 = 2 * p * r / (p + r) if p is not None and r is not None and (p + r) > 0 else None
    return {"records": records, "links": links, "correct": correct,
            "wrong": links - correct, "unlinked": records - links,
            "precision": p, "recall": r, "f1": f1}


def _flags(links: pl.DataFrame) -> pl.DataFrame:
    return links.with_columns(
        pl.col("resident_id").is_not_null().alias("_linked"),
        (pl.col("resident_id") == pl.col(TRUTH_COLUMN)).fill_null(False).alias("_correct"),
    )


def name_commonness(register: pl.DataFrame) -> pl.DataFrame:
    """(resident_id, name_count, band) — how many residents share each one's name."""
    df = register.select(
        "resident_id",
        pl.len().over(pl.col("name").hash(seed=7)).cast(pl.Int64).alias("name_count"))
    band = pl.lit(None, dtype=pl.String)
    for label, lo, hi in reversed(COMMONNESS_BANDS):
        cond = pl.col("name_count") >= lo
        if hi is not None:
            cond = cond & (pl.col("name_count") <= hi)
        band = pl.when(cond).then(pl.lit(label)).otherwise(band)
    order = [b[0] for b in COMMONNESS_BANDS]
    return df.with_columns(band.cast(pl.Enum(order)).alias("name_commonness"))


def _group_metrics(fl: pl.DataFrame, attrs: pl.DataFrame, col: str) -> dict[str, dict[str, Any]]:
    """Per group of ``col``: recall by true subject, precision by assigned resident.

    ``fl`` already carries ``_tg`` (true subject's group) and ``_ag`` (assigned
    resident's group) for ``col``.
    """
    true_side = fl.group_by("_tg").agg(pl.len().alias("records"),
                                       pl.col("_correct").sum().alias("correct"))
    asg = fl.filter(pl.col("_linked")).group_by("_ag").agg(
        pl.len().alias("links"),
        (~pl.col("_correct")).sum().alias("wrong"),
        pl.col("resident_id").filter(~pl.col("_correct")).n_unique().alias("victims"))
    sizes = attrs.group_by(col).agg(pl.len().alias("residents")).rename({col: "_g"})
    t = (sizes.join(true_side.rename({"_tg": "_g"}), on="_g", how="full", coalesce=True)
         .join(asg.rename({"_ag": "_g"}), on="_g", how="full", coalesce=True).sort("_g"))
    out: dict[str, dict[str, Any]] = {}
    for row in t.iter_rows(named=True):
        if row["_g"] is None:
            continue
        out[str(row["_g"])] = _group_entry(
            *(int(row[k] or 0) for k in ("residents", "records", "correct", "links", "wrong",
                                          "victims")))
    return out


def _group_entry(res: int, rec: int, cor: int, ln: int, wr: int, victims: int
                 ) -> dict[str, Any]:
    """One group's figures: ``res`` residents, ``rec`` records truly theirs of which
    ``cor`` linked right, ``ln`` links assigned to them of which ``wr`` wrong, and
    ``victims`` residents given someone else's record."""
    p, r = _ratio(ln - wr, ln), _ratio(cor, rec)
    f1 = 2 * p * r / (p + r) if p is not None and r is not None and (p + r) > 0 else None
    return {
        "residents": res, "records": rec, "correct": cor, "recall": r,
        "links_assigned": ln, "wrong_links_assigned": wr, "precision": p, "f1": f1,
        "residents_given_wrong_records": victims,
        "residents_given_wrong_records_per_100k": (1e5 * victims / res) if res else None,
    }


#: Links per block of :func:`evaluate_links`' counting (bounds its temporaries:
#: a few tens of MB a block, where whole-table arrays took 2 GB at city scale).
EVAL_BLOCK = 1 << 22


def evaluate_links(links: pl.DataFrame, register: pl.DataFrame | None = None,
                   name_count: np.ndarray | None = None) -> dict[str, Any]:
    """Pairwise precision, recall and F1 of a ``links`` table.

    Overall, per stage (``id``: records linked by ID; ``probabilistic``: the rest,
    whether linked or not), per method, per department, and — when the register
    (resident_id, name, district, hukou) is given — per group of residents.
    ``name_count`` (residents sharing each resident's name, by resident_id) saves
    counting names again when the caller has them.

    Links are counted in blocks of :data:`EVAL_BLOCK` rows (the counts are sums
    over blocks, so the block size changes nothing).
    """
    links = links.with_columns(_as_enum(links["method"]), _as_enum(links["department"]))
    m_labels = links["method"].dtype.categories.to_list()  # type: ignore[attr-defined]
    d_labels = links["department"].dtype.categories.to_list()  # type: ignore[attr-defined]
    id_code = m_labels.index("id") if "id" in m_labels else -1
    dense = register is not None and _dense(register)
    groups = _GroupCounter(register, name_count) if dense else None
    m_n = np.zeros(len(m_labels), dtype=np.int64)
    st = np.zeros((3, 2), dtype=np.int64)  # (records, linked, correct) × (id, probabilistic)
    dp = np.zeros((3, len(d_labels)), dtype=np.int64)
    for s in range(0, links.height, EVAL_BLOCK):
        blk = links.slice(s, EVAL_BLOCK)
        rid = blk["resident_id"].fill_null(-1).cast(pl.Int32).to_numpy()
        truth = blk[TRUTH_COLUMN].fill_null(-1).cast(pl.Int32).to_numpy()
        linked = rid >= 0
        correct = linked & (rid == truth)
        m_code = blk["method"].to_physical().cast(pl.Int64).to_numpy()
        d_code = blk["department"].to_physical().cast(pl.Int64).to_numpy()
        m_n += np.bincount(m_code, minlength=len(m_labels))
        stage = (m_code != id_code).astype(np.int64)
        for i, sel in enumerate((None, linked, correct)):
            st[i] += np.bincount(stage if sel is None else stage[sel], minlength=2)
            dp[i] += np.bincount(d_code if sel is None else d_code[sel],
                                 minlength=len(d_labels))
        if groups is not None:
            groups.add(rid, truth, linked, correct)
    out: dict[str, Any] = {
        "definition": "pairwise over (record, resident) links: precision = correct/links, "
                      "recall = correct/records",
        "overall": _scores(links.height, int(st[1].sum()), int(st[2].sum())),
        "by_stage": _tally_counts(st, ["id", "probabilistic"]),
        "by_method": {m: {"records": int(m_n[i])} for i, m in enumerate(m_labels) if m_n[i]},
        "by_department": _tally_counts(dp, d_labels),
    }
    if groups is not None:
        out["by_group"] = groups.report()
    elif register is not None:
        fl = _flags(links)
        found: dict[str, Any] = {}
        attrs = register.select("resident_id").join(
            name_commonness(register), on="resident_id", how="left")
        for col in ("district", "hukou"):
            if col in register.columns:
                attrs = attrs.with_columns(register[col].cast(pl.String).alias(col))
        slim = fl.select("resident_id", TRUTH_COLUMN, "_linked", "_correct")
        for col in ("district", "hukou", "name_commonness"):
            if col not in attrs.columns:
                continue
            a = attrs.select("resident_id", col)
            both = (slim.join(a.rename({"resident_id": TRUTH_COLUMN, col: "_tg"}),
                              on=TRUTH_COLUMN, how="left")
                    .join(a.rename({col: "_ag"}), on="resident_id", how="left"))
            found[col] = _group_metrics(both, attrs, col)
        out["by_group"] = found
    if register is not None:
        out["name_commonness_bands"] = {
            label: {"min_residents_sharing_name": lo, "max_residents_sharing_name": hi}
            for label, lo, hi in COMMONNESS_BANDS}
    return out


def _as_enum(s: pl.Series) -> pl.Series:
    """``s`` as an Enum (its own if it has one; else its sorted distinct values)."""
    if isinstance(s.dtype, pl.Enum):
        return s
    return s.cast(pl.Enum(sorted(s.cast(pl.String).unique().drop_nulls().to_list())))


def _tally_counts(c: np.ndarray, labels: Sequence[str]) -> dict[str, dict[str, Any]]:
    """:func:`_scores` per label from (records, links, correct) rows of counts
    (labels in output order; absent groups left out)."""
    return {labels[i]: _scores(int(c[0, i]), int(c[1, i]), int(c[2, i]))
            for i in range(len(labels)) if c[0, i]}


def _dense(register: pl.DataFrame) -> bool:
    rid = register["resident_id"].to_numpy()
    return bool(len(rid)) and int(rid[0]) == 0 and bool(np.all(np.diff(rid) == 1))


def _codes(register: pl.DataFrame, col: str, name_count: np.ndarray | None = None
           ) -> tuple[np.ndarray, list[str]]:
    """Small integer group code per resident (-1: missing) and the group labels
    (sorted)."""
    if col == "name_commonness":
        if name_count is None:
            idx, _ = dense_index(register["name"].hash(seed=7).to_numpy())
            name_count = np.bincount(idx)[idx]
        count = np.asarray(name_count)
        code = np.zeros(len(count), dtype=np.int8)
        for i, (_label, lo, hi) in enumerate(COMMONNESS_BANDS):
            code[(count >= lo) & ((count <= hi) if hi is not None else True)] = i
        return code, [b[0] for b in COMMONNESS_BANDS]
    s = register[col]
    if isinstance(s.dtype, pl.Enum):
        cats = s.dtype.categories.to_list()
        phys = s.to_physical().fill_null(len(cats)).cast(pl.Int32).to_numpy()
        present = np.flatnonzero(np.bincount(phys, minlength=len(cats) + 1)[:len(cats)])
        labels = sorted(str(cats[i]) for i in present)
        remap = np.array([labels.index(c) if c in labels else -1 for c in cats] + [-1],
                         dtype=np.int16)
        return remap[phys], labels
    labels = sorted(str(x) for x in s.cast(pl.String).unique().drop_nulls().to_list())
    look = {lab: i for i, lab in enumerate(labels)}
    return s.cast(pl.String).replace_strict(look, default=-1, return_dtype=pl.Int32
                                            ).fill_null(-1).to_numpy(), labels


class _GroupCounter:
    """Group metrics by array indexing (register ids are 0..N-1): the same numbers as
    the join route, without joining tens of millions of links to the register.

    Every resident gets one combined code over all grouping columns (each column's
    code, with one extra slot for "missing"), so each block of links is gathered
    into groups twice in all (true subject, assigned resident), not twice per
    column; each column's counts are then sums over the other columns' axes."""

    def __init__(self, register: pl.DataFrame, name_count: np.ndarray | None) -> None:
        self.dims = []
        for col in ("district", "hukou", "name_commonness"):
            if col != "name_commonness" and col not in register.columns:
                continue
            code, labels = _codes(register, col, name_count)
            self.dims.append((col, np.where(code >= 0, code, len(labels)), labels))
        self.shape = tuple(len(lab) + 1 for _, _, lab in self.dims)
        self.size = int(np.prod(self.shape))
        # A small dtype keeps the per-resident code array small, so the gathers
        # stay in cache.
        dtype = np.int16 if self.size < 2**15 else np.int64
        self.comb = np.zeros(register.height, dtype=dtype)
        for (_col, c, _lab), k in zip(self.dims, self.shape, strict=True):
            self.comb *= k
            self.comb += c.astype(dtype)
        self.cubes = {k: np.zeros(self.size, dtype=np.int64)
                      for k in ("records", "correct", "links", "wrong")}
        self.victim = np.zeros(register.height, dtype=bool)  # given a wrong record

    def add(self, asg: np.ndarray, truth: np.ndarray, linked: np.ndarray,
            correct: np.ndarray) -> None:
        if not self.dims:
            return
        has_t = truth >= 0
        ct = self.comb[truth[has_t]]
        ca = self.comb[asg[linked]]
        for k, idx in (("records", ct), ("correct", ct[correct[has_t]]), ("links", ca),
                       ("wrong", ca[~correct[linked]])):
            self.cubes[k] += np.bincount(idx, minlength=self.size)
        self.victim[asg[linked & ~correct]] = True

    def report(self) -> dict[str, Any]:
        if not self.dims:
            return {}
        cubes = {k: v.reshape(self.shape) for k, v in self.cubes.items()}
        cubes["victims"] = np.bincount(self.comb[self.victim],
                                       minlength=self.size).reshape(self.shape)
        cubes["sizes"] = np.bincount(self.comb, minlength=self.size).reshape(self.shape)
        groups: dict[str, Any] = {}
        for axis, (col, _code, labels) in enumerate(self.dims):
            other = tuple(i for i in range(len(self.dims)) if i != axis)
            m = {k: v.sum(axis=other) if other else v for k, v in cubes.items()}
            out: dict[str, dict[str, Any]] = {}
            for i, label in enumerate(labels):
                res, rec, ln = int(m["sizes"][i]), int(m["records"][i]), int(m["links"][i])
                if not (res or rec or ln):
                    continue
                out[str(label)] = _group_entry(res, rec, int(m["correct"][i]), ln,
                                               int(m["wrong"][i]), int(m["victims"][i]))
            groups[col] = out
        return groups


def threshold_sweep(best: pl.DataFrame, truth: pl.DataFrame,
                    thresholds: Sequence[float] = SWEEP_THRESHOLDS) -> list[dict[str, Any]]:
    """Precision/recall of the probabilistic stage had the threshold been each value.

    ``best`` has one row per record of the probabilistic stage: record_id,
    resident_id (best candidate, null if none) and posterior; ``truth`` has each
    record's record_id and true subject (the records' true subjects, or the links).
    """
    subj = _subjects(truth, best["record_id"].to_numpy())
    cand = best["resident_id"].fill_null(-1).to_numpy()
    ok = (cand >= 0) & (cand == subj)
    post = best["posterior"].fill_null(np.nan).to_numpy()
    rows = []
    for t in thresholds:
        take = post >= t  # NaN (no candidate) is never taken
        sc = _scores(best.height, int(np.count_nonzero(take)),
                     int(np.count_nonzero(take & ok)))
        rows.append({"threshold": t, **{k: sc[k] for k in ("links", "correct", "precision",
                                                             "recall", "f1")}})
    return rows
