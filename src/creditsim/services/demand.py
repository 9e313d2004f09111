"""Demand at points of service (who wants a flight, a school place, a loan, when).

Demand is behaviour: it does not depend on the policy. Two parts:

* **Totals** per (service, day) for the whole city, drawn as Poisson counts from
  streams keyed by (service, day) — identical across policies on the same seed.
* **Individual demand** of the residents the policy can affect (listed, tiered,
  or in a listed person's household): per (resident, service) a Poisson count
  over the horizon and its days, from counter-based uniforms keyed by the
  resident, so a resident's flights are the same whatever policy is compared.

Rates are per eligible resident per year; each is cited or an assumption.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import polars as pl

from creditsim import catalogue as cat
from creditsim.draws import poisson_icdf
from creditsim.params import Cited
from creditsim.rng import keyed_uniforms, stream

A = "assumption"

#: The default cap on one resident's demands of one service over a run.
_MAX_PER_RESIDENT: Cited[int] = Cited(
    4096, A + ": demands of one service drawn per resident over a run at most (far above "
    "any default rate over any horizon: it bounds the draw, and numbers each demand's "
    "day stream as resident x cap + demand)", unit="demands", bounds=(1, None))


@dataclass(frozen=True)
class ServiceDemand:
    """Who demands a service and how often."""

    service: str
    rate: Cited[float]  # per eligible resident per year
    eligible: str = "adult"  # adult | all | school_entry | adult_working
    decile_slope: float = 0.0  # log-rate change per income decile
    season_day: int | None = None  # day of year demand falls on (school admissions)
    decile_slope_source: str = A + ": demand rises with income (log-rate per decile)"
    max_per_resident: Cited[int] = _MAX_PER_RESIDENT

    #: Plain-number parameters and the field holding their source (creditsim.paramspace).
    PARAM_SOURCES: ClassVar[dict[str, str]] = {"decile_slope": "decile_slope_source"}


DEFAULT_DEMAND: tuple[ServiceDemand, ...] = (
    ServiceDemand("flight", Cited(0.9, "660 M air trips in 2019 (sources#aviation-2019) = 0.47 "
                  "per person-year nationally; assumption: Beijing adults fly about twice as "
                  "often"), decile_slope=0.25),
    ServiceDemand("g_train", Cited(1.1, "2.53 bn rail trips in 2021 (sources#railway-2021) = 1.8 "
                  "per person-year; assumption: 60% on G-trains (sources#gap-hsr-share)"),
                  decile_slope=0.1),
    ServiceDemand("emu_first_class", Cited(0.05, A + ": a few per cent of EMU trips"),
                  decile_slope=0.3),
    ServiceDemand("soft_sleeper", Cited(0.05, A), decile_slope=0.1),
    ServiceDemand("star_hotel", Cited(0.6, A + ": business and holiday stays"), decile_slope=0.3),
    ServiceDemand("private_school", Cited(0.12, A + ": share of children entering primary or "
                  "junior secondary school who apply to a high-fee private school (Beijing "
                  "share NOT FOUND, sources#gap-private-schools)"), eligible="school_entry",
                  decile_slope=0.3, season_day=243),
    ServiceDemand("public_school", Cited(1.0, "assumption: every child entering primary (age 6) or "
                  "junior secondary (age 12) school applies once"), eligible="school_entry",
                  season_day=243),
    ServiceDemand("hospital", Cited(8.8, "192.7 M hospital visits in Beijing in 2020 over "
                  "21.9 M residents (sources#beijing-hospitals-2020)"), eligible="all"),
    ServiceDemand("loan", Cited(0.15, A + ": new loan or card applications per adult-year"),
                  decile_slope=0.05),
    ServiceDemand("public_post", Cited(0.02, A + ": public-sector job applications"),
                  eligible="adult_working"),
    ServiceDemand("executive_post", Cited(0.01, A), eligible="adult_working", decile_slope=0.3),
    ServiceDemand("business_licence", Cited(0.01, A), eligible="adult_working"),
    ServiceDemand("exit_permit", Cited(0.05, A + ": passports and travel permits"),
                  decile_slope=0.3),
    ServiceDemand("real_estate", Cited(0.01, A), decile_slope=0.3),
    ServiceDemand("transit_fare", Cited(12.0, A + ": one monthly fare settlement per resident "
                  "aged 6+ (fares discounted as in sources#fuzhou-transit)"), eligible="all"),
    ServiceDemand("bike_deposit", Cited(0.3, A), eligible="adult"),
    ServiceDemand("library_deposit", Cited(0.2, A), eligible="all"),
    ServiceDemand("parking", Cited(2.0, A + ": pay-later parking sessions"), eligible="adult"),
    ServiceDemand("heating_bill", Cited(1.0, A + ": one heating bill a year per household "
                  "head"), eligible="adult"),
    ServiceDemand("insurance", Cited(0.05, A), decile_slope=0.3),
    ServiceDemand("travel", Cited(0.3, A + ": package tours and holidays"), decile_slope=0.3),
    ServiceDemand("rental_deposit", Cited(0.5, A), eligible="adult"),
    ServiceDemand("vehicle_purchase", Cited(0.02, A), decile_slope=0.2),
    ServiceDemand("office_rental", Cited(0.005, A), eligible="adult_working"),
    ServiceDemand("car_plate_lottery", Cited(0.1, A), eligible="adult"),
)

def _rates(d: ServiceDemand, age: np.ndarray, decile: np.ndarray) -> np.ndarray:
    elig = {
        "adult": age >= 18,
        "all": np.ones(len(age), dtype=bool),
        "adult_working": (age >= 18) & (age < 60),
        "school_entry": ((age >= 5) & (age < 6)) | ((age >= 11) & (age < 12)),
    }[d.eligible]
    lam = np.full(len(age), d.rate.value)
    if d.decile_slope:
        lam = lam * np.exp(d.decile_slope * (decile - 5.5))
    return np.where(elig, lam, 0.0)


def _ages(residents: pl.DataFrame, start_date: dt.date) -> np.ndarray:
    return residents.select(
        ((pl.lit(start_date) - pl.col("birth_date")).dt.total_days() / 365.2425).alias("a")
    )["a"].to_numpy()


def demand_totals(residents: pl.DataFrame, *, seed: int, days: int, start_date: dt.date,
                  model: tuple[ServiceDemand, ...] = DEFAULT_DEMAND) -> pl.DataFrame:
    """City-wide demand per (day, service): columns day, service, demands."""
    # Rates depend on age class and income decile only: count residents per
    # (age in years, decile) once, then sum each service's rate over that table.
    age = np.floor(_ages(residents, start_date)).astype(np.int64).clip(0, 120)
    decile = residents["income_decile"].to_numpy().astype(np.int64)
    tab = np.bincount(age * 11 + decile, minlength=121 * 11).reshape(121, 11)
    a_grid, d_grid = np.meshgrid(np.arange(121) + 0.5, np.arange(11), indexing="ij")
    rows_day, rows_svc, rows_n = [], [], []
    for d in model:
        svc_i = cat.SERVICES.index(d.service)
        total = float((_rates(d, a_grid.ravel(), d_grid.ravel().astype(np.float64))
                       * tab.ravel()).sum())
        if d.season_day is not None:
            # all of a year's demand falls on the admission day(s) within the horizon
            sdays = _season_days(d.season_day, days, start_date)
            lam = np.zeros(days)
            lam[sdays] = total
        else:
            lam = np.full(days, total / 365.0)
        counts = stream(seed, f"services.total.{d.service}").poisson(lam)
        rows_day.append(np.arange(days))
        rows_svc.append(np.full(days, svc_i))
        rows_n.append(counts)
    return pl.DataFrame({
        "day": pl.Series(np.concatenate(rows_day), dtype=pl.Int16),
        "service": cat.enum_from_codes(np.concatenate(rows_svc), cat.ServiceT),
        "demands": pl.Series(np.concatenate(rows_n), dtype=pl.UInt32),
    })


def _season_days(day_of_year: int, days: int, start_date: dt.date) -> np.ndarray:
    out = []
    for y in range(start_date.year, start_date.year + days // 365 + 2):
        d = (dt.date(y, 1, 1) + dt.timedelta(days=day_of_year) - start_date).days
        if 0 <= d < days:
            out.append(d)
    return np.array(out, dtype=np.int64)


def individual_demand(residents: pl.DataFrame, who: np.ndarray, *, seed: int, days: int,
                      start_date: dt.date, services: set[str] | None = None,
                      model: tuple[ServiceDemand, ...] = DEFAULT_DEMAND) -> pl.DataFrame:
    """Demand events (resident_id, day, service) of residents ``who`` (ids).

    A resident's demand for a service depends only on (seed, service, resident):
    the same flights are demanded whichever policy is compared.
    """
    who = np.unique(np.asarray(who, dtype=np.int64))
    sub = residents[who]
    age = _ages(sub, start_date)
    decile = sub["income_decile"].to_numpy().astype(np.float64)
    parts = []
    for d in model:
        if services is not None and d.service not in services:
            continue
        lam = _rates(d, age, decile)
        if d.season_day is not None:
            sdays = _season_days(d.season_day, days, start_date)
            u = keyed_uniforms(seed, f"services.{d.service}", who, 1)[:, 0]
            applies = u < np.minimum(lam, 1.0)
            rid = np.repeat(who[applies], len(sdays))
            day = np.tile(sdays, int(applies.sum()))
        else:
            u = keyed_uniforms(seed, f"services.{d.service}", who, 1)[:, 0].astype(np.float64)
            cap = d.max_per_resident.value
            cnt = np.minimum(poisson_icdf(u, lam * days / 365.0), cap)
            rid = np.repeat(who, cnt)
            j = np.arange(len(rid)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            du = keyed_uniforms(seed, f"services.{d.service}.day",
                                rid * cap + j, 1)[:, 0]
            day = np.floor(du.astype(np.float64) * days).astype(np.int64)
        parts.append(pl.DataFrame({
            "resident_id": pl.Series(rid, dtype=pl.Int32),
            "day": pl.Series(day, dtype=pl.Int16),
            "service": cat.enum_from_codes(np.full(len(rid), cat.SERVICES.index(d.service)),
                                           cat.ServiceT),
        }))
    if not parts:
        return pl.DataFrame(schema={"resident_id": pl.Int32, "day": pl.Int16,
                                    "service": cat.ServiceT})
    return pl.concat(parts).sort("resident_id", "day", "service")
