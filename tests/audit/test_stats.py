"""Intervals and flags against hand-computed values."""

from __future__ import annotations

import math

import numpy as np

from creditsim.audit.groups import rate_rows
from creditsim.audit.stats import Thresholds, four_fifths, risk_ratio, wilson


def test_wilson_known_values() -> None:
    lo, hi = wilson(np.array([5, 0, 10, 0]), np.array([10, 10, 10, 0]))
    assert math.isclose(lo[0], 0.236593, abs_tol=1e-6)
    assert math.isclose(hi[0], 0.763407, abs_tol=1e-6)
    assert lo[1] == 0.0 and math.isclose(hi[1], 0.277533, abs_tol=1e-6)
    assert hi[2] == 1.0 and math.isclose(lo[2], 0.722467, abs_tol=1e-6)
    assert np.isnan(lo[3]) and np.isnan(hi[3])


def test_katz_ratio_interval() -> None:
    # 20/100 vs 10/100: RR 2, se = sqrt(1/20 - 1/100 + 1/10 - 1/100)
    r, lo, hi = risk_ratio(np.array([20.0]), np.array([100.0]), 10.0, 100.0)
    se = math.sqrt(1 / 20 - 1 / 100 + 1 / 10 - 1 / 100)
    assert math.isclose(r[0], 2.0)
    assert math.isclose(lo[0], math.exp(math.log(2) - 1.959964 * se), rel_tol=1e-6)
    assert math.isclose(hi[0], math.exp(math.log(2) + 1.959964 * se), rel_tol=1e-6)
    r, lo, hi = risk_ratio(np.array([0.0]), np.array([100.0]), 10.0, 100.0)
    assert r[0] == 0.0 and np.isnan(lo[0])


def test_four_fifths_both_directions() -> None:
    assert four_fifths(0.79) is True and four_fifths(1.26) is True
    assert four_fifths(0.8) is False and four_fifths(1.25) is False and four_fifths(1.0) is False
    assert four_fifths(None) is None and four_fifths(float("nan")) is None


def test_insufficient_data_states() -> None:
    keys = ["big", "small", "rare", "zero"]
    residents = np.array([10_000.0, 50.0, 10_000.0, 10_000.0])
    k = np.array([500.0, 5.0, 2.0, 0.0])
    rows = rate_rows(keys, {"m": k}, {"m": residents}, "big", Thresholds(100, 5), residents)
    st = {r["group"]: (r["status"], r["m"]["comparison"], r["m"]["four_fifths_flag"])
          for r in rows}
    assert st["big"] == ("ok", "reference", None)
    assert st["small"] == ("insufficient_data", "insufficient_data", None)
    # 2 observed, 500 expected at the reference rate: enough to say it is lower.
    assert st["rare"] == ("ok", "ok", True)
    assert st["zero"] == ("ok", "ok", True)
    rows = rate_rows(keys, {"m": np.array([3.0, 1.0, 1.0, 0.0])}, {"m": residents}, "big",
                     Thresholds(100, 5), residents)
    assert all(r["m"]["comparison"] in ("reference", "insufficient_data") for r in rows)
