"""City-wide demand totals (services.demand): consistent with the individual demand the
decisions act on, and the rest of the city's demand at the rates of its residents."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from budget import examples
from creditsim import catalogue as cat
from creditsim import pipeline
from creditsim.cities import BEIJING
from creditsim.config import make_config
from creditsim.population.synth import synthesize
from creditsim.services import (
    DEFAULT_DEMAND,
    DemandSpec,
    DrawnDemand,
    demand_totals,
    individual_demand,
    resident_cells,
)
from creditsim.services.demand import _ages, _cell_rate, _rates

START = dt.date(2021, 1, 1)
SERVICES = [d.service for d in DEFAULT_DEMAND]


@pytest.fixture(scope="module")
def city() -> pl.DataFrame:
    return synthesize(BEIJING, 3000, 5, START)


def _totals(city: pl.DataFrame, who: np.ndarray, services: frozenset[str], spec: DemandSpec
            ) -> tuple[pl.DataFrame, pl.DataFrame]:
    dem = individual_demand(city, who, seed=spec.seed, days=spec.days,
                            start_date=spec.start_date, services=set(services))
    drawn = DrawnDemand.of(city, who, dem, services=services, start_date=spec.start_date)
    return demand_totals(resident_cells(city, spec.start_date), drawn, spec), dem


@settings(max_examples=examples(30))
@given(seed=st.integers(0, 2**31 - 1), days=st.integers(1, 800),
       share=st.floats(0.0, 1.0), picked=st.sets(st.sampled_from(SERVICES), max_size=6),
       offset=st.integers(0, 3000))
def test_totals_hold_every_individual_demand(city: pl.DataFrame, seed: int, days: int,
                                             share: float, picked: set[str],
                                             offset: int) -> None:
    """Every (day, service) total counts at least the individual demand drawn for it
    (the decisions act on those), and the services drawn in aggregate alone do not
    depend on whose demand was drawn individually."""
    spec = DemandSpec(seed=seed, days=days, start_date=START + dt.timedelta(days=offset))
    rng = np.random.default_rng(seed)
    who = np.flatnonzero(rng.random(city.height) < share)
    services = frozenset(picked)
    tot, dem = _totals(city, who, services, spec)
    assert tot.height == days * len(DEFAULT_DEMAND)
    counts = dem.group_by("day", "service").len()
    j = counts.join(tot, on=["day", "service"], how="left")
    assert j["demands"].null_count() == 0
    assert (j["demands"].cast(pl.Int64) >= j["len"].cast(pl.Int64)).all()
    alone = demand_totals(resident_cells(city, spec.start_date), DrawnDemand.none(), spec)
    rest = ~pl.col("service").cast(pl.String).is_in(list(services))
    assert tot.filter(rest).equals(alone.filter(rest))


def test_cell_rates_match_the_residents_rates(city: pl.DataFrame) -> None:
    """The rates summed over (age, decile) cells equal the sum of each resident's own
    rate (the slow obvious reference), for a subset and for everyone."""
    for who in (np.arange(city.height), np.arange(0, city.height, 7)):
        sub = city[who]
        age = _ages(sub, START)
        decile = sub["income_decile"].to_numpy().astype(np.float64)
        cells = resident_cells(sub, START)
        assert int(cells["residents"].sum()) == len(who)
        for d in DEFAULT_DEMAND:
            lam = _rates(d, np.floor(age) + 0.5, decile)
            if d.season_day is not None:
                lam = np.minimum(lam, 1.0)
            assert _cell_rate(d, cells) == pytest.approx(float(lam.sum()), rel=1e-9), d.service


def test_aggregate_demand_has_the_city_rate(city: pl.DataFrame) -> None:
    """Over ten years the aggregate draw of each daily service is within five standard
    deviations of its Poisson expectation, and residents drawn individually are not
    counted twice: their expected demand moves from the aggregate to the drawn part."""
    spec = DemandSpec(seed=3, days=3650, start_date=START)
    who = np.arange(0, city.height, 2)
    tot, dem = _totals(city, who, frozenset({"flight", "hospital"}), spec)
    for svc in ("flight", "hospital", "g_train"):
        d = next(x for x in DEFAULT_DEMAND if x.service == svc)
        expect = _cell_rate(d, resident_cells(city, START)) * spec.days / 365.0
        got = int(tot.filter(pl.col("service") == svc)["demands"].sum())
        assert abs(got - expect) < 5 * np.sqrt(expect), svc
        if svc != "g_train":
            mine = dem.filter(pl.col("service") == svc).height
            share = _cell_rate(d, resident_cells(city[who], START)) / (expect * 365.0
                                                                       / spec.days)
            assert abs(mine - share * expect) < 5 * np.sqrt(expect), svc


def test_run_never_decides_more_than_its_demand(tmp_path: Path) -> None:
    """On every (day, service) of a run the demand table counts at least the decisions
    on it and ``allowed`` is the rest (six simulated years of spc-list: the rare
    services' decisions fall on days whose independently drawn totals were 0)."""
    out = tmp_path / "run"
    pipeline.run(make_config(residents=5000, days=2190, burn_in_days=0, seed=4,
                             policy="spc-list"), out)
    dem = pl.read_parquet(out / "demand.parquet")
    dec = pl.read_parquet(out / "decisions.parquet")
    assert dec.height > 0
    per = dec.group_by("day", "service").agg(
        *[(pl.col("decision") == k).sum().alias(f"n_{k}")
          for k in ("denied", "expedited", "discounted")])
    j = per.join(dem, on=["day", "service"], how="left")
    assert j["demands"].null_count() == 0
    for k in ("denied", "expedited", "discounted"):
        assert (j[f"n_{k}"] == j[k]).all(), k
    assert (dem["allowed"].cast(pl.Int64) + dem["denied"] + dem["expedited"]
            + dem["discounted"] == dem["demands"].cast(pl.Int64)).all()
    assert set(dem["service"].cast(pl.String)) == set(cat.SERVICES)
