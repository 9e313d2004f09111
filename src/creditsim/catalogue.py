"""The fixed vocabulary of the simulation: departments, event kinds, districts.

These names are part of the data contract (see DESIGN.md): they appear as the
categories of the ``department``, ``kind`` and ``district`` columns and policy
files refer to them. Add to them only at the end, never reorder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

DEPARTMENTS: tuple[str, ...] = (
    "court",  # people's courts: civil judgments and enforcement
    "tax",  # tax bureau
    "traffic",  # traffic police
    "transit",  # public transport, railway and civil aviation operators
    "bank",  # banks (loan and card servicing)
    "market",  # market regulation (SAMR local bureaux)
    "utility",  # water, gas, power and heating companies
    "civil",  # civil affairs: volunteering, commendations
    "health",  # health commission: blood donation
)


@dataclass(frozen=True)
class Kind:
    """One kind of behaviour that a department records."""

    name: str
    department: str
    unit: str  # meaning of the ``amount`` column: "yuan", "hours", "ml" or "" (none)
    valence: int  # -1 a breach, +1 a good deed, 0 neutral (e.g. a debt performed)
    description: str


KINDS: tuple[Kind, ...] = (
    # Courts. The six dishonest-debtor grounds are Art. 1 of sources#spc-list-provisions.
    Kind("lawsuit_lost", "court", "yuan", -1, "lost a civil suit; judgment sum"),
    Kind("enforcement_opened", "court", "yuan", -1, "enforcement case opened against the resident"),
    Kind("refuse_to_perform", "court", "yuan", -1, "able to perform a judgment but refusing (ground 1)"),
    Kind("obstruct_enforcement", "court", "", -1, "obstructing enforcement by forgery, violence, threats (ground 2)"),
    Kind("evade_enforcement", "court", "", -1, "evading by sham litigation or hiding property (ground 3)"),
    Kind("false_property_report", "court", "", -1, "violating the property-reporting system (ground 4)"),
    Kind("violate_consumption_ban", "court", "", -1, "violating a consumption-restriction order (ground 5)"),
    Kind("breach_settlement", "court", "", -1, "refusing to perform a settlement agreement (ground 6)"),
    Kind("judgment_performed", "court", "yuan", 0, "the judgment debt was performed in full"),
    # Tax
    Kind("tax_arrears", "tax", "yuan", -1, "tax owed past its due date"),
    Kind("tax_evasion", "tax", "yuan", -1, "tax evasion found by an audit"),
    # Traffic police
    Kind("traffic_violation", "traffic", "yuan", -1, "minor traffic violation; fine"),
    Kind("drunk_driving", "traffic", "", -1, "drunk or drink driving"),
    # Transit operators (metro/bus, railway, civil aviation)
    Kind("fare_evasion", "transit", "yuan", -1, "metro or bus fare evasion; fare due"),
    Kind("rail_misconduct", "transit", "", -1, "smoking, disorder or riding without ticket on a train"),
    Kind("air_misconduct", "transit", "", -1, "misconduct on a flight or at an airport"),
    # Banks (one record per month in arrears)
    Kind("loan_arrears", "bank", "yuan", -1, "a loan instalment overdue this month"),
    Kind("card_arrears", "bank", "yuan", -1, "a credit card payment overdue this month"),
    # Market regulation
    Kind("counterfeit_goods", "market", "yuan", -1, "producing or selling fake goods; goods value"),
    Kind("commercial_fraud", "market", "yuan", -1, "pyramid selling or commercial fraud; sum involved"),
    # Utilities
    Kind("utility_late_fee", "utility", "yuan", -1, "late payment of a water, gas, power or heating bill"),
    Kind("utility_theft", "utility", "yuan", -1, "stealing water, gas, power or heat; value"),
    Kind("heating_tamper", "utility", "", -1, "tampering with public heating (illegal taps)"),
    # Civil affairs and health
    Kind("volunteer_hours", "civil", "hours", 1, "volunteer service hours logged in a month"),
    Kind("heroic_act", "civil", "", 1, "a recognised heroic act (jianyi yongwei)"),
    Kind("honour", "civil", "", 1, "a civic honour or commendation"),
    Kind("blood_donation", "health", "ml", 1, "voluntary blood donation"),
)

KIND_NAMES: tuple[str, ...] = tuple(k.name for k in KINDS)
KIND_BY_NAME: dict[str, Kind] = {k.name: k for k in KINDS}

# Beijing's 16 districts in GB/T 2260 code order (pinyin names; Chinese in the city preset).
DISTRICTS: tuple[str, ...] = (
    "Dongcheng", "Xicheng", "Chaoyang", "Fengtai", "Shijingshan", "Haidian",
    "Mentougou", "Fangshan", "Tongzhou", "Shunyi", "Changping", "Daxing",
    "Huairou", "Pinggu", "Miyun", "Yanqing",
)

SEXES: tuple[str, ...] = ("M", "F")
HUKOU: tuple[str, ...] = ("local", "migrant")
EDUCATION: tuple[str, ...] = (
    "below_primary", "primary", "junior_secondary", "senior_secondary", "tertiary",
)
RELATIONS: tuple[str, ...] = ("head", "spouse", "child", "parent", "other")

DepartmentT = pl.Enum(list(DEPARTMENTS))
KindT = pl.Enum(list(KIND_NAMES))
DistrictT = pl.Enum(list(DISTRICTS))
SexT = pl.Enum(list(SEXES))
HukouT = pl.Enum(list(HUKOU))
EducationT = pl.Enum(list(EDUCATION))
RelationT = pl.Enum(list(RELATIONS))

assert all(k.department in DEPARTMENTS for k in KINDS)
assert len(set(KIND_NAMES)) == len(KIND_NAMES)

# Points of service where a platform decision can deny, expedite or discount.
# Policy consequences name these; the services stage (later) draws demand for them.
# "Art. 3 item N" is item N of sources#spc-high-consumption; "category N" is category
# N of sources#joint-punishment-2016.
SERVICES: tuple[str, ...] = (
    "flight",  # civil aviation ticket (Art. 3 item 1)
    "g_train",  # any seat on a G-train (Art. 3 item 9)
    "emu_first_class",  # first class and above on other EMU trains (Art. 3 item 9)
    "soft_sleeper",  # soft sleeper berth (Art. 3 item 1)
    "star_hotel",  # star-rated hotel, nightclub, golf (Art. 3 item 2)
    "private_school",  # a child's place at a high-fee private school (Art. 3 item 7)
    "public_school",  # public school admission (green channel, sources#beijing-plan-2018)
    "hospital",  # hospital appointment (green channel)
    "loan",  # bank loan or credit card (sources#spc-other-restrictions)
    "public_post",  # civil-service or public-sector post (category 3)
    "executive_post",  # director or legal representative post (sources#spc-other-restrictions)
    "business_licence",  # market access (category 4)
    "exit_permit",  # leaving the country (category 8)
    "real_estate",  # buying a home (Art. 3 item 3)
    "transit_fare",  # bus and metro fares (sources#fuzhou-transit)
    "bike_deposit",  # public-bike deposit (sources#rongcheng-fp-2018, sources#suzhou-bikes-2016)
    "library_deposit",  # library deposit (sources#xiamen-egret-2023)
    "parking",  # pay-later parking (sources#xiamen-egret-2023)
    "heating_bill",  # heating bill discount (sources#huantai-2022)
    "insurance",  # high-premium insurance products (Art. 3 item 8)
    "travel",  # package tours and holidays (Art. 3 item 6)
    "rental_deposit",  # free power banks, umbrellas, scooters (sources#fuzhou-rentals)
    "vehicle_purchase",  # buying a non-essential vehicle (Art. 3 item 5)
    "office_rental",  # renting high-end offices, hotels or apartments for work (Art. 3 item 4)
    "car_plate_lottery",  # car-plate lottery (planned in sources#hangzhou-qianjiang)
)
ServiceT = pl.Enum(list(SERVICES))


def enum_from_codes(codes: object, dtype: pl.Enum, name: str = "") -> pl.Series:
    """An Enum Series from integer category codes (fast: no per-row strings)."""
    cats = pl.Series(name, dtype.categories.to_list(), dtype=dtype)
    return cats.gather(pl.Series(np.asarray(codes).astype(np.uint32))).alias(name)


def rows_of(ids: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Row of each query in ``ids`` (distinct integers), -1 where absent.

    Record ids are dense by construction, so this is usually an array indexed by
    id (O(n), no sort, no join); sparse ids fall back to a sorted search.
    """
    ids = np.asarray(ids, dtype=np.int64)
    q = np.asarray(queries, dtype=np.int64)
    if len(ids) == len(q) and np.array_equal(ids, q):  # the same rows, in order
        return np.arange(len(q), dtype=np.int64)
    out = np.full(len(q), -1, dtype=np.int64)
    if not len(ids) or not len(q):
        return out
    lo, hi = int(ids.min()), int(ids.max())
    inside = (q >= lo) & (q <= hi)
    if hi - lo + 1 == len(ids) and bool(np.all(ids[1:] > ids[:-1])):
        # ids are lo, lo + 1, ..., hi in order (distinct ids filling their range):
        # a query's row is its offset, with no id-indexed table to build.
        out[inside] = q[inside] - lo
        return out
    if hi - lo < 4 * len(ids) + 1024:
        pos = np.full(hi - lo + 1, -1, dtype=np.int64)
        pos[ids - lo] = np.arange(len(ids))
        out[inside] = pos[q[inside] - lo]
        return out
    order = np.argsort(ids, kind="stable")
    at = np.searchsorted(ids, q[inside], sorter=order)
    at = np.minimum(at, len(ids) - 1)
    hit = ids[order[at]] == q[inside]
    out[np.flatnonzero(inside)[hit]] = order[at[hit]]
    return out

