"""The sweep's statistics against slow, obvious references (numpy, scipy)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from creditsim.sweep.summary import arm_summary, differences, job_metrics


def _values(table: dict[str, list[float | None]]) -> pl.DataFrame:
    rows = []
    for ai, (arm, vals) in enumerate(table.items()):
        for r, v in enumerate(vals):
            rows.append({"job": f"{arm}/{r:04d}", "arm_index": ai, "arm": arm, "point": None,
                         "replicate": r, "metric": "m", "value": v})
    return pl.DataFrame(rows, schema={"job": pl.String, "arm_index": pl.Int32,
                                      "arm": pl.String, "point": pl.Int32,
                                      "replicate": pl.Int32, "metric": pl.String,
                                      "value": pl.Float64})


finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=60)
@given(st.lists(finite, min_size=2, max_size=30))
def test_arm_summary_matches_numpy(xs: list[float]) -> None:
    s = arm_summary(_values({"a": xs})).row(0, named=True)
    x = np.array(xs)
    assert s["n"] == len(xs)
    assert math.isclose(s["mean"], x.mean(), rel_tol=1e-9, abs_tol=1e-6)
    assert math.isclose(s["median"], np.median(x), rel_tol=1e-9, abs_tol=1e-6)
    assert math.isclose(s["p10"], np.quantile(x, 0.1), rel_tol=1e-9, abs_tol=1e-6)
    assert math.isclose(s["p90"], np.quantile(x, 0.9), rel_tol=1e-9, abs_tol=1e-6)
    sd = x.std(ddof=1)
    assert math.isclose(s["sd"], sd, rel_tol=1e-6, abs_tol=1e-6)
    assert math.isclose(s["mcse"], sd / math.sqrt(len(xs)), rel_tol=1e-6, abs_tol=1e-6)


@settings(max_examples=60)
@given(st.lists(st.tuples(finite, finite), min_size=2, max_size=30))
def test_paired_difference_matches_scipy(pairs: list[tuple[float, float]]) -> None:
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    d = differences(_values({"a": a, "b": b})).row(0, named=True)
    diff = np.array(b) - np.array(a)
    assert (d["a"], d["b"], d["n"]) == ("a", "b", len(pairs))
    assert math.isclose(d["mean"], diff.mean(), rel_tol=1e-9, abs_tol=1e-6)
    if diff.std() > 1e-6:
        lo, hi = stats.ttest_1samp(diff, 0.0).confidence_interval(0.95)
        assert math.isclose(d["ci95_lo"], lo, rel_tol=1e-6, abs_tol=1e-6)
        assert math.isclose(d["ci95_hi"], hi, rel_tol=1e-6, abs_tol=1e-6)


def test_differences_are_paired_by_replicate() -> None:
    # large arm-level spread, constant paired difference: a paired interval is tight
    a = [0.0, 100.0, 200.0, 300.0]
    b = [1.0, 101.0, 201.0, 301.0]
    d = differences(_values({"a": a, "b": b})).row(0, named=True)
    assert d["mean"] == 1.0 and d["ci95_lo"] == d["ci95_hi"] == 1.0


def test_missing_values_are_left_out_pairwise() -> None:
    v = _values({"a": [1.0, None, 3.0], "b": [2.0, 5.0, None]})
    d = differences(v).row(0, named=True)
    assert d["n"] == 1 and d["mean"] == 1.0 and d["ci95_lo"] is None
    s = arm_summary(v)
    assert s["n"].to_list() == [2, 2]


def test_job_metrics_read_headline_keys_generically() -> None:
    audit = {"headline": {"residents": 10, "policy": "beijing", "sanction_rate": 0.1,
                          "a_new_figure": 4, "nested": {"x": 1, "y": None, "z": "text"},
                          "flag": True, "decisions": None},
             "groups": {"hukou": {"rows": [
                 {"group": "local", "residents": 6, "status": "ok",
                  "sanctioned": {"rate": 0.5, "ratio": 1.0, "count": 3},
                  "wrongly_sanctioned": {"rate": 0.0, "ratio": None, "count": 0}}]}}}
    m = job_metrics(audit)
    assert m == {"residents": 10.0, "sanction_rate": 0.1, "a_new_figure": 4.0,
                 "nested.x": 1.0, "nested.y": None, "decisions": None,
                 "groups.hukou.local.sanctioned.rate": 0.5,
                 "groups.hukou.local.sanctioned.ratio": 1.0,
                 "groups.hukou.local.wrongly_sanctioned.rate": 0.0,
                 "groups.hukou.local.wrongly_sanctioned.ratio": None}
