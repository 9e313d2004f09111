"""Department-specific columns of the records tables (stage: records).

Each is a pure function of the record id, the resident's household or district,
and the seed (see DESIGN.md, table ``records/<department>``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from creditsim import arrowstr
from creditsim.rng import splitmix64

_BANKS = ["ICBC", "CCB", "ABC", "BOC", "BoCom", "CMB", "PSBC", "CITIC"]
_UTIL = ["water", "gas", "power", "heating"]
_ORGS = ["community volunteer service station", "Beijing Volunteer Federation",
         "university volunteer association", "Red Cross volunteer team",
         "neighbourhood committee", "Beijing Youth League volunteers"]
_PLATE_LETTERS = np.frombuffer(b"ABCEFGHJKLMNPQ", dtype=np.uint8)


#: Rows per block of hashing (bounds the temporaries of the 64-bit hash).
_BLOCK = 1 << 20


def _pick(labels: list[str], idx: np.ndarray) -> pl.Series:
    return pl.Series(labels).gather(pl.Series(idx.astype(np.uint32)))


def _digits(v: np.ndarray, width: int) -> np.ndarray:
    """(n, width) ASCII digits of non-negative ints, zero-padded on the left."""
    out = np.empty((len(v), width), dtype=np.uint8)
    v = v.astype(np.int64)
    for k in range(width - 1, -1, -1):
        out[:, k] = v % 10 + 48
        v //= 10
    return out


def _hashed(keys: np.ndarray, salt: int, f: Callable[[np.ndarray], np.ndarray],
            dtype: type | np.dtype, width: int = 0) -> np.ndarray:
    """``f(splitmix64(keys ^ salt))``, computed in blocks of rows (``width`` > 0: f
    returns ``width`` columns)."""
    n = len(keys)
    out = np.empty((n, width) if width else n, dtype=dtype)
    for s in range(0, n, _BLOCK):
        out[s:s + _BLOCK] = f(splitmix64(keys[s:s + _BLOCK].astype(np.uint64) ^ np.uint64(salt)))
    return out


def extra_columns(dept: str, df: pl.DataFrame, household_id: np.ndarray, district: pl.Series,
                  seed: int, codes: dict[str, int], start_year: int) -> dict[str, pl.Series]:
    """Department-specific columns of ``df`` (which has the common and truth columns
    and ``_ref``); ``household_id`` and ``district`` are the register's columns.

    They hash the record id (``h``) or the true resident's household (``hh``), so
    that one household's records share a plate, a bank, an account."""
    rec = df["record_id"].to_numpy()
    salt_h, salt_hh = seed + 17, seed + 31

    def hh_keys() -> np.ndarray:
        return household_id[df["truth_resident_id"].to_numpy()]

    def dist() -> pl.Series:
        return district.gather(pl.Series(df["truth_resident_id"].to_numpy()))

    if dept == "court":
        case_ev = pl.when(pl.col("kind").is_in(["lawsuit_lost", "enforcement_opened"])) \
            .then(pl.col("truth_event_id")).otherwise(pl.col("_ref"))
        tmp = df.select(case_ev.alias("case"), (pl.col("kind") == "lawsuit_lost").alias("civil"),
                        dist().alias("court_district"))
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
        return {"case_number": j["case_number"], "court": j["court"]}
    if dept == "tax":
        return {"tax_office": (dist().cast(pl.String) + " Tax Bureau").alias("tax_office")}
    if dept == "traffic":
        # 京 + a letter + five digits: nine bytes, held inline in the string views.
        def plate(hh: np.ndarray) -> np.ndarray:
            b = np.empty((len(hh), 9), dtype=np.uint8)
            b[:, :3] = np.frombuffer("京".encode(), dtype=np.uint8)
            b[:, 3] = _PLATE_LETTERS[(hh % np.uint64(len(_PLATE_LETTERS))).astype(np.int64)]
            b[:, 4:] = _digits((hh >> np.uint64(8)) % np.uint64(100000), 5)
            return b

        return {"plate_number": arrowstr.inline_from_u8(
            _hashed(hh_keys(), salt_hh, plate, np.uint8, 9), "plate_number")}
    if dept == "transit":
        kind = df["kind"].cast(pl.String)
        metro = _hashed(rec, salt_h, lambda h: (h % np.uint64(10)) < np.uint64(7), bool)
        op = pl.DataFrame({"k": kind, "m": metro}).select(
            pl.when(pl.col("k") == "rail_misconduct").then(pl.lit("railway"))
            .when(pl.col("k") == "air_misconduct").then(pl.lit("civil_aviation"))
            .when(pl.col("m")).then(pl.lit("metro")).otherwise(pl.lit("bus"))).to_series()
        return {"operator": op}
    if dept == "bank":
        hh = _hashed(hh_keys(), salt_hh, lambda x: x, np.uint64)
        low = _hashed(rec, salt_h, lambda h: h & np.uint64(1), np.uint64)
        return {"bank": _pick(_BANKS, (hh ^ low) % np.uint64(len(_BANKS)))}
    if dept == "market":
        return {"bureau": (dist().cast(pl.String) + " Market Regulation Bureau")}
    if dept == "utility":
        kind = df["kind"].cast(pl.String)
        pick = _pick(_UTIL, _hashed(rec, salt_h, lambda h: h % np.uint64(len(_UTIL)), np.uint8))
        return {
            "utility": pl.DataFrame({"k": kind, "p": pick}).select(
                pl.when(pl.col("k") == "heating_tamper").then(pl.lit("heating"))
                .otherwise(pl.col("p"))).to_series(),
            "account_no": arrowstr.inline_from_u8(_hashed(
                hh_keys(), salt_hh, lambda hh: _digits(hh % np.uint64(10**10), 10), np.uint8, 10),
                "account_no"),
        }
    if dept == "civil":
        return {"organisation": _pick(_ORGS, _hashed(
            rec, salt_h, lambda h: (h >> np.uint64(3)) % np.uint64(len(_ORGS)), np.uint8))}
    if dept == "health":
        return {"blood_station": _pick(["Beijing Red Cross Blood Center", "district station"],
                                       _hashed(rec, salt_h, lambda h: (h >> np.uint64(5))
                                               % np.uint64(2), np.uint8))}
    return {}

