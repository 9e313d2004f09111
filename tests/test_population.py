"""The synthetic city against the cited figures, and its internal consistency."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from creditsim import idnumber
from creditsim.cities import BEIJING
from creditsim.population.synth import district_targets, synthesize

START = dt.date(2021, 1, 1)

AGE = ((pl.lit(START) - pl.col("birth_date")).dt.total_days() / 365.2425)


def test_district_shares_match_census(city_200k: pl.DataFrame) -> None:
    pop = np.array(BEIJING.district_population.value, dtype=float)
    cited = pop / pop.sum()
    got = (city_200k["district"].value_counts().sort("district")["count"].to_numpy()
           / city_200k.height)
    # Largest-remainder allocation: off by less than one resident per district.
    assert np.all(np.abs(got - cited) * city_200k.height < 1.0 + 1e-9)


@pytest.mark.parametrize("n", [1, 17, 1000, 218_931])
def test_district_targets_sum(n: int) -> None:
    t = district_targets(BEIJING, n)
    assert t.sum() == n and (t >= 0).all()


def test_age_sex_hukou_close_to_census(city_200k: pl.DataFrame) -> None:
    s = city_200k.select(
        (AGE < 15).mean().alias("0-14"),
        ((AGE >= 15) & (AGE < 60)).mean().alias("15-59"),
        (AGE >= 60).mean().alias("60+"),
        (pl.col("sex") == "M").mean().alias("male"),
        (pl.col("hukou") == "migrant").mean().alias("migrant"),
    ).row(0, named=True)
    for band, target in BEIJING.age_shares.value.items():
        assert abs(s[band] - target) < 0.015, (band, s[band], target)
    assert abs(s["male"] - BEIJING.male_share.value) < 0.01
    assert abs(s["migrant"] - 0.385) < 0.02


def test_household_sizes(city_200k: pl.DataFrame) -> None:
    sizes = city_200k.group_by("household_id").len()["len"]
    assert abs(sizes.mean() - BEIJING.mean_household_size.value) < 0.1
    assert sizes.max() <= 6
    assert (sizes == 1).mean() > 0.2  # many one-person households, as the census shows


def test_education_close_to_census(city_200k: pl.DataFrame) -> None:
    shares = city_200k["education"].value_counts(normalize=True)
    got = dict(zip(shares["education"].to_list(), shares["proportion"].to_list(), strict=True))
    for level, target in BEIJING.education_shares.value.items():
        assert abs(got[level] - target) < 0.03, (level, got[level], target)


def test_income_deciles_equal_sized(city_200k: pl.DataFrame) -> None:
    c = city_200k["income_decile"].value_counts()["count"].to_numpy()
    assert len(c) == 10 and c.max() - c.min() <= 12  # whole households per decile
    mean = city_200k["income"].mean()
    assert abs(mean - BEIJING.mean_income.value) / BEIJING.mean_income.value < 0.01
    # A household shares one income decile.
    assert city_200k.group_by("household_id").agg(pl.col("income_decile").n_unique())[
        "income_decile"].max() == 1


def test_ids_valid_unique_and_consistent(city_200k: pl.DataFrame) -> None:
    r = city_200k
    assert idnumber.is_valid(r["id_number"]).all()
    assert r["id_number"].n_unique() == r.height
    chk = r.select(
        (pl.col("id_number").str.slice(6, 8) == pl.col("birth_date").dt.strftime("%Y%m%d"))
        .all().alias("birth"),
        ((pl.col("id_number").str.slice(16, 1).cast(pl.Int32) % 2 == 1) == (pl.col("sex") == "M"))
        .all().alias("sex"),
    ).row(0)
    assert all(chk)
    codes = dict(zip(BEIJING.districts.value, BEIJING.district_codes.value, strict=True))
    loc = r.filter(pl.col("hukou") == "local")
    expect = loc["district"].cast(pl.String).replace_strict(
        {k: str(v) for k, v in codes.items()})
    assert (loc["id_number"].str.slice(0, 6) == expect).all()
    mig = r.filter(pl.col("hukou") == "migrant")
    assert not mig["id_number"].str.starts_with("11").any()


def test_children_linked_to_parents(city_200k: pl.DataFrame) -> None:
    r = city_200k.with_columns(AGE.alias("age"))
    kids = r.filter(pl.col("relation") == "child")
    assert kids.height > 0
    assert kids.select(pl.col("father_id").is_not_null() | pl.col("mother_id").is_not_null()).to_series().all()
    par = r.select(pl.col("resident_id").alias("pid"), pl.col("household_id").alias("phh"),
                   pl.col("sex").alias("psex"), pl.col("age").alias("page"),
                   pl.col("surname").alias("psur"))
    f = kids.join(par, left_on="father_id", right_on="pid")
    assert (f["phh"] == f["household_id"]).all() and (f["psex"] == "M").all()
    assert (f["page"] - f["age"] >= 14).all()
    assert (f["psur"] == f["surname"]).all()  # children carry the father's surname
    m = kids.join(par, left_on="mother_id", right_on="pid")
    assert (m["psex"] == "F").all() and (m["page"] - m["age"] >= 14).all()
    # Non-children have no parent links.
    assert r.filter(pl.col("relation") != "child")["father_id"].null_count() == \
        r.filter(pl.col("relation") != "child").height


def test_same_name_collisions_realistic(city_200k: pl.DataFrame) -> None:
    counts = city_200k["name"].value_counts()
    top_share = counts["count"].max() / city_200k.height
    # 张伟 ≈ 290,607 of ~1.3 bn (0.022%) in the MPS 2007 count; northern cities
    # have more 王/李/张, so allow up to four times that.
    assert 0.0001 < top_share < 0.0009
    shared = city_200k.select((pl.len().over("name") > 1).mean()).item()
    assert 0.25 < shared < 0.75  # many share a full name in a city of 200k
    top5 = city_200k["surname"].value_counts(sort=True)["count"][:5].sum() / city_200k.height
    assert 0.25 < top5 < 0.36  # top five surnames ≈ 30.8% (sources#surnames-2020)


def test_names_are_chinese_characters(city_200k: pl.DataFrame) -> None:
    assert city_200k["name"].str.contains(r"^[\p{Han}]{2,4}$").all()
    assert (city_200k["name"] == city_200k["surname"] + city_200k["given_name"]).all()


def test_deterministic_and_seed_sensitive() -> None:
    a = synthesize(BEIJING, 20_000, 5, START)
    b = synthesize(BEIJING, 20_000, 5, START)
    c = synthesize(BEIJING, 20_000, 6, START)
    assert a.equals(b)
    assert not a.equals(c)


def test_start_date_shifts_birth_dates_only() -> None:
    a = synthesize(BEIJING, 5_000, 5, START)
    b = synthesize(BEIJING, 5_000, 5, dt.date(2022, 1, 1))
    assert a["household_id"].equals(b["household_id"])
    shift = (b["birth_date"] - a["birth_date"]).dt.total_days()
    assert (shift == 365).all()


def test_truth_columns_named(city_200k: pl.DataFrame) -> None:
    assert {"truth_propensity", "truth_civic"} <= set(city_200k.columns)
