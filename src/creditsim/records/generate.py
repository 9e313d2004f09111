"""Write each department's database from the true events (stage: records).

For every event, the responsible department writes a record after a reporting
lag, with that department's faults (see :mod:`creditsim.records.departments`).
Random draws are keyed by event (:func:`creditsim.rng.keyed_uniforms`), so a
record's lag and faults depend on nothing but its event: not on chunking, and not
on which other events exist. Record ids are assigned per department in order of
(day_recorded, a keyed hash), so they carry no information about who the
resident is.

Memory: a department is built in two passes. The first decides which records
exist and their order (a few bytes a record); once every department's count is
known, the second builds each table with its final record ids, department-
specific columns included, so no table is copied after it is built. The string
columns copy no bytes: ID numbers are Arrow string views into the register's
own ID buffer (mistyped ones into a small buffer of their own), names are views
holding the name inline.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from creditsim import arrowstr
from creditsim import catalogue as cat
from creditsim.draws import THREADS
from creditsim.records import strings
from creditsim.records.departments import (
    BIRTH_WRONG,
    DEFAULT_DEPARTMENTS,
    DUPLICATE,
    ID_MISSING,
    ID_MISTYPED,
    ID_OTHER,
    NAME_TYPO,
    DepartmentModel,
)
from creditsim.records.extras import extra_columns
from creditsim.rng import keyed_uniforms, splitmix64

#: Columns every department table has, in order (DESIGN.md, table ``records/<dept>``).
COMMON_SCHEMA: dict[str, pl.DataType] = {
    "record_id": pl.Int64(),
    "department": cat.DepartmentT,
    "kind": cat.KindT,
    "day_event": pl.Int16(),
    "day_recorded": pl.Int16(),
    "name": pl.String(),
    "id_number": pl.String(),
    "birth_date": pl.Date(),
    "sex": cat.SexT,
    "district": cat.DistrictT,  # a city's own districts (its CityProfile.district_enum)
    "amount": pl.Float64(),
}
TRUTH_SCHEMA: dict[str, pl.DataType] = {
    "truth_event_id": pl.Int64(),
    "truth_resident_id": pl.Int32(),
    "truth_faults": pl.UInt8(),
}
#: Rows per call of :func:`keyed_uniforms` (bounds its temporaries).
_UBLOCK = 1 << 20


class _Register:
    """Resident attributes the records stage copies from (numpy / Polars columns)."""

    def __init__(self, residents: pl.DataFrame):
        r = residents
        self.n = r.height
        self.name = r["name"]
        self.name_views = arrowstr.inline_views(self.name)  # None: not all inline
        self.id_bytes = arrowstr.fixed_width_view(r["id_number"], 18)  # read-only
        self.id_prefix = np.ascontiguousarray(self.id_bytes[:, :4]).view(np.int32).ravel()
        self.birth_days = r["birth_date"].cast(pl.Int32).to_numpy()
        self.sex = r["sex"]
        self.district = r["district"]
        hh = r["household_id"].to_numpy()  # int32
        self.household_id = hh
        starts = np.flatnonzero(np.r_[True, hh[1:] != hh[:-1]])
        sizes = np.diff(np.r_[starts, self.n])
        self.hh_start = np.repeat(starts.astype(np.int32), sizes)
        self.hh_size = np.repeat(sizes.astype(np.int32), sizes)


@dataclass
class _Plan:
    """A department's records before they are built, in the table's row order: the
    event's columns, whether a duplicate copy, and the days."""

    copy: np.ndarray
    day_event: np.ndarray
    day_rec: np.ndarray
    event_id: np.ndarray
    rid: np.ndarray
    kind: np.ndarray  # physical codes
    amount: pl.Series
    ref: pl.Series | None  # ref_event_id, where the events carry it


def _other_person(reg: _Register, rid: np.ndarray, u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    """Another resident whose valid ID is used: a household member, else anyone."""
    size = reg.hh_size[rid]
    start = reg.hh_start[rid]
    off = rid - start
    step = 1 + np.floor(u1 * np.maximum(size - 1, 1)).astype(np.int64)
    member = start + (off + step) % np.maximum(size, 1)
    anyone = np.floor(u2 * reg.n).astype(np.int64)
    anyone = np.where(anyone == rid, (anyone + 1) % reg.n, anyone)
    return np.where(size > 1, member, anyone)


def _wrong_birth(days: np.ndarray, u: np.ndarray, mix: tuple[float, float] = (0.4, 0.7)
                 ) -> np.ndarray:
    """Birth days keyed wrongly (``mix``: the department's ``birth_slip_mix``)."""
    day_off, year_off = mix
    d = days.astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dd = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    plus_day = days + np.where(u < day_off / 2, 1, -1)
    year_shift = np.where(u < (day_off + year_off) / 2, 1, -1)
    shifted = _ymd(y + year_shift, m, np.minimum(dd, 28))
    swapped = np.where((dd <= 12) & (dd != m), _ymd(y, dd, np.minimum(m, 28)), days + 1)
    return np.where(u < day_off, plus_day, np.where(u < year_off, shifted, swapped)
                    ).astype(np.int32)


def _ymd(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    months = (y - 1970) * 12 + (m - 1)
    return (months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + d - 1)


def _uniforms(seed: int, name: str, keys: np.ndarray, cols: tuple[int, ...]) -> list[np.ndarray]:
    """Columns ``cols`` of ``keyed_uniforms(seed, name, keys, max(cols) + 1)``, drawn
    in blocks of rows (the same numbers, with bounded temporaries)."""
    k = max(cols) + 1
    out = [np.empty(len(keys), dtype=np.float32) for _ in cols]
    for s in range(0, len(keys), _UBLOCK):
        u = keyed_uniforms(seed, name, keys[s:s + _UBLOCK], k)
        for o, c in zip(out, cols, strict=True):
            o[s:s + _UBLOCK] = u[:, c]
    return out


def _plan(dept: DepartmentModel, ev: pl.DataFrame, seed: int, days: int) -> _Plan:
    """Which records the department has, and their order.

    Per event, uniform 0 decides a duplicate and uniform 1 the lag; a duplicate
    is a second record of the event with its own draws (key ``2 event + 1``), so a
    record's faults do not depend on which other events exist (common random
    numbers under behavioural feedback). Rows are ordered by (day recorded, a
    keyed hash of (event, copy)), so neither ids nor row order say who the record
    is about.
    """
    event_id = ev["event_id"].to_numpy()
    n = len(event_id)
    name = f"records.{dept.name}"
    u0, u1 = _uniforms(seed, name, event_id * 2, (0, 1))
    dup = np.flatnonzero(u0 < dept.p_duplicate.value)
    del u0
    (ud1,) = _uniforms(seed, name, event_id[dup] * 2 + 1, (1,))
    src = np.concatenate([np.arange(n, dtype=np.int64), dup])
    copy = np.concatenate([np.zeros(n, dtype=bool), np.ones(len(dup), dtype=bool)])
    lag = np.floor(-np.log1p(-np.concatenate([u1, ud1])) * dept.lag_mean_days.value
                   ).astype(np.int32)
    del u1, ud1
    day_event = ev["day"].to_numpy().astype(np.int32)[src]
    day_rec = day_event + lag + copy * (1 + (lag % 7))
    del lag
    # Records not yet reported by the end of the run are not in the database.
    kept = np.flatnonzero(day_rec < days)
    key = splitmix64((event_id[src[kept]].astype(np.uint64) * np.uint64(2)
                      + copy[kept].astype(np.uint64)) ^ np.uint64(seed * 0x9E3779B1 & 0xFFFFFFFF))
    order = kept[_order_by_day_hash(day_rec[kept], key >> np.uint64(17), days)]
    del key, kept
    # The event columns the table needs, gathered now: the department's events are
    # not needed again.
    src = src[order]
    return _Plan(copy=copy[order], day_event=day_event[order].astype(np.int16),
                 day_rec=day_rec[order].astype(np.int16), event_id=event_id[src],
                 rid=ev["resident_id"].to_numpy()[src],
                 kind=ev["kind"].to_physical().to_numpy()[src],
                 amount=_gather_float(ev["amount"], src),
                 ref=ev["ref_event_id"].gather(pl.Series(src, dtype=pl.UInt32))
                 if "ref_event_id" in ev.columns else None)


def _order_by_day_hash(day: np.ndarray, h47: np.ndarray, days: int) -> np.ndarray:
    """``np.argsort((day << 47) | h47, kind="stable")`` for days in [0, days) and
    47-bit hashes, by a value sort (several times faster than a stable argsort).

    One uint64 holds the day, the top bits of the hash and the row index; rows
    whose day and top bits tie (a few per million) are then put in the order of
    their full key and index."""
    m = len(day)
    ibits = max(1, int(m - 1).bit_length())
    dbits = max(1, int(days - 1).bit_length())
    hbits = min(47, 64 - dbits - ibits)
    if hbits < 16 or m < 2:
        return np.argsort((day.astype(np.uint64) << np.uint64(47)) | h47, kind="stable")
    idx_mask = np.uint64((1 << ibits) - 1)
    k = day.astype(np.uint64) << np.uint64(hbits + ibits)
    k |= (h47 >> np.uint64(47 - hbits)) << np.uint64(ibits)
    k |= np.arange(m, dtype=np.uint64)
    k.sort()
    pos = (k & idx_mask).astype(np.int64)
    if hbits < 47:
        grp = k >> np.uint64(ibits)
        del k
        tie = np.flatnonzero(grp[1:] == grp[:-1])
        if tie.size:
            p = np.unique(np.concatenate([tie, tie + 1]))
            rows = pos[p]
            full = (day[rows].astype(np.uint64) << np.uint64(47)) | h47[rows]
            pos[p] = rows[np.lexsort((rows, full, grp[p]))]
    return pos


def department_records(
    dept: DepartmentModel, ev: pl.DataFrame | None, reg: _Register, seed: int, days: int,
    plan: _Plan | None = None, first_id: int = 0,
) -> pl.DataFrame:
    """One department's records from its events ``ev`` or its ``plan`` (common and
    truth columns, and ``_ref``), with record ids from ``first_id``."""
    if plan is None:
        if ev is None:
            raise ValueError("department_records needs the events or their plan")
        plan = _plan(dept, ev, seed, days)
    p = plan
    copy = p.copy
    m = len(copy)
    r = dept.rates()
    event_id = p.event_id
    rid_r = p.rid  # int32
    ukey = event_id * 2 + copy  # one key per record (event, copy)
    u_id, u_name, u_birth = _uniforms(seed, f"records.{dept.name}", ukey, (2, 3, 4))
    faults = (copy * DUPLICATE).astype(np.uint8)

    # Identity: which ID number is written down.
    c1 = r["id_missing"]
    c2 = c1 + r["id_other"]
    c3 = c2 + r["id_mistyped"]
    miss = u_id < c1
    other = (u_id >= c1) & (u_id < c2)
    mistyped = (u_id >= c2) & (u_id < c3)
    del u_id
    id_holder = rid_r.copy()
    ot = np.flatnonzero(other)
    if ot.size:
        ou = keyed_uniforms(seed, f"records.{dept.name}.other", ukey[ot], 2)
        id_holder[ot] = _other_person(reg, rid_r[ot].astype(np.int64), ou[:, 0], ou[:, 1])
    faults |= (miss * ID_MISSING + other * ID_OTHER + mistyped * ID_MISTYPED).astype(np.uint8)
    del other
    mt = np.flatnonzero(mistyped)
    del mistyped
    typed = None
    if mt.size:
        mu = keyed_uniforms(seed, f"records.{dept.name}.idtypo", ukey[mt], 5)
        typed = reg.id_bytes[id_holder[mt]]  # a copy: the actor's own ID
        strings.mistype_u8(typed, mu, dept.id_slip_mix.value)
    ids = arrowstr.views_into(reg.id_bytes, reg.id_prefix, id_holder, "id_number",
                             valid=~miss if miss.any() else None, replace=mt,
                             replace_bytes=typed)
    del miss, mt, typed

    # Name: the actor's name, sometimes mistyped.
    typo = u_name < r["name_typo"]
    del u_name
    tp = np.flatnonzero(typo)
    faults |= (typo * NAME_TYPO).astype(np.uint8)
    del typo
    nm = _names(reg, rid_r, tp, seed, dept, ukey)

    # Birth date and sex follow the ID holder (systems fill them from the ID); with
    # no ID written down, they are the actor's own.
    if dept.captures_birth_date:
        bd = reg.birth_days[id_holder]
        bw = u_birth < r["birth_wrong"]
        bi = np.flatnonzero(bw)
        if bi.size:
            bu = keyed_uniforms(seed, f"records.{dept.name}.birth", ukey[bi], 1)
            bd[bi] = _wrong_birth(bd[bi], bu[:, 0], dept.birth_slip_mix.value)
        faults |= (bw * BIRTH_WRONG).astype(np.uint8)
        del bw, bi
        # A missing ID number does not blank the form's own birth-date field.
        birth = pl.Series(bd, dtype=pl.Int32).cast(pl.Date)
    else:
        birth = pl.Series([None], dtype=pl.Date).new_from_index(0, m)
    del u_birth, ukey
    sex = reg.sex.gather(pl.Series(id_holder)) if dept.captures_sex else \
        pl.Series([None], dtype=cat.SexT).new_from_index(0, m)
    del id_holder
    district = reg.district.gather(pl.Series(rid_r)) if dept.captures_district else \
        pl.Series([None], dtype=reg.district.dtype).new_from_index(0, m)
    cols = {
        "record_id": pl.Series(np.arange(first_id, first_id + m, dtype=np.int64)),
        "department": pl.Series([dept.name], dtype=cat.DepartmentT).new_from_index(0, m),
        "kind": cat.enum_from_codes(p.kind, cat.KindT),
        "day_event": pl.Series(p.day_event, dtype=pl.Int16),
        "day_recorded": pl.Series(p.day_rec, dtype=pl.Int16),
        "name": nm,
        "id_number": ids,
        "birth_date": birth,
        "sex": sex,
        "district": district,
        "amount": p.amount,
        "truth_event_id": pl.Series(event_id, dtype=pl.Int64),
        "truth_resident_id": pl.Series(rid_r, dtype=pl.Int32),
        "truth_faults": pl.Series(faults, dtype=pl.UInt8),
    }
    if p.ref is not None:
        cols["_ref"] = p.ref
    return pl.DataFrame({k: s.alias(k) for k, s in cols.items()})


def _gather_float(s: pl.Series, idx: np.ndarray) -> pl.Series:
    """``s.gather(idx)`` of a Float64 Series, through numpy (a Polars gather of a
    nullable column costs several times more)."""
    if s.null_count() == 0:
        return pl.Series(s.to_numpy()[idx], dtype=pl.Float64)
    vals = np.ascontiguousarray(s.fill_null(0.0).to_numpy()[idx], dtype=np.float64)
    valid = np.packbits(s.is_not_null().to_numpy()[idx], bitorder="little")
    return pl.Series(pa.Array.from_buffers(pa.float64(), len(vals),
                                           [pa.py_buffer(valid), pa.py_buffer(vals)],
                                           null_count=-1))


def _names(reg: _Register, rid: np.ndarray, tp: np.ndarray, seed: int,
           dept: DepartmentModel, ukey: np.ndarray) -> pl.Series:
    """The actors' names, with a typo in rows ``tp``."""
    typos = None
    if tp.size:
        tu = keyed_uniforms(seed, f"records.{dept.name}.nametypo", ukey[tp], 3)
        typos = strings.typo_names(reg.name.gather(pl.Series(rid[tp])), tu,
                                   dept.name_drop_share.value)
    if reg.name_views is not None:
        # One 16-byte view per row: gathered as complex128 (a 1-D take is several
        # times faster than a row gather of an (n, 4) int32 array).
        views = reg.name_views.view(np.complex128).ravel()[rid].view(np.int32).reshape(-1, 4)
        tv = arrowstr.inline_views(typos) if typos is not None else None
        if typos is None or tv is not None:
            if tv is not None:
                views[tp] = tv
            return arrowstr.from_inline_views(views, "name")
    nm = reg.name.gather(pl.Series(rid))
    return nm if typos is None else nm.scatter(tp, typos)


def build_records(
    events: pl.DataFrame,
    residents: pl.DataFrame,
    *,
    seed: int,
    days: int,
    start_year: int,
    departments: tuple[DepartmentModel, ...] = DEFAULT_DEPARTMENTS,
    district_codes: tuple[int, ...] | None = None,
    progress: Callable[[float], None] | None = None,
) -> dict[str, pl.DataFrame]:
    """All departments' tables, keyed by department name (DESIGN.md contract)."""
    reg = _Register(residents)
    codes = dict(zip(reg.district.dtype.categories.to_list(),  # type: ignore[attr-defined]
                     district_codes or range(110101, 110117), strict=False))
    # Departments are independent; each draws from its own streams. A department's
    # events are selected when it is worked on (no copy of all events at once).
    sizes = events.group_by("department").len()
    size_of = dict(zip(sizes["department"].cast(pl.String).to_list(),
                       sizes["len"].to_list(), strict=True))
    # Largest departments first, so two threads finish at about the same time.
    by_size = sorted(range(len(departments)), key=lambda i: -size_of.get(departments[i].name, 0))
    cols = ["event_id", "resident_id", "day", "kind", "amount", "ref_event_id"]

    def events_of(d: DepartmentModel) -> pl.DataFrame:
        sel = [c for c in cols if c != "ref_event_id" or d.name == "court"]
        return events.lazy().filter(pl.col("department") == d.name).select(sel).collect()

    # 1. Which records exist and in what order: then every record id is known.
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        planned = {i: pool.submit(lambda d: _plan(d, events_of(d), seed, days), departments[i])
                   for i in by_size}
        plans: list[_Plan | None] = [planned[i].result() for i in range(len(departments))]
    first = np.cumsum([0] + [len(p.copy) for p in plans if p is not None])

    # 2. The tables, department-specific columns included.
    def build(i: int) -> pl.DataFrame:
        d = departments[i]
        plan, plans[i] = plans[i], None
        df = department_records(d, None, reg, seed, days, plan, int(first[i]))
        del plan
        extra = extra_columns(d.name, df, reg.household_id, reg.district, seed, codes,
                              start_year)
        df = df.with_columns([s.alias(k) for k, s in extra.items()])
        return df.select(*COMMON_SCHEMA.keys(), *extra.keys(), *TRUTH_SCHEMA.keys())

    out: dict[str, pl.DataFrame] = {}
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = {i: pool.submit(build, i) for i in by_size}
        for i, d in enumerate(departments):
            out[d.name] = futures[i].result()
            del futures[i]
            if progress:
                progress((i + 1) / len(departments))
    return out
