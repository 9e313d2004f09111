"""Shared fixtures: small synthetic cities built once per session."""

from __future__ import annotations

import datetime as dt
import os

import polars as pl
import pytest

from creditsim.behaviour import generate_events
from creditsim.cities import BEIJING
from creditsim.population.synth import synthesize
from creditsim.records import build_records

START = dt.date(2021, 1, 1)


@pytest.fixture(scope="session", autouse=True)
def _verification_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Digests of verified runs go to a temporary cache, not the user's."""
    os.environ.setdefault("CREDITSIM_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def city_200k() -> pl.DataFrame:
    """About 1:110 Beijing — large enough for tolerance tests on shares."""
    return synthesize(BEIJING, 200_000, 7, START)


@pytest.fixture(scope="session")
def small_run() -> dict:
    """Residents, events and records of a 60k-resident city over a year."""
    r = synthesize(BEIJING, 60_000, 11, START)
    ev = generate_events(r, seed=11, days=365, start_date=START)
    recs = build_records(ev, r, seed=11, days=365, start_year=2021)
    return {"residents": r, "events": ev, "records": recs}
