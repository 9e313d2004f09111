"""The truth-side labels of a run: wrongful sanctions and their causes (issue 16).

Run-level checks of a two-year run of 40,000 residents (the baseline's beijing
case: it has repayments after listing) and unit checks of the label functions.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from creditsim.config import make_config
from creditsim.pipeline import run as run_pipeline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def beijing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("labels") / "b40"
    run_pipeline(make_config(residents=40_000, days=730, seed=1, policy="beijing"), out)
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
