"""The shipped city profiles: they load, cite their sources, round-trip through TOML,
and run."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_sources import check_source
from typer.testing import CliRunner

from creditsim.cities import (
    BEIJING,
    CITIES,
    CityProfile,
    city_from_text,
    city_names,
    dump_city,
    load_city,
)
from creditsim.cli import app
from creditsim.config import make_config
from creditsim.params import Cited
from creditsim.policy import preset_text
from creditsim.rundir import read_manifest, sha256_file

runner = CliRunner()


def test_beijing_is_shipped_with_its_own_policy_and_linkage_model() -> None:
    assert "beijing" in city_names() and "rongcheng" in city_names()
    assert BEIJING.total_population == 21_893_095 and len(BEIJING.districts.value) == 16
    assert (BEIJING.default_policy, BEIJING.linkage_model) == ("beijing", "beijing")
    assert load_city("rongcheng").default_policy == "rongcheng"
    assert dict(CITIES)["beijing"] == BEIJING and len(CITIES) == len(city_names())


@pytest.mark.parametrize("name", city_names())
def test_every_figure_cites_an_entry_or_is_an_assumption(name: str) -> None:
    city = load_city(name)
    bad = [p for f in dataclasses.fields(city) if isinstance(getattr(city, f.name), Cited)
           for p in check_source(f"{name}.{f.name}", getattr(city, f.name).source)]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", city_names())
def test_a_shipped_profile_dumped_and_read_again_is_equal(name: str) -> None:
    city = load_city(name)
    assert city_from_text(dump_city(city), "x.toml") == city


def test_the_default_policy_and_scale_come_from_the_profile() -> None:
    cfg = make_config(city="rongcheng")
    assert cfg.policy_ref == "rongcheng" and cfg.policy is None
    assert cfg.residents == 710_200 // 100
    assert make_config(city="rongcheng", policy="spc-list").policy_ref == "spc-list"


# --- round trip of any valid profile ---------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
_share = st.floats(0.0, 1.0, allow_nan=False)
_real = st.floats(-5.0, 5.0, allow_nan=False)


@st.composite
def profiles(draw: st.DrawFn) -> CityProfile:
    n = draw(st.integers(1, 6))
    names = draw(st.lists(_text, min_size=n, max_size=n, unique=True))
    prov = draw(st.sampled_from([11, 33, 35, 37, 65]))
    codes = draw(st.lists(st.integers(1, 99), min_size=n, max_size=n, unique=True))
    k = draw(st.integers(1, 5))
    weights = st.one_of(st.integers(1, 10**7), st.floats(1e-3, 1e7))
    age = draw(st.lists(st.integers(1, 1000), min_size=3, max_size=3))
    hh = draw(st.lists(st.integers(1, 1000), min_size=6, max_size=6))

    def cited(v: object) -> Cited:
        return Cited(v, draw(_text.filter(str.strip)))

    return CityProfile(
        name="x", districts=cited(tuple(names)),
        district_names_zh=cited(tuple(draw(st.lists(_text, min_size=n, max_size=n)))),
        district_codes=cited(tuple(prov * 10_000 + 100 + c for c in codes)),
        district_population=cited(tuple(draw(st.lists(st.integers(1, 10**7), min_size=n,
                                                       max_size=n)))),
        migrant_share=cited(tuple(draw(st.lists(_share, min_size=n, max_size=n)))),
        district_income_effect=cited(tuple(draw(st.lists(_real, min_size=n, max_size=n)))),
        district_car_effect=cited(tuple(draw(st.lists(_real, min_size=n, max_size=n)))),
        origin_codes=cited(tuple(p * 10_000 + 102 for p in draw(st.lists(
            st.sampled_from([13, 41, 51, 62]), min_size=k, max_size=k)))),
        origin_weights=cited(tuple(draw(st.lists(weights, min_size=k, max_size=k)))),
        male_share=cited(draw(_share)),
        age_shares=cited(dict(zip(("0-14", "15-59", "60+"), (a / sum(age) for a in age),
                                  strict=True))),
        household_size_shares=cited(tuple(h / sum(hh) for h in hh)),
        mean_household_size=cited(draw(st.floats(1.0, 6.0))),
        education_shares=cited({"tertiary": draw(st.floats(0.0, 0.5)),
                                "primary": draw(st.floats(0.0, 0.5))}),
        mean_income=cited(draw(st.floats(1.0, 1e6))),
        cars_per_resident=cited(draw(_share)),
        start_date=cited(draw(st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1))).isoformat()),
        title=draw(_text), default_policy="spc-list", linkage_model="beijing")


@given(profiles())
def test_any_profile_dumped_and_read_again_is_equal(city: CityProfile) -> None:
    back = city_from_text(dump_city(city, "a header\nof two lines"), "x.toml")
    assert back == city
    for f in dataclasses.fields(city):  # numbers keep their type (ints stay ints)
        v = getattr(city, f.name)
        if isinstance(v, Cited) and isinstance(v.value, tuple):
            assert [type(x) for x in getattr(back, f.name).value] == [type(x) for x in v.value]


# --- runs ---------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", city_names())
def test_every_shipped_city_runs_small(name: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = runner.invoke(app, ["run", "--city", name, "--residents", "2000", "--days", "30",
                              "--burn-in-days", "0", "--quiet", "--out", str(out)])
    assert res.exit_code == 0, res.output
    m = read_manifest(out)
    city = load_city(name)
    assert m["config"]["city"] == name
    assert (out / "city.toml").read_bytes() == city.text
    assert m["files"]["city.toml"]["sha256"] == city.sha256 == sha256_file(out / "city.toml")
    assert json.loads((out / "linkage.json").read_text("utf-8"))["model"] == city.linkage_model
    policy = (out / "policy.toml").read_bytes()
    assert policy == preset_text(city.default_policy).encode("utf-8")


def test_id_numbers_are_unique_when_origins_share_a_district_code() -> None:
    """Hangzhou's migrants from elsewhere in Zhejiang are registered in county codes
    that include Hangzhou's own (330102, 330122): numbering by code keeps IDs unique."""
    from creditsim.population.synth import origin_counties, synthesize

    city = load_city("hangzhou")
    counties = set(origin_counties(list(city.origin_codes.value)).ravel().tolist())
    assert counties & set(city.district_codes.value)  # the case this test is about
    df = synthesize(city, 30_000, 3, dt.date(2021, 1, 1))
    assert df["id_number"].n_unique() == df.height
    assert df["district"].dtype.categories.to_list() == list(city.districts.value)
