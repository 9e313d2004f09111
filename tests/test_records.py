"""Departmental databases: schemas, fault rates, the truth beside every record."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from creditsim import idnumber
from creditsim.catalogue import DEPARTMENTS
from creditsim.params import Cited
from creditsim.records import (
    COMMON_SCHEMA,
    DEFAULT_DEPARTMENTS,
    FAULT_BITS,
    TRUTH_SCHEMA,
    build_records,
)
from creditsim.records.departments import DUPLICATE, ID_MISSING, ID_MISTYPED, ID_OTHER, NAME_TYPO

START = dt.date(2021, 1, 1)


def test_every_department_has_a_table(small_run: dict) -> None:
    recs = small_run["records"]
    assert set(recs) == set(DEPARTMENTS)
    for dept, df in recs.items():
        assert list(df.columns[: len(COMMON_SCHEMA)]) == list(COMMON_SCHEMA)
        assert list(df.columns[-3:]) == list(TRUTH_SCHEMA)
        for c, t in {**COMMON_SCHEMA, **TRUTH_SCHEMA}.items():
            assert df.schema[c] == t, (dept, c)
        assert (df["department"] == dept).all()
    extras = {d: set(df.columns) - set(COMMON_SCHEMA) - set(TRUTH_SCHEMA)
              for d, df in recs.items()}
    assert "case_number" in extras["court"] and "plate_number" in extras["traffic"]
    assert all(extras[d] for d in DEPARTMENTS)  # each department has its own columns


def test_record_ids_unique_dense_and_uninformative(small_run: dict) -> None:
    allr = pl.concat([df.select("record_id", "day_recorded", "truth_resident_id")
                      for df in small_run["records"].values()])
    ids = np.sort(allr["record_id"].to_numpy())
    assert np.array_equal(ids, np.arange(len(ids)))
    # Within a department, ids follow day_recorded and say nothing about who.
    for df in small_run["records"].values():
        assert df["day_recorded"].is_sorted()
        if df.height > 2000:
            same_day = df.filter(pl.col("day_recorded") == df["day_recorded"].mode()[0])
            if same_day.height > 200:
                rho = np.corrcoef(same_day["record_id"].to_numpy(),
                                  same_day["truth_resident_id"].to_numpy())[0, 1]
                assert abs(rho) < 0.2


def test_truth_links_back_to_events(small_run: dict) -> None:
    ev = small_run["events"]
    for df in small_run["records"].values():
        j = df.join(ev.select("event_id", "resident_id", "kind", "day"),
                    left_on="truth_event_id", right_on="event_id", how="left")
        assert j["resident_id"].null_count() == 0
        assert (j["resident_id"] == j["truth_resident_id"]).all()
        assert (j["kind"] == j["kind_right"]).all()
        assert (j["day"] == j["day_event"]).all()
        assert (j["day_recorded"] >= j["day_event"]).all()
        assert j["day_recorded"].max() < 365


def _rate(df: pl.DataFrame, bit: int) -> float:
    return float(((df["truth_faults"].to_numpy() & bit) > 0).mean())


def _within(got: float, p: float, n: int) -> bool:
    return abs(got - p) <= 5 * math.sqrt(max(p * (1 - p), 1e-9) / n) + 2 / n


@pytest.fixture(scope="module")
def faulty() -> dict:
    """Records with high fault rates so that rates can be checked tightly."""
    from creditsim.behaviour import generate_events
    from creditsim.cities import BEIJING
    from creditsim.population.synth import synthesize

    r = synthesize(BEIJING, 40_000, 3, START)
    ev = generate_events(r, seed=3, days=365, start_date=START)
    rates = {"p_name_typo": 0.2, "p_id_missing": 0.1, "p_id_other": 0.1, "p_id_mistyped": 0.1,
             "p_duplicate": 0.1, "p_birth_wrong": 0.15}
    depts = tuple(dataclasses.replace(d, **{k: Cited(v, "test") for k, v in rates.items()})
                  for d in DEFAULT_DEPARTMENTS)
    recs = build_records(ev, r, seed=3, days=3650, start_year=2021, departments=depts)
    return {"residents": r, "events": ev, "records": recs, "rates": rates}


def test_fault_rates_match_configuration(faulty: dict) -> None:
    rates = faulty["rates"]
    for dept, df in faulty["records"].items():
        if df.height < 500:
            continue
        originals = df.filter((pl.col("truth_faults") & DUPLICATE) == 0)
        n = originals.height
        for bit, key in ((NAME_TYPO, "p_name_typo"), (ID_MISSING, "p_id_missing"),
                         (ID_OTHER, "p_id_other"), (ID_MISTYPED, "p_id_mistyped")):
            assert _within(_rate(originals, bit), rates[key], n), (dept, key)
        dup_share = df.height / n - 1
        assert _within(dup_share, rates["p_duplicate"], n), dept


def test_faults_do_what_they_say(faulty: dict) -> None:
    r = faulty["residents"]
    reg = r.select("resident_id", pl.col("name").alias("true_name"),
                   pl.col("id_number").alias("true_id"), pl.col("household_id").alias("hh"),
                   pl.col("birth_date").alias("true_birth"))
    allr = pl.concat([df.select(*COMMON_SCHEMA, *TRUTH_SCHEMA)
                      for df in faulty["records"].values()])
    j = allr.join(reg, left_on="truth_resident_id", right_on="resident_id")
    f = j["truth_faults"].to_numpy()
    clean_id = (f & (ID_MISSING | ID_OTHER | ID_MISTYPED)) == 0
    assert (j.filter(pl.Series(clean_id))["id_number"] ==
            j.filter(pl.Series(clean_id))["true_id"]).all()
    miss = j.filter(pl.Series((f & ID_MISSING) > 0))
    assert miss["id_number"].null_count() == miss.height
    other = j.filter(pl.Series((f & ID_OTHER) > 0))
    assert idnumber.is_valid(other["id_number"]).all()  # another person's VALID id
    assert (other["id_number"] != other["true_id"]).all()
    holder = other.join(reg.select(pl.col("true_id").alias("id_number"),
                                   pl.col("hh").alias("holder_hh")), on="id_number")
    assert holder.height == other.height  # the id belongs to a real resident
    assert (holder["holder_hh"] == holder["hh"]).mean() > 0.5  # mostly a relative
    mt = j.filter(pl.Series((f & ID_MISTYPED) > 0))
    assert (mt["id_number"] != mt["true_id"]).all()
    assert (~idnumber.is_valid(mt["id_number"])).mean() > 0.9  # most fail the check digit
    typo = j.filter(pl.Series((f & NAME_TYPO) > 0))
    assert (typo["name"] != typo["true_name"]).all()
    clean_name = j.filter(pl.Series((f & NAME_TYPO) == 0))
    assert (clean_name["name"] == clean_name["true_name"]).all()
    bw = j.filter(pl.Series(((f & FAULT_BITS["birth_wrong"]) > 0) & clean_id))
    assert (bw["birth_date"] != bw["true_birth"]).all()


def test_records_chunk_invariant(small_run: dict) -> None:
    from creditsim.behaviour import generate_events

    ev = generate_events(small_run["residents"], seed=11, days=365, start_date=START,
                         chunk_residents=1 << 16)
    again = build_records(ev, small_run["residents"], seed=11, days=365, start_year=2021)
    for d, df in small_run["records"].items():
        assert df.equals(again[d]), d


def test_court_case_numbers(small_run: dict) -> None:
    court = small_run["records"]["court"]
    cn = court["case_number"]
    assert cn.null_count() == 0
    assert cn.str.contains(r"^\(2021\)京01\d\d(执|民初)\d+号$").all()
    # One case number per enforcement case: grounds share their case's number.
    per_case = court.filter(pl.col("kind") != "lawsuit_lost").group_by("case_number").agg(
        pl.col("truth_resident_id").n_unique())
    assert per_case["truth_resident_id"].max() == 1


def test_thinning_events_leaves_other_records_unchanged(small_run: dict) -> None:
    """Common random numbers: dropping some events (behavioural feedback) changes
    nothing about the records of the remaining events except their record ids."""
    ev = small_run["events"]
    kept = ev.filter(pl.col("event_id") % 5 != 0)
    recs = build_records(kept, small_run["residents"], seed=11, days=365, start_year=2021)
    cols = [c for c in COMMON_SCHEMA if c != "record_id"] + list(TRUTH_SCHEMA)
    for d, df in small_run["records"].items():
        full = df.filter(pl.col("truth_event_id") % 5 != 0).select(cols)
        assert full.equals(recs[d].select(cols)), d
