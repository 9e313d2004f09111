"""Demand at points of service (who wants a flight, a school place, a loan, when).

Demand is behaviour: a resident's demand does not depend on the policy. Two parts:

* **Individual demand** of the residents the policy can affect (listed, tiered,
  or in a listed person's household), for the services its consequences touch:
  per (resident, service) a Poisson count over the horizon and its days, from
  counter-based uniforms keyed by the resident, so a resident's flights are the
  same whatever policy is compared. The platform's decisions act on these.
* **Totals** per (service, day) for the whole city: the individual demand drawn
  for the decisions, plus the rest of the city's demand (every other resident's,
  and everyone's for the services the policy does not touch) drawn in aggregate
  as one Poisson count per (service, day) with the summed rates of those
  residents. A total therefore never falls below the decisions on its day, and
  its expectation is the whole city's whatever the policy. The aggregate part is
  drawn by inversion from uniforms keyed by (service, day), so two policies that
  affect similar residents draw nearly the same rest-of-city demand.

Rates are per eligible resident per year; each is cited or an assumption.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import polars as pl
from scipy.stats import poisson

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


def resident_cells(residents: pl.DataFrame, start_date: dt.date) -> pl.DataFrame:
    """Residents per (age in whole years at ``start_date``, income decile): the
    table city-wide rates are summed over. Columns age, decile, residents (every
    cell, in age-major order)."""
    # Ages 0..120 (older residents count as 120); decile codes 0..10.
    ages, deciles = 121, 11
    age = np.floor(_ages(residents, start_date)).astype(np.int64).clip(0, ages - 1)
    decile = residents["income_decile"].to_numpy().astype(np.int64)
    n = np.bincount(age * deciles + decile, minlength=ages * deciles)
    a, d = np.divmod(np.arange(ages * deciles), deciles)
    return pl.DataFrame({"age": pl.Series(a, dtype=pl.Int16),
                         "decile": pl.Series(d, dtype=pl.Int8),
                         "residents": pl.Series(n, dtype=pl.Int64)})


@dataclass(frozen=True)
class DrawnDemand:
    """The individual demand the platform's decisions act on (individual_demand):
    whose (their resident_cells), for which services, and how much per (day,
    service)."""

    services: frozenset[str]
    cells: pl.DataFrame  #: resident_cells of the residents drawn individually
    counts: pl.DataFrame  #: day, service, demands of their demand events

    @staticmethod
    def of(residents: pl.DataFrame, who: np.ndarray, events: pl.DataFrame, *,
           services: frozenset[str], start_date: dt.date) -> DrawnDemand:
        """``events`` (individual_demand of residents ``who``, ``services``) counted."""
        who = np.unique(np.asarray(who, dtype=np.int64))
        counts = events.group_by("day", "service").agg(
            pl.len().cast(pl.UInt32).alias("demands"))
        return DrawnDemand(services=services, cells=resident_cells(residents[who], start_date),
                           counts=counts)

    @staticmethod
    def none() -> DrawnDemand:
        """No individual demand: the whole city's is drawn in aggregate."""
        return DrawnDemand(services=frozenset(), cells=pl.DataFrame(
            schema={"age": pl.Int16, "decile": pl.Int8, "residents": pl.Int64}),
            counts=pl.DataFrame(schema={"day": pl.Int16, "service": cat.ServiceT,
                                        "demands": pl.UInt32}))


@dataclass(frozen=True)
class DemandSpec:
    """The run's demand: its seed, horizon and rates."""

    seed: int
    days: int
    start_date: dt.date
    model: tuple[ServiceDemand, ...] = DEFAULT_DEMAND


def _cell_rate(d: ServiceDemand, cells: pl.DataFrame) -> float:
    """Demands per year of ``d`` summed over the residents counted in ``cells``."""
    if cells.height == 0:
        return 0.0
    age = cells["age"].to_numpy().astype(np.float64) + 0.5
    lam = _rates(d, age, cells["decile"].to_numpy().astype(np.float64))
    if d.season_day is not None:  # one application at most per season day
        lam = np.minimum(lam, 1.0)
    return float((lam * cells["residents"].to_numpy()).sum())


def _uniforms(seed: int, service: str, days: int) -> np.ndarray:
    """Uniforms strictly inside (0, 1), one per day, keyed by the service."""
    bits = stream(seed, f"services.total.{service}").integers(0, 1 << 53, size=days)
    return (bits.astype(np.float64) + 0.5) / float(1 << 53)


def demand_totals(cells: pl.DataFrame, drawn: DrawnDemand, spec: DemandSpec) -> pl.DataFrame:
    """City-wide demand per (day, service): columns day, service, demands. ``cells``
    is resident_cells of every resident; ``drawn`` the individual demand the
    decisions act on, counted as drawn. The rest of the city's demand is one
    Poisson count per (service, day), by inversion of a (service, day) uniform."""
    days, start_date = spec.days, spec.start_date
    drawn_n = drawn.counts.with_columns(pl.col("service").to_physical().alias("s"))
    rows_day, rows_svc, rows_n = [], [], []
    for d in spec.model:
        svc_i = cat.SERVICES.index(d.service)
        rest = _cell_rate(d, cells)
        if d.service in drawn.services:
            rest = max(rest - _cell_rate(d, drawn.cells), 0.0)
        if d.season_day is not None:
            # all of a year's demand falls on the admission day(s) within the horizon
            lam = np.zeros(days)
            lam[_season_days(d.season_day, days, start_date)] = rest
        else:
            lam = np.full(days, rest / 365.0)
        counts = poisson.ppf(_uniforms(spec.seed, d.service, days), lam).astype(np.int64)
        mine = drawn_n.filter(pl.col("s") == svc_i)
        np.add.at(counts, mine["day"].to_numpy().astype(np.int64),
                  mine["demands"].to_numpy().astype(np.int64))
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
