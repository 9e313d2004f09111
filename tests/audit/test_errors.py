"""Both error types (missed sanctions, false positives) on a small dirty run: against a
slow obvious reference, the platform's own labels, and Fairlearn's MetricFrame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from creditsim.audit import RunData, audit_run
from creditsim.audit.missed import truth_spells
from creditsim.audit.sanctions import load_sanctions, sanctioning_lists
from creditsim.config import make_config
from creditsim.pipeline import run as run_pipeline

#: Many lawsuits and dirty court, tax and market records: enough errors of both types
#: among 5,000 residents.
DIRTY = {"behaviour.lawsuit_lost.base": 0.05, "records.court.p_id_missing": 0.3,
         "records.court.p_id_other": 0.1, "records.court.p_name_typo": 0.3,
         "records.court.p_id_mistyped": 0.2, "records.tax.p_id_other": 0.2,
         "records.tax.p_id_missing": 0.3, "records.market.p_id_other": 0.2,
         "records.market.p_id_missing": 0.3}


@pytest.fixture(scope="module")
def dirty_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("errors") / "dirty"
    # a one-year burn-in: spells begun before day 0 exercise the window and truncation
    run_pipeline(make_config(residents=5000, days=365, seed=4, burn_in_days=365,
                             overrides=DIRTY), out)
    return out


@pytest.fixture(scope="module")
def dirty_audit(dirty_run: Path) -> dict[str, Any]:
    return audit_run(RunData(dirty_run), by=["hukou", "district", "sex"],
                     reference=["district=Chaoyang"])


def slow_confusion(run: Path, truth: pl.DataFrame, kind_lists: list[str], days: int
                   ) -> dict[str, Any]:
    """Sets of residents, one at a time: who should be listed (truth world), who the
    platform listed, who was missed and why (each missed spell's record looked up)."""
    sp = pl.read_parquet(run / "list_spells.parquet")
    listed = set()
    for r in sp.iter_rows(named=True):
        if str(r["list"]) in kind_lists and r["start_day"] < days and (
                r["end_day"] is None or r["end_day"] > 0):
            listed.add(r["resident_id"])
    should = {r["resident_id"] for r in truth.iter_rows(named=True)}
    links = {r["record_id"]: r["resident_id"]
             for r in pl.read_parquet(run / "links.parquet").iter_rows(named=True)}
    causes: dict[str, set[int]] = {"unlinked": set(), "linked_to_other": set(), "other": set()}
    for r in truth.iter_rows(named=True):
        if r["resident_id"] in listed:
            continue
        to = links.get(r["record_id"])
        c = "unlinked" if to is None else "other" if to == r["resident_id"] else \
            "linked_to_other"
        causes[c].add(r["resident_id"])
    return {"should": should, "listed": listed, "missed": should - listed,
            "false_positive": listed - should, "causes": causes}


def test_missed_sanctions_match_a_slow_reference(dirty_run: Path,
                                                 dirty_audit: dict[str, Any]) -> None:
    run = RunData(dirty_run)
    ms = dirty_audit["missed_sanctions"]
    assert ms["status"] == "ok"
    truth = truth_spells(run, sanctioning_lists(run))
    ref = slow_confusion(dirty_run, truth, ms["lists"], run.days)
    assert ms["should_be_listed"] == len(ref["should"])
    assert ms["listed"] == len(ref["listed"])
    assert ms["missed"] == len(ref["missed"]) > 0
    assert ms["false_positive"] == len(ref["false_positive"]) > 0
    assert ms["missed_by_cause"] == {c: len(v) for c, v in ref["causes"].items()}
    # the group rows add up to the totals
    rows = dirty_audit["groups"]["hukou"]["rows"]
    assert sum(r["missed_sanction"]["count"] for r in rows) == ms["missed"]
    assert sum(r["false_negative_rate"]["denominator"] for r in rows) == ms["should_be_listed"]
    assert sum(r["false_discovery_rate"]["denominator"] for r in rows) == ms["listed"]


def test_truth_world_agrees_with_the_platform_labels(dirty_run: Path,
                                                     dirty_audit: dict[str, Any]) -> None:
    """An independent path (services/evaluate.py labels each spell): a false positive
    has only spells on records about someone else, and a resident with a spell on a
    record of their own (wrongful or not for lateness) is one the truth world lists."""
    run = RunData(dirty_run)
    s = load_sanctions(run)
    sp = s.spells.filter(pl.col("sanction"))
    truth = truth_spells(run, sanctioning_lists(run))
    should = set(truth["resident_id"].to_list())
    wrong_subject = pl.col("wrongful_cause").is_in(["linkage_error", "data_error"])
    own = set(sp.filter(~wrong_subject.fill_null(False))["resident_id"].to_list())
    only_wrong = set(sp["resident_id"].to_list()) - own
    fp = set(sp["resident_id"].to_list()) - should
    assert fp <= only_wrong and fp
    assert own <= should
    assert dirty_audit["missed_sanctions"]["false_positive"] == len(fp)


@pytest.mark.slow  # imports Fairlearn (pandas, scikit-learn)
@pytest.mark.parametrize("col", ["hukou", "district"])
def test_error_rates_match_fairlearn(dirty_run: Path, dirty_audit: dict[str, Any],
                                     col: str) -> None:
    from fairlearn.metrics import MetricFrame, false_negative_rate, false_positive_rate

    run = RunData(dirty_run)
    ms = dirty_audit["missed_sanctions"]
    truth = truth_spells(run, sanctioning_lists(run))
    ref = slow_confusion(dirty_run, truth, ms["lists"], run.days)
    reg = pl.read_parquet(dirty_run / "residents.parquet").sort("resident_id")
    ids = reg["resident_id"].to_numpy()
    y_true = np.isin(ids, sorted(ref["should"])).astype(int)
    y_pred = np.isin(ids, sorted(ref["listed"])).astype(int)

    def fdr(t: np.ndarray, p: np.ndarray) -> float:
        return float(((p == 1) & (t == 0)).sum() / max((p == 1).sum(), 1))

    def fomr(t: np.ndarray, p: np.ndarray) -> float:
        return float(((p == 0) & (t == 1)).sum() / max((p == 0).sum(), 1))

    mf = MetricFrame(metrics={"fpr": false_positive_rate, "fnr": false_negative_rate,
                              "fdr": fdr, "for": fomr}, y_true=y_true, y_pred=y_pred,
                     sensitive_features=reg[col].cast(pl.String).to_numpy())
    rows = {r["group"]: r for r in dirty_audit["groups"][col]["rows"]}
    refg = dirty_audit["groups"][col]["reference"]
    if col == "district":
        assert refg == "Chaoyang"
    names = {"fpr": "false_positive_rate", "fnr": "false_negative_rate",
             "fdr": "false_discovery_rate", "for": "false_omission_rate"}
    for g in mf.by_group.index:
        for short, m in names.items():
            v = rows[g][m]
            if v["denominator"]:
                assert v["rate"] == pytest.approx(mf.by_group.loc[g, short], abs=1e-12)
            base = mf.by_group.loc[refg, short]
            if v["ratio"] is not None and base > 0:
                assert v["ratio"] == pytest.approx(mf.by_group.loc[g, short] / base,
                                                   rel=1e-9)


def test_kaplan_meier_in_the_audit(dirty_run: Path, dirty_audit: dict[str, Any]) -> None:
    """The audit's times come from each spell's own start, censored at the window's
    end and left-truncated at day 0: checked against lifelines on the same spells."""
    from lifelines import KaplanMeierFitter

    tl = dirty_audit["time_on_list"]
    sp = load_sanctions(RunData(dirty_run)).spells.filter(pl.col("sanction"))
    days = dirty_audit["run"]["days"]
    assert sp.filter(pl.col("start_day") < 0).height > 0  # begun in the burn-in
    start = sp["start_day"].to_numpy().astype(float)
    end = sp["end_day"].cast(pl.Float64).to_numpy()
    ended = ~np.isnan(end)
    dur = np.where(ended, end, days) - start
    km = KaplanMeierFitter().fit(dur, ended, entry=np.maximum(0, -start))
    k = tl["sanctioning_lists"]["kaplan_meier"]
    assert k["spells"] == sp.height and k["censored"] == int((~ended).sum())
    med = km.median_survival_time_
    assert (k["median"] is None) == (not np.isfinite(med))
    if k["median"] is not None:
        assert k["median"] == med
    assert sum(g["spells"] for g in tl["by_group"]["hukou"]) == sp.height
