"""Write each department's database from the true events (stage: records).

For every event, the responsible department writes a record after a reporting
lag, with that department's faults (see :mod:`creditsim.records.departments`).
Random draws are keyed by event (:func:`creditsim.rng.keyed_uniforms`), so a
record's lag and faults depend on nothing but its event: not on chunking, and not
on which other events exist. Record ids are assigned per department in order of
(day_recorded, a keyed hash), so they carry no information about who the
resident is.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl

from creditsim import catalogue as cat
from creditsim.behaviour.generate import THREADS
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
    "district": cat.DistrictT,
    "amount": pl.Float64(),
}
TRUTH_SCHEMA: dict[str, pl.DataType] = {
    "truth_event_id": pl.Int64(),
    "truth_resident_id": pl.Int32(),
    "truth_faults": pl.UInt8(),
}

class _Register:
    """Resident attributes the records stage copies from (numpy / Polars columns)."""

    def __init__(self, residents: pl.DataFrame):
        r = residents
        self.n = r.height
        self.name = r["name"]
        self.id_bytes = strings.fixed_width_to_u8(r["id_number"], 18)
        self.birth_days = r["birth_date"].cast(pl.Int32).to_numpy()
        self.sex = r["sex"]
        self.district = r["district"]
        hh = r["household_id"].to_numpy()  # int32
        starts = np.flatnonzero(np.r_[True, hh[1:] != hh[:-1]])
        sizes = np.diff(np.r_[starts, self.n])
        self.hh_start = np.repeat(starts.astype(np.int32), sizes)
        self.hh_size = np.repeat(sizes.astype(np.int32), sizes)



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


def _wrong_birth(days: np.ndarray, u: np.ndarray) -> np.ndarray:
    d = days.astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dd = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    plus_day = days + np.where(u < 0.2, 1, -1)
    year_shift = np.where(u < 0.55, 1, -1)
    shifted = _ymd(y + year_shift, m, np.minimum(dd, 28))
    swapped = np.where((dd <= 12) & (dd != m), _ymd(y, dd, np.minimum(m, 28)), days + 1)
    return np.where(u < 0.4, plus_day, np.where(u < 0.7, shifted, swapped)).astype(np.int32)


def _ymd(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    months = (y - 1970) * 12 + (m - 1)
    return (months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + d - 1)


def department_records(
    dept: DepartmentModel, ev: pl.DataFrame, reg: _Register, seed: int, days: int,
) -> pl.DataFrame:
    """One department's records from its events ``ev``, with record ids from 0.

    Rows are ordered by (day_recorded, keyed hash) and numbered in that order, so
    neither the ids nor the row order say anything about who the resident is.
    """
    rid = ev["resident_id"].to_numpy()  # int32
    n = len(rid)
    r = dept.rates()
    event_id = ev["event_id"].to_numpy()
    # Six uniforms per event: duplicate?, lag, id fault, name typo, birth fault, spare —
    # keyed by the event (and copy), so a record's faults do not depend on which
    # other events exist (common random numbers under behavioural feedback).
    u = keyed_uniforms(seed, f"records.{dept.name}", event_id * 2, 6)
    dup = np.flatnonzero(u[:, 0] < r["duplicate"])
    # A duplicate is a second record of the event with its own draws.
    ud = keyed_uniforms(seed, f"records.{dept.name}", event_id[dup] * 2 + 1, 6)
    src = np.concatenate([np.arange(n, dtype=np.int64), dup])
    copy = np.concatenate([np.zeros(n, dtype=bool), np.ones(len(dup), dtype=bool)])
    u = np.concatenate([u, ud])
    del ud
    lag = np.floor(-np.log1p(-u[:, 1]) * dept.lag_mean_days.value).astype(np.int32)
    day_event = ev["day"].to_numpy().astype(np.int32)[src]
    day_rec = day_event + lag + copy * (1 + (lag % 7))
    del lag
    # Records not yet reported by the end of the run are not in the database.
    kept = np.flatnonzero(day_rec < days)
    event_id = event_id[src]
    # One stable sort of a packed key: day recorded (high bits), then a keyed hash of
    # (event, copy) — so neither ids nor row order say who the record is about.
    key = splitmix64((event_id[kept].astype(np.uint64) * np.uint64(2)
                      + copy[kept].astype(np.uint64)) ^ np.uint64(seed * 0x9E3779B1 & 0xFFFFFFFF))
    packed = (day_rec[kept].astype(np.uint64) << np.uint64(47)) | (key >> np.uint64(17))
    del key
    order = kept[np.argsort(packed, kind="stable")]
    del packed, kept
    src, copy = src[order], copy[order]
    u = u[order]
    day_event, day_rec = day_event[order], day_rec[order]
    event_id = event_id[order]
    ukey = event_id.astype(np.int64) * 2 + copy  # one key per record (event, copy)
    rid_r = rid[src].astype(np.int64)
    m = len(src)
    faults = (copy * DUPLICATE).astype(np.uint8)

    # Identity: which ID number is written down.
    c1 = r["id_missing"]
    c2 = c1 + r["id_other"]
    c3 = c2 + r["id_mistyped"]
    miss = u[:, 2] < c1
    other = (u[:, 2] >= c1) & (u[:, 2] < c2)
    mistyped = (u[:, 2] >= c2) & (u[:, 2] < c3)
    id_holder = rid_r.copy()
    ot = np.flatnonzero(other)
    if ot.size:
        ou = keyed_uniforms(seed, f"records.{dept.name}.other", ukey[ot], 2)
        id_holder[ot] = _other_person(reg, rid_r[ot], ou[:, 0], ou[:, 1])
    faults |= (miss * ID_MISSING + other * ID_OTHER + mistyped * ID_MISTYPED).astype(np.uint8)
    ids = strings.u8_to_series(reg.id_bytes[id_holder], "id_number")
    mt = np.flatnonzero(mistyped)
    if mt.size:
        mu = keyed_uniforms(seed, f"records.{dept.name}.idtypo", ukey[mt], 5)
        ids = ids.scatter(mt, strings.mistype_ids(ids.gather(mt), mu))
    if miss.any():
        ids = ids.scatter(np.flatnonzero(miss), None)

    # Name: the actor's name, sometimes mistyped.
    nm = reg.name.gather(pl.Series(rid_r))
    typo = u[:, 3] < r["name_typo"]
    tp = np.flatnonzero(typo)
    if tp.size:
        tu = keyed_uniforms(seed, f"records.{dept.name}.nametypo", ukey[tp], 3)
        nm = nm.scatter(tp, strings.typo_names(nm.gather(tp), tu))
    faults |= (typo * NAME_TYPO).astype(np.uint8)

    # Birth date and sex follow the ID holder (systems fill them from the ID); with
    # no ID written down, they are the actor's own.
    if dept.captures_birth_date:
        bd = reg.birth_days[id_holder]
        bw = u[:, 4] < r["birth_wrong"]
        bi = np.flatnonzero(bw)
        if bi.size:
            bu = keyed_uniforms(seed, f"records.{dept.name}.birth", ukey[bi], 1)
            bd[bi] = _wrong_birth(bd[bi], bu[:, 0])
        faults |= (bw * BIRTH_WRONG).astype(np.uint8)
        # A missing ID number does not blank the form's own birth-date field.
        birth = pl.Series(bd, dtype=pl.Int32).cast(pl.Date)
    else:
        birth = pl.Series([None] * m, dtype=pl.Date)
    sex = reg.sex.gather(pl.Series(id_holder)) if dept.captures_sex else \
        pl.Series([None] * m, dtype=cat.SexT)
    district = reg.district.gather(pl.Series(rid_r)) if dept.captures_district else \
        pl.Series([None] * m, dtype=cat.DistrictT)

    kind_codes = ev["kind"].to_physical().to_numpy()[src]
    amount = ev["amount"].to_numpy()[src]
    ref = ev["ref_event_id"].fill_null(-1).to_numpy()[src]
    return pl.DataFrame({
        "record_id": pl.Series(np.arange(m, dtype=np.int64)),
        "department": pl.Series([dept.name], dtype=cat.DepartmentT).gather(
            pl.Series(np.zeros(m, dtype=np.uint32))),
        "kind": cat.enum_from_codes(kind_codes, cat.KindT),
        "day_event": pl.Series(day_event, dtype=pl.Int16),
        "day_recorded": pl.Series(day_rec, dtype=pl.Int16),
        "name": nm.alias("name"),
        "id_number": ids.alias("id_number"),
        "birth_date": birth.alias("birth_date"),
        "sex": sex.alias("sex"),
        "district": district.alias("district"),
        "amount": pl.Series(amount, dtype=pl.Float64, nan_to_null=True),
        "truth_event_id": pl.Series(event_id, dtype=pl.Int64),
        "truth_resident_id": pl.Series(rid_r, dtype=pl.Int32),
        "truth_faults": pl.Series(faults, dtype=pl.UInt8),
        "_ref": pl.Series(ref, dtype=pl.Int64).replace(-1, None),
    })


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
    out: dict[str, pl.DataFrame] = {}
    offset = 0
    codes = dict(zip(cat.DISTRICTS, district_codes or range(110101, 110117), strict=False))
    # Departments are independent; each draws from its own streams. Record ids are
    # offsets in department order, assigned after all tables are built. The events
    # are split by department once.
    parts = {str(k[0]): v for k, v in events.partition_by(
        "department", as_dict=True, maintain_order=True).items()}
    dept_events = [parts.get(d.name, events.clear()) for d in departments]
    # Largest departments first, so two threads finish at about the same time.
    by_size = sorted(range(len(departments)), key=lambda i: -dept_events[i].height)
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = {i: pool.submit(department_records, departments[i], dept_events[i], reg,
                                  seed, days) for i in by_size}
        built = [futures[i].result() for i in range(len(departments))]
    for i, (dept, df) in enumerate(zip(departments, built, strict=True)):
        df = df.with_columns(pl.col("record_id") + offset)
        offset += df.height
        out[dept.name] = _extras(dept.name, df, residents, seed, codes, start_year)
        if progress:
            progress((i + 1) / len(departments))
    return out


_BANKS = ["ICBC", "CCB", "ABC", "BOC", "BoCom", "CMB", "PSBC", "CITIC"]
_UTIL = ["water", "gas", "power", "heating"]
_ORGS = ["community volunteer service station", "Beijing Volunteer Federation",
         "university volunteer association", "Red Cross volunteer team",
         "neighbourhood committee", "Beijing Youth League volunteers"]


def _pick(labels: list[str], h: np.ndarray) -> pl.Series:
    return pl.Series(labels).gather(pl.Series((h % np.uint64(len(labels))).astype(np.int64)))


def _extras(dept: str, df: pl.DataFrame, residents: pl.DataFrame, seed: int,
            codes: dict[str, int], start_year: int) -> pl.DataFrame:
    """Department-specific columns, then the contract's column order."""
    h = splitmix64(df["record_id"].to_numpy().astype(np.uint64) ^ np.uint64(seed + 17))
    hh = splitmix64(
        residents["household_id"].to_numpy().astype(np.uint64)[
            df["truth_resident_id"].to_numpy()] ^ np.uint64(seed + 31))
    dist = residents["district"].gather(pl.Series(df["truth_resident_id"].to_numpy()))
    extra: dict[str, pl.Series] = {}
    if dept == "court":
        case_ev = pl.when(pl.col("kind").is_in(["lawsuit_lost", "enforcement_opened"])) \
            .then(pl.col("truth_event_id")).otherwise(pl.col("_ref"))
        tmp = df.select(case_ev.alias("case"), (pl.col("kind") == "lawsuit_lost").alias("civil"),
                        dist.alias("court_district"))
        cases = tmp.unique("case", keep="first", maintain_order=True)
        ckey = splitmix64(cases["case"].to_numpy().astype(np.uint64) ^ np.uint64(seed + 5))
        cases = cases.with_columns(pl.Series("k", ckey)).sort(["court_district", "civil", "k"])
        cases = cases.with_columns(
            (pl.int_range(1, pl.len() + 1).over(["court_district", "civil"])).alias("seq")
        )
        code = pl.col("court_district").cast(pl.String).replace_strict(
            {k: str(v)[2:] for k, v in codes.items()}, return_dtype=pl.String)
        cases = cases.with_columns(pl.format(
            "({})京{}{}{}号", pl.lit(str(start_year)), code,
            pl.when(pl.col("civil")).then(pl.lit("民初")).otherwise(pl.lit("执")), pl.col("seq"),
        ).alias("case_number"), (pl.col("court_district").cast(pl.String) + " People's Court")
            .alias("court"))
        j = tmp.join(cases.select("case", "case_number", "court"), on="case", how="left",
                     maintain_order="left")
        extra = {"case_number": j["case_number"], "court": j["court"]}
    elif dept == "tax":
        extra = {"tax_office": (dist.cast(pl.String) + " Tax Bureau").alias("tax_office")}
    elif dept == "traffic":
        letters = np.array(list("ABCEFGHJKLMNPQ"))
        plate_num = (hh >> np.uint64(8)) % np.uint64(100000)
        extra = {"plate_number": pl.DataFrame({
            "l": letters[(hh % np.uint64(len(letters))).astype(np.int64)],
            "n": plate_num.astype(np.int64)}).select(
            pl.format("京{}{}", "l", pl.col("n").cast(pl.String).str.zfill(5))).to_series()}
    elif dept == "transit":
        kind = df["kind"].cast(pl.String)
        metro = (h % np.uint64(10)) < np.uint64(7)
        op = pl.DataFrame({"k": kind, "m": metro}).select(
            pl.when(pl.col("k") == "rail_misconduct").then(pl.lit("railway"))
            .when(pl.col("k") == "air_misconduct").then(pl.lit("civil_aviation"))
            .when(pl.col("m")).then(pl.lit("metro")).otherwise(pl.lit("bus"))).to_series()
        extra = {"operator": op}
    elif dept == "bank":
        extra = {"bank": _pick(_BANKS, hh ^ (h & np.uint64(1)))}
    elif dept == "market":
        extra = {"bureau": (dist.cast(pl.String) + " Market Regulation Bureau")}
    elif dept == "utility":
        kind = df["kind"].cast(pl.String)
        pick = _pick(_UTIL, h)
        extra = {
            "utility": pl.DataFrame({"k": kind, "p": pick}).select(
                pl.when(pl.col("k") == "heating_tamper").then(pl.lit("heating"))
                .otherwise(pl.col("p"))).to_series(),
            "account_no": pl.Series((hh % np.uint64(10**10)).astype(np.int64)).cast(pl.String)
            .str.zfill(10),
        }
    elif dept == "civil":
        extra = {"organisation": _pick(_ORGS, h >> np.uint64(3))}
    elif dept == "health":
        extra = {"blood_station": _pick(["Beijing Red Cross Blood Center", "district station"],
                                        h >> np.uint64(5))}
    df = df.with_columns([s.alias(k) for k, s in extra.items()])
    return df.select(*COMMON_SCHEMA.keys(), *extra.keys(), *TRUTH_SCHEMA.keys())
