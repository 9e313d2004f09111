"""The truth-side labels of a run: wrongful sanctions and their causes (issue 16).

Run-level checks of a two-year run of 40,000 residents (the baseline's beijing
case, shared with the baseline test: it has repayments after listing) and unit
checks of the label functions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import chinese_calendar
import polars as pl
import pytest

from creditsim.config import make_config
from creditsim.devtools import baseline as bl
from creditsim.pipeline import run as run_pipeline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def beijing(baseline_run: Callable[[str], tuple[Path, str]]) -> Path:
    return baseline_run("beijing")[0]


@pytest.fixture(scope="module")
def faulty_court(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same city with a court that writes another person's valid ID on a third
    of its records: performances filed under the wrong person leave the debtor
    listed (late deletions)."""
    out = tmp_path_factory.mktemp("labels") / "b40-ids"
    case = next(c for c in bl.CASES if c.name == "beijing")
    run_pipeline(make_config(**case.settings(), overrides={"records.court.p_id_other": 0.3}),
                 out)
    return out


def test_every_performance_refers_to_its_case(beijing: Path) -> None:
    """Every judgment_performed event — the behaviour stage's and the loop's
    repayments — names the enforcement case it performs (events contract), of the
    same debtor, on or after the case was opened."""
    ev = pl.read_parquet(beijing / "events.parquet")
    perf = ev.filter(pl.col("kind") == "judgment_performed")
    assert perf.height > 0 and perf["event_id"].max() > ev.filter(
        pl.col("kind") != "judgment_performed")["event_id"].max()  # the loop's repayments
    case = perf.join(ev.select("event_id", pl.col("kind").alias("case_kind"),
                               pl.col("resident_id").alias("case_resident"),
                               pl.col("day").alias("case_day")),
                     left_on="ref_event_id", right_on="event_id", how="left")
    assert case["ref_event_id"].null_count() == 0
    assert (case["case_kind"] == "enforcement_opened").all()
    assert (case["case_resident"] == case["resident_id"]).all()
    assert (case["day"] >= case["case_day"]).all()


def _deadline(known: pl.Series) -> pl.Series:
    """The last day a performed debt's entry may still be listed: the third PRC
    working day after the court's first record of the performance (slow, by date)."""
    start = dt.date(2021, 1, 1)
    out = []
    for k in known.to_list():
        if k is None:
            out.append(None)
            continue
        d, left = start + dt.timedelta(days=k), 3
        while left:
            d += dt.timedelta(days=1)
            left -= chinese_calendar.is_workday(d)
        out.append((d - start).days)
    return pl.Series(out, dtype=pl.Int32)


@pytest.mark.parametrize("name", ["beijing", "faulty_court"])
def test_late_deletion_labels_against_a_reference(name: str,
                                                  request: pytest.FixtureRequest) -> None:
    """Every spell of the dishonest-debtor list that rests on the right person is
    labelled ``expired_entry`` exactly when it was still listed after the deletion
    deadline of its case's performance — found here by the case number the court
    writes on the performance record (the loop's repayments included), not by the
    labels' own path."""
    run: Path = request.getfixturevalue(name)
    ev = pl.read_parquet(run / "events.parquet")
    court = pl.read_parquet(run / "records/court.parquet")
    sp = pl.read_parquet(run / "list_spells.parquet").filter(
        pl.col("list") == "dishonest_debtors",
        ~pl.col("wrongful_cause").cast(pl.String).is_in(["linkage_error", "data_error"])
        .fill_null(False))
    perf = court.filter(pl.col("kind") == "judgment_performed").join(
        ev.select("event_id", pl.col("day").cast(pl.Int32).alias("paid")),
        left_on="truth_event_id", right_on="event_id").group_by("case_number").agg(
        pl.col("paid").min(), pl.col("day_recorded").cast(pl.Int32).min().alias("known"))
    got = sp.join(perf, on="case_number", how="left")
    got = got.with_columns(
        (pl.col("end_day").fill_null(730) - 1 > _deadline(got["known"]))
        .fill_null(False).alias("late"))
    assert got.filter(pl.col("known").is_not_null()).height > 0
    if name == "faulty_court":
        assert got.filter(pl.col("late")).height > 0
    bad = got.filter(pl.col("late") != pl.col("wrongful"))
    assert bad.height == 0, bad.select("resident_id", "start_day", "end_day", "paid", "known",
                                       "wrongful", "late").to_dicts()


@pytest.fixture(scope="module")
def rongcheng(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[pl.DataFrame]]:
    """A Rongcheng run (tier-caused green channels, some undeserved) and the links
    the labeller of tier and score decisions was handed."""
    from creditsim.platform.world import truth

    handed: list[pl.DataFrame] = []
    real = truth.label_state_decisions

    def spy(*args: object) -> pl.DataFrame:
        handed.append(args[-1])  # type: ignore[arg-type]
        return real(*args)  # type: ignore[arg-type]

    out = tmp_path_factory.mktemp("labels") / "r20"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(truth, "label_state_decisions", spy)
        run_pipeline(make_config(residents=20_000, days=365, burn_in_days=0, seed=1,
                                 policy="rongcheng"), out)
    return out, handed


def test_state_decision_causes_come_from_records_that_happened(
        rongcheng: tuple[Path, list[pl.DataFrame]]) -> None:
    """Item 3: the cause of a wrongful tier or score decision is looked for only among
    the links of records that happened (links.parquet), never among those of
    candidate events feedback removed (here: the extra volunteering candidates of
    residents who did not game)."""
    out, handed = rongcheng
    assert handed, "no tier or score decision was labelled"
    final = pl.read_parquet(out / "links.parquet", columns=["record_id"])
    extra = handed[-1].join(final, on="record_id", how="anti")
    assert extra.height == 0, f"{extra.height} links of records that never happened"


def test_wrongful_green_channel_is_in_the_audit(
        rongcheng: tuple[Path, list[pl.DataFrame]]) -> None:
    """Item 4: undeserved green-channel decisions appear in the audit's headline with
    their causes, per service and per group, counted from the decisions table (those
    of the results window, days >= 0: the audit's window)."""
    from creditsim.api import open_run

    out, _ = rongcheng
    dec = pl.read_parquet(out / "decisions.parquet").filter(
        pl.col("decision").is_in(["expedited", "discounted"]), pl.col("wrongful"),
        pl.col("day") >= 0)
    assert dec.height > 0
    a = open_run(out).audit()
    g = a.headline["wrongful_green_channel"]
    assert g["decisions"] == dec.height
    assert g["residents"] == dec["resident_id"].n_unique()
    for c in ("linkage_error", "data_error", "expired_entry"):
        sub = dec.filter(pl.col("wrongful_cause") == c)
        assert g["by_cause"][c] == {"decisions": sub.height,
                                    "residents": sub["resident_id"].n_unique()}
    per_service = a.data["services"]["by_service"]
    assert sum(v.get("wrongful_green_channel", 0) for v in per_service.values()) == dec.height
    rows = a.data["groups"]["hukou"]["rows"]
    assert sum(r["wrongful_green_channel"]["count"] for r in rows) == g["residents"]
