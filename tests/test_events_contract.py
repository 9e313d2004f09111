"""events.parquet as DESIGN.md §5 describes it, with feedback on and off, and the
run summary's linkage figures against the audit's (issue 16 item 5)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from creditsim.api import open_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(baseline_run: Callable[[str], tuple[Path, str]]
         ) -> dict[str, tuple[Path, str]]:
    """Two years of 40,000 residents with feedback on and off: the baseline's beijing
    cases, shared with the baseline test (tests/conftest.py)."""
    return {"on": baseline_run("beijing"), "off": baseline_run("beijing-no-feedback")}


def _sorted(df: pl.DataFrame) -> bool:
    key = df.select("resident_id", "day", pl.col("kind").to_physical())
    return key.equals(key.sort("resident_id", "day", "kind", maintain_order=True))


def test_without_feedback_events_are_dense_and_sorted(runs: dict) -> None:
    ev = pl.read_parquet(runs["off"][0] / "events.parquet")
    assert ev["event_id"].to_list() == list(range(ev.height))
    assert _sorted(ev)


def test_with_feedback_events_come_in_three_sorted_parts(runs: dict) -> None:
    """The behaviour stage's events that happened (their candidate ids: those of the
    run without feedback), the extra volunteering, the loop's repayments; each part
    in (resident_id, day, kind) order but the repayments, in their cases' order."""
    off = pl.read_parquet(runs["off"][0] / "events.parquet")
    ev = pl.read_parquet(runs["on"][0] / "events.parquet")
    ids = ev["event_id"]
    assert ids.n_unique() == ev.height and ids.is_sorted()
    base = ev.filter(ids < off.height)
    extra = ev.filter((ids >= off.height) & (pl.col("kind") == "volunteer_hours"))
    repaid = ev.filter((ids >= off.height) & (pl.col("kind") != "volunteer_hours"))
    assert base.height + extra.height + repaid.height == ev.height
    assert base.height < off.height and extra.height > 0 and repaid.height > 0
    assert base.equals(off.join(base.select("event_id"), on="event_id", how="semi"))
    assert _sorted(base) and _sorted(extra)
    assert (repaid["kind"] == "judgment_performed").all()
    assert repaid["ref_event_id"].null_count() == 0
    # the parts follow each other
    assert extra["event_id"].min() > base["event_id"].max()
    assert repaid["event_id"].min() > extra["event_id"].max()


@pytest.mark.parametrize("name", ["on", "off"])
def test_run_prints_the_audits_linkage_figures(runs: dict, name: str) -> None:
    """One definition of linkage precision and recall: the run summary prints the
    audit's (over the records that happened), whatever linkage.json says."""
    path, output = runs[name]
    h = open_run(path).audit().headline
    m = re.search(r"precision (\d\.\d{4}) · recall (\d\.\d{4})", " ".join(output.split()))
    assert m, output
    assert (m.group(1), m.group(2)) == (f"{h['link_precision']:.4f}",
                                        f"{h['link_recall']:.4f}")
