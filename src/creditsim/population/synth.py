"""Assemble the synthetic resident register from households (stage: population).

Entry point: :func:`synthesize`. Pure function of (city profile, size, seed,
start date, household model) → a Polars DataFrame with the ``residents`` schema
documented in DESIGN.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from creditsim import catalogue as cat
from creditsim import idnumber
from creditsim.cities.model import CityProfile
from creditsim.errors import ConfigError
from creditsim.params import Cited
from creditsim.population import households as hhm
from creditsim.population import names
from creditsim.rng import HOUSEHOLD_BLOCK, RESIDENT_BLOCK, block_bounds, stream

EPOCH = dt.date(1970, 1, 1)


_EDU_WHY = ("assumption: education probabilities by age band and hukou, tuned so the "
            "population shares match the census per-100k figures")


@dataclass(frozen=True)
class PersonModel:
    """Individual attributes. Every value is a stated assumption unless cited."""

    income_sigma: Cited[float] = Cited(
        0.55, "assumption: log-income spread giving a top/bottom quintile ratio near 4-5, "
        "as the Beijing 2010 urban quintile means suggest (sources#beijing-quintiles-2010)"
    )
    income_by_education: Cited[tuple[float, ...]] = Cited(
        (-0.55, -0.45, -0.25, 0.0, 0.40),
        "assumption: log-income shift by the head's education (below primary … tertiary)",
    )
    migrant_income_shift: Cited[float] = Cited(-0.10, "assumption: migrants earn a little less")
    spouse_drives: Cited[float] = Cited(
        0.40, "assumption: share of car households where the spouse also drives "
        "(11.9 M licensed drivers for 6.2 M cars in Beijing, sources#beijing-cars-2021)"
    )
    migrant_years_mean: Cited[float] = Cited(
        7.0, "assumption: mean years a migrant adult has lived in the city"
    )
    propensity_sigma: Cited[float] = Cited(
        0.9, "assumption: spread of the latent rule-breaking propensity (log-normal)"
    )
    propensity_household_share: Cited[float] = Cited(
        0.3, "assumption: share of propensity variance shared within a household"
    )
    civic_sigma: Cited[float] = Cited(
        1.0, "assumption: spread of the latent pro-social propensity (log-normal)"
    )
    # Education of adults (≥ 23) by age band (lower edges; the last is an open end),
    # local / migrant: rows are bands, columns below_primary, primary,
    # junior_secondary, senior_secondary, tertiary.
    edu_age_bands: Cited[tuple[int, ...]] = Cited(
        (23, 40, 60, 75, 200), _EDU_WHY + " (band edges; the last closes the top band)"
    )
    edu_local: Cited[tuple[tuple[float, ...], ...]] = Cited(
        ((0.00, 0.01, 0.08, 0.14, 0.77),
         (0.00, 0.03, 0.19, 0.23, 0.55),
         (0.03, 0.16, 0.32, 0.25, 0.24),
         (0.15, 0.30, 0.25, 0.16, 0.14)), _EDU_WHY, bounds=(0.0, 1.0))
    edu_migrant: Cited[tuple[tuple[float, ...], ...]] = Cited(
        ((0.00, 0.03, 0.22, 0.18, 0.57),
         (0.01, 0.09, 0.38, 0.20, 0.32),
         (0.05, 0.25, 0.40, 0.17, 0.13),
         (0.20, 0.35, 0.27, 0.10, 0.08)), _EDU_WHY, bounds=(0.0, 1.0))
    edu_teen_senior: Cited[float] = Cited(
        0.85, "assumption: share of 15-17-year-olds in senior secondary school (else junior)",
        bounds=(0.0, 1.0))
    edu_young_cdf: Cited[tuple[float, float]] = Cited(
        (0.55, 0.85), "assumption: 18-22-year-olds: share in tertiary education, and share "
        "in tertiary or senior secondary (the rest junior secondary)", bounds=(0.0, 1.0))
    school_ages: Cited[tuple[int, ...]] = Cited(
        (6, 12, 15, 18), "assumption: ages (whole years) at which children enter primary, "
        "junior secondary and senior secondary school and leave it (the 6+3+3 system, "
        "everyone at the usual age); from the last to edu_age_bands' first edge the "
        "edu_young_cdf shares apply", unit="years")
    car_logit_base: Cited[float] = Cited(
        -1.1, "assumption: log-odds of a household car at income decile 0 (then scaled so "
        "the city has city.cars_per_resident)", bounds=(None, None))
    car_logit_per_decile: Cited[float] = Cited(
        0.22, "assumption: rise of the car log-odds per income decile", bounds=(None, None))
    car_district_weight: Cited[float] = Cited(
        4.0, "assumption: weight of city.district_car_effect in the car log-odds",
        bounds=(None, None))
    car_head_ages: Cited[tuple[float, float]] = Cited(
        (22.0, 76.0), "assumption: a household can own a car when its head's age is in "
        "[low, high)", unit="years")
    migrant_arrival_age: Cited[float] = Cited(
        16.0, "assumption: a migrant adult has lived in the city at most since this age (or "
        "half their life, whichever is longer)", unit="years")
    single_name_cohorts: Cited[tuple[int, ...]] = Cited(
        names.SINGLE_CHAR_COHORTS, "assumption: birth years bounding the cohorts of "
        "single_name_shares", unit="birth year")
    single_name_shares: Cited[tuple[float, ...]] = Cited(
        names.SINGLE_CHAR_SHARES, "assumption: share of one-character given names among "
        "those born before each of single_name_cohorts, then after the last: they peaked "
        "among people born 1960-1990 and fell sharply after 2000 (as the MPS name "
        "reports describe)", bounds=(0.0, 1.0))
    origin_counties: Cited[int] = Cited(
        30, "assumption: county-level divisions per origin province that migrants' IDs are "
        "drawn from, evenly (at most the 30 codes origin_counties makes)", bounds=(1, 30))

    def __post_init__(self) -> None:
        for name in ("school_ages", "single_name_cohorts", "car_head_ages"):
            v = getattr(self, name).value
            if any(b <= a for a, b in zip(v, v[1:], strict=False)):
                raise ValueError(f"persons.{name} must increase, got {list(v)}")


def origin_counties(province_codes: np.ndarray, n: int = 30) -> np.ndarray:
    """Per origin province, ``n`` (≤ 30) plausible county-level codes: the
    province's two digits, a prefecture 01-10 and a county 02, 21 or 22 (the usual
    GB/T 2260 pattern for a city district and the first counties). Assumption:
    migrants spread evenly over them; the exact counties do not matter here, but
    putting a province's millions of migrants on one code would exhaust the
    500 sequence numbers per birth date and sex."""
    prov = np.asarray(province_codes, dtype=np.int64) // 10_000
    pref = np.repeat(np.arange(1, 11), 3)
    cnty = np.tile(np.array([2, 21, 22]), 10)
    return (prov[:, None] * 10_000 + (pref * 100 + cnty)[None, :])[:, :n]


def district_targets(city: CityProfile, n: int) -> np.ndarray:
    """Residents per district: ``n`` split by published shares, largest remainder."""
    pop = np.asarray(city.district_population.value, dtype=np.float64)
    exact = n * pop / pop.sum()
    base = np.floor(exact).astype(np.int64)
    rem = n - int(base.sum())
    order = np.lexsort((np.arange(len(exact)), -(exact - base)))
    base[order[:rem]] += 1
    return base


def _draw_district(seed: int, d: int, target: int, migrant_share: float,
                   model: hhm.HouseholdModel) -> dict[str, np.ndarray]:
    parts: list[dict[str, np.ndarray]] = []
    got, b, hh_off = 0, 0, 0
    while got < target:
        blk = hhm.draw_block(stream(seed, "population.households", d, b), HOUSEHOLD_BLOCK,
                             migrant_share, model)
        blk["hh"] = blk["hh"] + hh_off
        hh_off += HOUSEHOLD_BLOCK
        parts.append(blk)
        got += len(blk["hh"])
        b += 1
    keys = ("hh", "role", "slot", "age", "male", "migrant")
    out = {k: np.concatenate([p[k] for p in parts])[:target] for k in keys}
    out["htype_h"] = np.concatenate([p["htype"] for p in parts])
    return out


def synthesize(
    city: CityProfile,
    n_residents: int,
    seed: int,
    start_date: dt.date,
    household_model: hhm.HouseholdModel | None = None,
    person_model: PersonModel | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> pl.DataFrame:
    """Build the resident register (see DESIGN.md, table ``residents``)."""
    if n_residents <= 0:
        raise ConfigError("residents must be positive")
    hm = household_model or hhm.HouseholdModel()
    pm = person_model or PersonModel()
    tick = progress or (lambda _msg, _frac: None)
    targets = district_targets(city, n_residents)
    mig = np.asarray(city.migrant_share.value)

    # 1. Households and members, district by district.
    cols: dict[str, list[np.ndarray]] = {k: [] for k in
                                         ("hh", "role", "slot", "age", "male", "migrant", "district")}
    hh_off = 0
    # Districts are independent (own streams): draw them on two threads, in order.
    with ThreadPoolExecutor(max_workers=2) as pool:
        drawn = [pool.submit(_draw_district, seed, d, int(t), float(mig[d]), hm)
                 if t > 0 else None for d, t in enumerate(targets)]
    for d, target in enumerate(targets):
        if target == 0:
            continue
        blk = drawn[d].result()
        drawn[d] = None
        cols["hh"].append(blk["hh"] + hh_off)
        hh_off = int(cols["hh"][-1][-1]) + 1
        for k in ("role", "slot", "age", "male", "migrant"):
            cols[k].append(blk[k])
        cols["district"].append(np.full(len(blk["hh"]), d, dtype=np.int8))
        tick("households", (d + 1) / len(targets) * 0.4)
    a = {k: np.concatenate(v) for k, v in cols.items()}
    n = len(a["hh"])
    # Household ids renumbered densely (trimmed households leave gaps otherwise).
    hh_raw = a.pop("hh")
    hh_id = (np.cumsum(np.r_[True, hh_raw[1:] != hh_raw[:-1]]) - 1).astype(np.int32)
    del hh_raw
    role, age, male, migrant, district = a["role"], a["age"], a["male"], a["migrant"], a["district"]
    hh_start = np.flatnonzero(np.r_[True, hh_id[1:] != hh_id[:-1]])
    hh_size = np.diff(np.r_[hh_start, n])
    start_of = np.repeat(hh_start.astype(np.int32), hh_size)  # each member's head
    rid = np.arange(n, dtype=np.int32)
    del a

    # 2. Per-member draws, keyed by resident blocks.
    def uni(purpose: str) -> np.ndarray:
        out = np.empty(n)
        for bi, (s, e) in enumerate(block_bounds(n, RESIDENT_BLOCK)):
            out[s:e] = stream(seed, f"population.{purpose}", bi).random(e - s)
        return out

    tick("attributes", 0.5)

    # 3. Birth dates.
    start_ord = (start_date - EPOCH).days
    birth_days = (start_ord - np.floor(age * 365.2425) - 1).astype(np.int32)
    # Calendar fields through a table over the (few tens of thousands) distinct days.
    lo = int(birth_days.min())
    span_days = np.arange(lo, int(birth_days.max()) + 1).astype("datetime64[D]")
    t_years = span_days.astype("datetime64[Y]").astype(np.int64) + 1970
    t_months = span_days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    t_mdays = (span_days - span_days.astype("datetime64[M]")).astype(np.int64) + 1
    bidx = birth_days - np.int32(lo)
    years = t_years.astype(np.int16)[bidx]
    day_ymd = t_years * 10000 + t_months * 100 + t_mdays
    age_int = np.floor(age).astype(np.int16)
    del span_days

    # 11. ID numbers (region of registration, birth date, sequence, check digit),
    # computed on a second thread while the other attributes and the names are
    # drawn: they share no data.
    n_county = pm.origin_counties.value

    def _ids(u_origin: np.ndarray, u_county: np.ndarray) -> pl.Series:
        ocodes = np.asarray(city.origin_codes.value, dtype=np.int64)
        ow = np.asarray(city.origin_weights.value, dtype=np.float64)
        ocdf = np.cumsum(ow / ow.sum())
        ocdf[-1] = 1.0
        # Region codes as indices into a small table: districts first, then origins.
        # A migrant household is registered in one of n_county county-level
        # divisions of its origin province (IDs are issued per county).
        county = origin_counties(ocodes, n_county)  # (provinces, n_county)
        region_codes = np.concatenate([np.asarray(city.district_codes.value, dtype=np.int64),
                                       county.ravel()])
        origin_i = names.inverse_cdf([ocdf], u_origin)
        county_i = np.floor(u_county * n_county).astype(np.int64)
        region_idx = np.where(migrant, len(city.district_codes.value)
                              + origin_i * n_county + county_i, district)
        # Numbered per region code, not per table entry: an origin county may carry
        # a district's code (migrants from elsewhere in the city's own province).
        uniq, code_idx = np.unique(region_codes, return_inverse=True)
        seq = _sequence_numbers(code_idx[region_idx], bidx, male, len(uniq))
        return idnumber.build_ids(region_idx, region_codes, bidx, day_ymd, seq)

    id_pool = ThreadPoolExecutor(max_workers=1)
    id_job = id_pool.submit(_ids, uni("origin")[start_of], uni("origin_county")[start_of])

    # 4. Education by age and hukou.
    u_edu = uni("education")
    edu = np.zeros(n, dtype=np.int8)
    primary, junior, senior, leave = pm.school_ages.value
    edu[(age_int >= primary) & (age_int < junior)] = 1
    edu[(age_int >= junior) & (age_int < senior)] = 2
    teen = (age_int >= senior) & (age_int < leave)
    edu[teen] = np.where(u_edu[teen] < pm.edu_teen_senior.value, 3, 2)
    young = (age_int >= leave) & (age_int < pm.edu_age_bands.value[0])
    y_tert, y_senior = pm.edu_young_cdf.value
    edu[young] = np.where(u_edu[young] < y_tert, 4, np.where(u_edu[young] < y_senior, 3, 2))
    # Adults: inverse CDF of their (age band, hukou) table.
    adult = np.flatnonzero(age_int >= pm.edu_age_bands.value[0])
    bands = np.asarray(pm.edu_age_bands.value)
    local, mig_edu = np.asarray(pm.edu_local.value), np.asarray(pm.edu_migrant.value)
    n_bands = len(local)
    band = np.clip(np.searchsorted(bands, age_int[adult], side="right") - 1, 0, n_bands - 1)
    cdfs = []
    for b in range(n_bands):
        for table in (local, mig_edu):
            cdf = np.cumsum(table[b])
            cdf[-1] = 1.0
            cdfs.append(cdf)
    edu[adult] = names.inverse_cdf(cdfs, u_edu[adult], band * 2 + migrant[adult]).astype(np.int8)
    del u_edu, band, adult

    # 5. Income: household per-capita, from the head's education, district, hukou.
    head = start_of
    noise = hhm._norm(uni("income")[head])
    log_inc = (
        np.asarray(pm.income_by_education.value)[edu[head]]
        + np.asarray(city.district_income_effect.value)[district]
        + np.where(migrant, pm.migrant_income_shift.value, 0.0)
        + pm.income_sigma.value * noise
    )
    raw = np.exp(log_inc)
    del log_inc, noise
    income = (raw * (city.mean_income.value / raw.mean())).astype(np.float32)
    del raw
    # Person-weighted deciles of household per-capita income; a household is
    # never split across deciles (ties broken by household id).
    inc_h = income[hh_start]
    order_h = _stable_order(inc_h)
    before = np.empty(len(hh_start), dtype=np.int64)
    before[order_h] = np.concatenate([[0], np.cumsum(hh_size[order_h])[:-1]])
    dec_h = np.minimum((2 * before + hh_size) * 10 // (2 * n) + 1, 10).astype(np.int8)
    decile = np.repeat(dec_h, hh_size)
    del inc_h, order_h, before, dec_h
    tick("attributes", 0.6)

    # 6. Cars: a household car with probability rising with income decile; the head
    # drives it, the spouse sometimes too. Calibrated to cars per resident.
    head_age = age[head]
    car_lo, car_hi = pm.car_head_ages.value
    eligible_h = (head_age >= car_lo) & (head_age < car_hi)
    car_logit = pm.car_logit_base.value + pm.car_logit_per_decile.value * decile \
        + np.asarray(city.district_car_effect.value)[district] * pm.car_district_weight.value
    p_car = 1.0 / (1.0 + np.exp(-car_logit))
    target_cars = city.cars_per_resident.value * n
    hh_mask = (rid == head) & eligible_h
    scale = min(1.0, target_cars / max(1e-9, float(p_car[hh_mask].sum())))
    car_h = (uni("car")[head] < p_car * scale) & eligible_h
    drives = car_h & (
        (role == hhm.HEAD)
        | ((role == hhm.SPOUSE) & (uni("driver") < pm.spouse_drives.value) & (age >= 18))
    )
    del car_h, p_car, car_logit, hh_mask, head_age, eligible_h

    # 7. Years in the city.
    years_in_city = np.where(
        migrant,
        np.minimum(-np.log1p(-uni("years")) * pm.migrant_years_mean.value,
                   np.maximum(age - pm.migrant_arrival_age.value, age * 0.5)),
        age,
    ).astype(np.float32)

    # 8. Latent propensities (truth).
    hs = pm.propensity_household_share.value
    z = np.sqrt(hs) * hhm._norm(uni("propensity_household")[head]) \
        + np.sqrt(1 - hs) * hhm._norm(uni("propensity"))
    propensity = np.exp(pm.propensity_sigma.value * z - 0.5 * pm.propensity_sigma.value**2
                        ).astype(np.float32)
    del z
    civic = np.exp(pm.civic_sigma.value * hhm._norm(uni("civic")) - 0.5 * pm.civic_sigma.value**2
                   ).astype(np.float32)

    # 9. Names.
    sur_draw = names.draw_surnames(uni("surname"))
    head_male = male[head]
    has_spouse = np.r_[role[1:] == hhm.SPOUSE, False][head]  # member after head is spouse
    father_present = head_male | has_spouse
    inherits = ((role == hhm.CHILD) & father_present) | (
        (role == hhm.PARENT) & male & head_male
    )
    # Father is the head when the head is male, else the spouse.
    nxt = np.minimum(head + 1, n - 1)  # the spouse, where there is one
    father_idx = np.where(head_male, head, nxt)
    surname = np.where(inherits, sur_draw[np.where(role == hhm.PARENT, head, father_idx)],
                       sur_draw).astype(np.int16)
    g1, g2 = names.draw_given(uni("given1"), uni("given2"), uni("given_single"), male, years,
                              (pm.single_name_cohorts.value, pm.single_name_shares.value))
    # The strings are built on the second thread (after the ID numbers).
    name_job = id_pool.submit(names.build_strings, surname, g1, g2)
    del sur_draw, surname, g1, g2, inherits

    # 10. Parents of children living with them.
    is_child = role == hhm.CHILD
    father_id = np.where(is_child & father_present, father_idx, -1).astype(np.int32)
    mother_idx = np.where(head_male, nxt, head)
    mother_present = (~head_male) | has_spouse
    mother_id = np.where(is_child & mother_present, mother_idx, -1).astype(np.int32)
    del father_idx, mother_idx, nxt, is_child

    id_numbers = id_job.result()
    tick("ids", 0.75)
    sur_s, given_s, name_s = name_job.result()
    id_pool.shutdown()
    tick("names", 0.9)

    df = pl.DataFrame({
        "resident_id": pl.Series(rid, dtype=pl.Int32),
        "household_id": pl.Series(hh_id, dtype=pl.Int32),
        "relation": cat.enum_from_codes(role, cat.RelationT),
        "father_id": _nullable_ids(father_id),
        "mother_id": _nullable_ids(mother_id),
        "district": cat.enum_from_codes(district, city.district_enum),
        "sex": cat.enum_from_codes(~male, cat.SexT),
        "birth_date": pl.Series(birth_days, dtype=pl.Int32).cast(pl.Date),
        "hukou": cat.enum_from_codes(migrant, cat.HukouT),
        "years_in_city": pl.Series(years_in_city, dtype=pl.Float32),
        "education": cat.enum_from_codes(edu, cat.EducationT),
        "income": pl.Series(income),
        "income_decile": pl.Series(decile, dtype=pl.Int8),
        "drives_car": pl.Series(drives, dtype=pl.Boolean),
        "surname": sur_s,
        "given_name": given_s,
        "name": name_s,
        "id_number": id_numbers,
        "truth_propensity": pl.Series(propensity),
        "truth_civic": pl.Series(civic),
    })
    tick("done", 1.0)
    return df


def _stable_order(x: np.ndarray) -> np.ndarray:
    """``np.argsort(x, kind="stable")`` of float32 values, by one value sort of
    (value bits, index) when every value is positive and finite (the bits of a
    positive float32 order as the value does)."""
    x = np.asarray(x, dtype=np.float32)
    if x.size == 0 or x.size >= 1 << 32 or not (np.isfinite(x).all() and (x > 0).all()):
        return np.argsort(x, kind="stable")
    key = x.view(np.uint32).astype(np.uint64) << np.uint64(32)
    key |= np.arange(x.size, dtype=np.uint64)
    key.sort()
    return (key & np.uint64(0xFFFFFFFF)).astype(np.int64)


def _nullable_ids(ids: np.ndarray) -> pl.Series:
    """Int32 Series with null where ``ids`` is negative (built through Arrow's mask)."""
    vals = np.ascontiguousarray(ids, dtype=np.int32)
    valid = pa.py_buffer(np.packbits(vals >= 0, bitorder="little"))
    return pl.Series(pa.Array.from_buffers(pa.int32(), len(vals), [valid, pa.py_buffer(vals)],
                                           null_count=-1))


def _sequence_numbers(region_idx: np.ndarray, day_idx: np.ndarray, male: np.ndarray,
                      n_regions: int) -> np.ndarray:
    """GB 11643 sequence numbers: unique within (region, birth date), odd for men and
    even for women, numbered in resident order. One sort of a packed int64 key."""
    n = len(day_idx)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    # Packed key: region (10 bits) | birth day (20) | sex (1) | resident index (31).
    if int(day_idx.max()) >= 1 << 20 or n_regions >= 1 << 10 or n >= 1 << 31:
        raise ConfigError("population too large or too old for sequence numbering")
    group = (region_idx.astype(np.int64) << 21) | (day_idx.astype(np.int64) << 1) \
        | (~male).astype(np.int64)
    packed = np.sort((group << 31) | np.arange(n, dtype=np.int64))
    g = packed >> 31
    new = np.r_[True, g[1:] != g[:-1]]
    start = np.maximum.accumulate(np.where(new, np.arange(n), 0))
    rank = np.empty(n, dtype=np.int64)
    rank[packed & ((1 << 31) - 1)] = np.arange(n) - start
    if rank.max() >= 500:
        raise ConfigError(
            "more than 500 residents of one sex share a birth date and region code; "
            "GB 11643 sequence numbers would overflow"
        )
    return np.where(male, 2 * rank + 1, 2 * rank + 2)
