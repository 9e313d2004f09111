"""Assemble the synthetic resident register from households (stage: population).

Entry point: :func:`synthesize`. Pure function of (city profile, size, seed,
start date, household model) → a Polars DataFrame with the ``residents`` schema
documented in DESIGN.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from creditsim import catalogue as cat
from creditsim.cities.model import CityProfile
from creditsim.errors import ConfigError
from creditsim.params import Cited
from creditsim.population import households as hhm
from creditsim.population import idnumber, names
from creditsim.rng import HOUSEHOLD_BLOCK, RESIDENT_BLOCK, block_bounds, stream

EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class PersonModel:
    """Individual attributes. Every value is a stated assumption unless cited."""

    income_sigma: Cited[float] = Cited(
        0.55, "assumption: log-income spread giving a top/bottom quintile ratio near 4-5, "
        "as the Beijing 2010 urban quintile means suggest (docs/sources/figures.md §B)"
    )
    income_by_education: Cited[tuple[float, ...]] = Cited(
        (-0.55, -0.45, -0.25, 0.0, 0.40),
        "assumption: log-income shift by the head's education (below primary … tertiary)",
    )
    migrant_income_shift: Cited[float] = Cited(-0.10, "assumption: migrants earn a little less")
    car_base: Cited[float] = Cited(
        0.0, "calibrated so cars per resident match the city's cited figure"
    )
    spouse_drives: Cited[float] = Cited(
        0.40, "assumption: share of car households where the spouse also drives "
        "(11.9 M licensed drivers for 6.2 M cars in Beijing, docs/sources/figures.md §C)"
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


# Education probabilities for adults (≥ 23) by age band, local / migrant:
# columns below_primary, primary, junior_secondary, senior_secondary, tertiary.
# Assumption, tuned so the population shares match the census per-100k figures.
_EDU_BANDS = np.array([23, 40, 60, 75, 200])
_EDU_LOCAL = np.array([
    [0.00, 0.01, 0.08, 0.14, 0.77],
    [0.00, 0.03, 0.19, 0.23, 0.55],
    [0.03, 0.16, 0.32, 0.25, 0.24],
    [0.15, 0.30, 0.25, 0.16, 0.14],
])
_EDU_MIGRANT = np.array([
    [0.00, 0.03, 0.22, 0.18, 0.57],
    [0.01, 0.09, 0.38, 0.20, 0.32],
    [0.05, 0.25, 0.40, 0.17, 0.13],
    [0.20, 0.35, 0.27, 0.10, 0.08],
])


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
    for d, target in enumerate(targets):
        if target == 0:
            continue
        blk = _draw_district(seed, d, int(target), float(mig[d]), hm)
        cols["hh"].append(blk["hh"] + hh_off)
        hh_off = int(cols["hh"][-1][-1]) + 1
        for k in ("role", "slot", "age", "male", "migrant"):
            cols[k].append(blk[k])
        cols["district"].append(np.full(len(blk["hh"]), d, dtype=np.int8))
        tick("households", (d + 1) / len(targets) * 0.4)
    a = {k: np.concatenate(v) for k, v in cols.items()}
    n = len(a["hh"])
    # Household ids renumbered densely (trimmed households leave gaps otherwise).
    _, hh_id = np.unique(a["hh"], return_inverse=True)
    hh_id = hh_id.astype(np.int64)
    role, age, male, migrant, district = a["role"], a["age"], a["male"], a["migrant"], a["district"]
    hh_start = np.flatnonzero(np.r_[True, hh_id[1:] != hh_id[:-1]])
    hh_size = np.diff(np.r_[hh_start, n])
    start_of = np.repeat(hh_start, hh_size)  # resident index of each member's head
    rid = np.arange(n, dtype=np.int64)

    # 2. Per-member draws, keyed by resident blocks.
    k_u = 12
    u = np.empty((n, k_u))
    for bi, (s, e) in enumerate(block_bounds(n, RESIDENT_BLOCK)):
        u[s:e] = stream(seed, "population.members", bi).random((e - s, k_u))
    tick("attributes", 0.5)

    # 3. Birth dates.
    start_ord = (start_date - EPOCH).days
    birth_days = start_ord - np.floor(age * 365.2425).astype(np.int64) - 1
    birth = np.datetime64("1970-01-01") + birth_days.astype("timedelta64[D]")
    years = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    months = birth.astype("datetime64[M]").astype(np.int64) % 12 + 1
    mdays = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
    yyyymmdd = years * 10000 + months * 100 + mdays
    age_int = np.floor(age).astype(np.int64)

    # 4. Education by age and hukou.
    edu = np.zeros(n, dtype=np.int8)
    edu[(age_int >= 6) & (age_int < 12)] = 1
    edu[(age_int >= 12) & (age_int < 15)] = 2
    teen = (age_int >= 15) & (age_int < 18)
    edu[teen] = np.where(u[teen, 0] < 0.85, 3, 2)
    young = (age_int >= 18) & (age_int < 23)
    edu[young] = np.where(u[young, 0] < 0.55, 4, np.where(u[young, 0] < 0.85, 3, 2))
    adult = age_int >= 23
    band = np.searchsorted(_EDU_BANDS, age_int[adult], side="right") - 1
    band = np.clip(band, 0, 3)
    probs = np.where(migrant[adult][:, None], _EDU_MIGRANT[band], _EDU_LOCAL[band])
    cdf = np.cumsum(probs, axis=1)
    edu[adult] = (u[adult, 0][:, None] >= cdf[:, :-1]).sum(axis=1).astype(np.int8)

    # 5. Income: household per-capita, from the head's education, district, hukou.
    head = start_of
    noise = hhm._norm(u[head, 1])
    log_inc = (
        np.asarray(pm.income_by_education.value)[edu[head]]
        + np.asarray(city.district_income_effect.value)[district]
        + np.where(migrant, pm.migrant_income_shift.value, 0.0)
        + pm.income_sigma.value * noise
    )
    raw = np.exp(log_inc)
    income = raw * (city.mean_income.value / raw.mean())
    order = np.lexsort((rid, income))
    decile = np.empty(n, dtype=np.int8)
    decile[order] = (np.arange(n) * 10 // n + 1).astype(np.int8)
    tick("attributes", 0.6)

    # 6. Cars: a household car with probability rising with income decile; the head
    # drives it, the spouse sometimes too. Calibrated to cars per resident.
    head_age = age[head]
    eligible_h = (head_age >= 22) & (head_age < 76)
    car_logit = -1.1 + 0.22 * decile + np.asarray(city.district_car_effect.value)[district] * 4
    p_car = 1.0 / (1.0 + np.exp(-car_logit))
    target_cars = city.cars_per_resident.value * n
    hh_mask = (rid == head) & eligible_h
    scale = min(1.0, target_cars / max(1e-9, float(p_car[hh_mask].sum())))
    car_h = (u[head, 2] < p_car * scale) & eligible_h
    drives = car_h & (
        (role == hhm.HEAD)
        | ((role == hhm.SPOUSE) & (u[:, 3] < pm.spouse_drives.value) & (age >= 18))
    )

    # 7. Years in the city.
    years_in_city = np.where(
        migrant,
        np.minimum(-np.log1p(-u[:, 4]) * pm.migrant_years_mean.value, np.maximum(age - 16, age * 0.5)),
        age,
    ).astype(np.float32)

    # 8. Latent propensities (truth).
    hs = pm.propensity_household_share.value
    z = np.sqrt(hs) * hhm._norm(u[head, 5]) + np.sqrt(1 - hs) * hhm._norm(u[:, 6])
    propensity = np.exp(pm.propensity_sigma.value * z * 1.0 - 0.5 * pm.propensity_sigma.value**2)
    civic = np.exp(pm.civic_sigma.value * hhm._norm(u[:, 7]) - 0.5 * pm.civic_sigma.value**2)

    # 9. Names.
    sur_draw = names.draw_surnames(u[:, 8])
    head_male = male[head]
    has_spouse = np.r_[role[1:] == hhm.SPOUSE, False][head]  # member after head is spouse
    father_present = head_male | has_spouse
    inherits = ((role == hhm.CHILD) & father_present) | (
        (role == hhm.PARENT) & male & head_male
    )
    # Father is the head when the head is male, else the spouse.
    father_idx = np.where(head_male, head, head + 1)
    surname = np.where(inherits, sur_draw[np.where(role == hhm.PARENT, head, father_idx)],
                       sur_draw).astype(np.int16)
    g1, g2 = names.draw_given(u[:, 9], u[:, 10], u[:, 11], male, years)
    sur_s, given_s, name_s = names.build_strings(surname, g1, g2)
    tick("names", 0.75)

    # 10. Parents of children living with them.
    is_child = role == hhm.CHILD
    father_id = np.where(is_child & father_present, father_idx, -1)
    mother_idx = np.where(head_male, head + 1, head)
    mother_present = (~head_male) | has_spouse
    mother_id = np.where(is_child & mother_present, mother_idx, -1)

    # 11. ID numbers: region of registration, birth date, sequence, check digit.
    ocodes = np.asarray(city.origin_codes.value, dtype=np.int64)
    ow = np.asarray(city.origin_weights.value, dtype=np.float64)
    ocdf = np.cumsum(ow / ow.sum())
    ocdf[-1] = 1.0
    origin = ocodes[np.searchsorted(ocdf, u[head, 2 + 9] * 0.999999 % 1.0, side="right")]
    region = np.where(migrant, origin, np.asarray(city.district_codes.value)[district])
    ids = _id_bodies(region, yyyymmdd, male)
    tick("ids", 0.9)

    df = pl.DataFrame({
        "resident_id": pl.Series(rid, dtype=pl.Int32),
        "household_id": pl.Series(hh_id, dtype=pl.Int32),
        "relation": pl.Series(np.array(cat.RELATIONS)[role]).cast(cat.RelationT),
        "father_id": pl.Series(father_id, dtype=pl.Int32),
        "mother_id": pl.Series(mother_id, dtype=pl.Int32),
        "district": pl.Series(np.array(cat.DISTRICTS)[district]).cast(cat.DistrictT),
        "sex": pl.Series(np.where(male, "M", "F")).cast(cat.SexT),
        "birth_date": pl.Series(birth_days, dtype=pl.Int32).cast(pl.Date),
        "hukou": pl.Series(np.where(migrant, "migrant", "local")).cast(cat.HukouT),
        "years_in_city": pl.Series(years_in_city, dtype=pl.Float32),
        "education": pl.Series(np.array(cat.EDUCATION)[edu]).cast(cat.EducationT),
        "income": pl.Series(income.astype(np.float32)),
        "income_decile": pl.Series(decile, dtype=pl.Int8),
        "drives_car": pl.Series(drives, dtype=pl.Boolean),
        "surname": sur_s,
        "given_name": given_s,
        "name": name_s,
        "id_number": idnumber.format_ids(ids),
        "truth_propensity": pl.Series(propensity.astype(np.float32)),
        "truth_civic": pl.Series(civic.astype(np.float32)),
    })
    df = df.with_columns(
        pl.when(pl.col("father_id") >= 0).then(pl.col("father_id")).alias("father_id"),
        pl.when(pl.col("mother_id") >= 0).then(pl.col("mother_id")).alias("mother_id"),
    )
    tick("done", 1.0)
    return df


def _id_bodies(region: np.ndarray, yyyymmdd: np.ndarray, male: np.ndarray) -> np.ndarray:
    """17-digit bodies with sequence numbers unique per (region, birth date)."""
    key = (region.astype(np.int64) * 10**8 + yyyymmdd) * 2 + (~male).astype(np.int64)
    order = np.argsort(key, kind="stable")
    ks = key[order]
    new = np.r_[True, ks[1:] != ks[:-1]]
    grp_start = np.maximum.accumulate(np.where(new, np.arange(len(ks)), 0))
    rank = np.empty(len(ks), dtype=np.int64)
    rank[order] = np.arange(len(ks)) - grp_start
    if len(rank) and rank.max() >= 500:
        raise ConfigError(
            "more than 500 residents of one sex share a birth date and region code; "
            "GB 11643 sequence numbers would overflow"
        )
    seq = np.where(male, 2 * rank + 1, 2 * rank + 2)
    return idnumber.body17(region, yyyymmdd, seq)
