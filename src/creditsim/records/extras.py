"""Department-specific columns of the records tables (stage: records).

Each is a pure function of the record id, the resident's household or district,
and the seed (see DESIGN.md, table ``records/<department>``).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from creditsim.records import strings
from creditsim.rng import splitmix64

_BANKS = ["ICBC", "CCB", "ABC", "BOC", "BoCom", "CMB", "PSBC", "CITIC"]
_UTIL = ["water", "gas", "power", "heating"]
_ORGS = ["community volunteer service station", "Beijing Volunteer Federation",
         "university volunteer association", "Red Cross volunteer team",
         "neighbourhood committee", "Beijing Youth League volunteers"]
_PLATE_LETTERS = np.frombuffer(b"ABCEFGHJKLMNPQ", dtype=np.uint8)


def _pick(labels: list[str], h: np.ndarray) -> pl.Series:
    return pl.Series(labels).gather(pl.Series((h % np.uint64(len(labels))).astype(np.int64)))


def _digits(v: np.ndarray, width: int) -> np.ndarray:
    """(n, width) ASCII digits of non-negative ints, zero-padded on the left."""
    out = np.empty((len(v), width), dtype=np.uint8)
    v = v.astype(np.int64)
    for k in range(width - 1, -1, -1):
        out[:, k] = v % 10 + 48
        v //= 10
    return out


def extra_columns(dept: str, df: pl.DataFrame, hh_of: np.ndarray, district: pl.Series,
                  seed: int, codes: dict[str, int], start_year: int) -> dict[str, pl.Series]:
    """Department-specific columns of ``df`` (which has the common and truth columns
    and ``_ref``); ``hh_of`` is each record's true household id, ``district`` the
    register's district column."""
    h = splitmix64(df["record_id"].to_numpy().astype(np.uint64) ^ np.uint64(seed + 17))
    hh = splitmix64(hh_of.astype(np.uint64) ^ np.uint64(seed + 31))

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
        plate = np.empty((len(hh), 9), dtype=np.uint8)
        plate[:, :3] = np.frombuffer("京".encode(), dtype=np.uint8)
        plate[:, 3] = _PLATE_LETTERS[(hh % np.uint64(len(_PLATE_LETTERS))).astype(np.int64)]
        plate[:, 4:] = _digits((hh >> np.uint64(8)) % np.uint64(100000), 5)
        return {"plate_number": strings.inline_from_u8(plate, "plate_number")}
    if dept == "transit":
        kind = df["kind"].cast(pl.String)
        metro = (h % np.uint64(10)) < np.uint64(7)
        op = pl.DataFrame({"k": kind, "m": metro}).select(
            pl.when(pl.col("k") == "rail_misconduct").then(pl.lit("railway"))
            .when(pl.col("k") == "air_misconduct").then(pl.lit("civil_aviation"))
            .when(pl.col("m")).then(pl.lit("metro")).otherwise(pl.lit("bus"))).to_series()
        return {"operator": op}
    if dept == "bank":
        return {"bank": _pick(_BANKS, hh ^ (h & np.uint64(1)))}
    if dept == "market":
        return {"bureau": (dist().cast(pl.String) + " Market Regulation Bureau")}
    if dept == "utility":
        kind = df["kind"].cast(pl.String)
        pick = _pick(_UTIL, h)
        return {
            "utility": pl.DataFrame({"k": kind, "p": pick}).select(
                pl.when(pl.col("k") == "heating_tamper").then(pl.lit("heating"))
                .otherwise(pl.col("p"))).to_series(),
            "account_no": strings.inline_from_u8(
                _digits(hh % np.uint64(10**10), 10), "account_no"),
        }
    if dept == "civil":
        return {"organisation": _pick(_ORGS, h >> np.uint64(3))}
    if dept == "health":
        return {"blood_station": _pick(["Beijing Red Cross Blood Center", "district station"],
                                       h >> np.uint64(5))}
    return {}

