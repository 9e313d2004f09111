"""Intervals, tests and survival curves against hand-computed values and the libraries."""

from __future__ import annotations

import math

import numpy as np
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from creditsim.audit.groups import rate_rows
from creditsim.audit.stats import (
    FOUR_FIFTHS,
    Thresholds,
    band_p,
    four_fifths,
    holm,
    kaplan_meier,
    katz_se,
    risk_ratio,
    wilson,
)


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


# --- against the libraries (statsmodels, scipy, lifelines: test extra) ---------------


def test_wilson_matches_statsmodels() -> None:
    from statsmodels.stats.proportion import proportion_confint

    rng = np.random.default_rng(7)
    n = rng.integers(1, 5000, size=300)
    k = np.minimum(n, rng.integers(0, 60, size=300))
    lo, hi = wilson(k, n)
    slo, shi = proportion_confint(k, n, alpha=0.05, method="wilson")
    np.testing.assert_allclose(lo, slo, atol=1e-12)
    np.testing.assert_allclose(hi, shi, atol=1e-12)


def test_katz_matches_scipy_relative_risk() -> None:
    from scipy.stats.contingency import relative_risk

    rng = np.random.default_rng(8)
    for _ in range(50):
        n1, n2 = (int(x) for x in rng.integers(50, 20_000, size=2))
        a, c = int(rng.integers(1, n1 // 5 + 2)), int(rng.integers(1, n2 // 5 + 2))
        r, lo, hi = risk_ratio(np.array([a]), np.array([n1]), float(c), float(n2))
        ref = relative_risk(a, n1, c, n2)
        ci = ref.confidence_interval(0.95)
        assert math.isclose(r[0], ref.relative_risk, rel_tol=1e-12)
        assert math.isclose(lo[0], ci.low, rel_tol=1e-6)
        assert math.isclose(hi[0], ci.high, rel_tol=1e-6)


def test_holm_matches_statsmodels() -> None:
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(9)
    for m in (1, 2, 5, 16, 40):
        p = rng.random(m) ** 3
        p[rng.random(m) < 0.2] = np.nan  # not tested: left out of the family
        ok = ~np.isnan(p)
        got = holm(p)
        assert np.all(np.isnan(got[~ok]))
        if ok.any():
            np.testing.assert_allclose(got[ok], multipletests(p[ok], method="holm")[1],
                                       atol=1e-12)


def test_kaplan_meier_matches_lifelines() -> None:
    from lifelines import KaplanMeierFitter
    from lifelines.utils import restricted_mean_survival_time

    rng = np.random.default_rng(10)
    d = rng.integers(1, 400, size=500).astype(float)
    ended = rng.random(500) < 0.6
    entry = np.where(rng.random(500) < 0.3, np.floor(d * rng.random(500)), 0.0)
    s = kaplan_meier(d, ended, entry)
    km = KaplanMeierFitter().fit(d, ended, entry=entry)
    np.testing.assert_allclose(km.survival_function_.loc[s.times].to_numpy()[:, 0], s.surv,
                               atol=1e-12)
    assert s.median() == km.median_survival_time_
    assert math.isclose(s.restricted_mean(365), restricted_mean_survival_time(km, t=365),
                        rel_tol=1e-9)


def test_kaplan_meier_by_hand() -> None:
    # exits at 2, 4 (two), censored at 3 and 6; one spell enters at 3 (left-truncated)
    d = np.array([2.0, 4, 4, 3, 6, 5])
    ended = np.array([True, True, True, False, False, True])
    entry = np.array([0.0, 0, 0, 0, 0, 3])
    s = kaplan_meier(d, ended, entry)
    # t=2: 5 at risk (the late entrant not yet), 1 exit -> 4/5
    # t=4: at risk = spells with entry < 4 <= duration: 4, 4, 6, 5 -> 2 exits -> 1/2
    # t=5: at risk 6 and 5 -> 1 exit -> 1/2
    np.testing.assert_allclose(s.times, [2, 4, 5])
    np.testing.assert_allclose(s.surv, [0.8, 0.4, 0.2])
    assert s.median() == 4.0
    assert math.isclose(s.restricted_mean(6), 2 * 1 + 2 * 0.8 + 1 * 0.4 + 1 * 0.2)
    # censoring ignored would say every spell ended: the mean of durations understates
    assert s.restricted_mean(10) > d.mean()


# --- the tests against the band and the multiple-comparison control --------------------


@settings(max_examples=examples(300), deadline=None)
@given(a=st.integers(1, 400), n1=st.integers(400, 5000), c=st.integers(1, 400),
       n2=st.integers(400, 5000))
def test_band_p_agrees_with_the_interval(a: int, n1: int, c: int, n2: int) -> None:
    """p < 0.05 exactly when the 95% Katz interval lies wholly outside [0.8, 1.25]."""
    r, lo, hi = risk_ratio(np.array([a]), np.array([n1]), float(c), float(n2))
    se = katz_se(np.array([a]), np.array([n1]), float(c), float(n2))
    p = band_p(r, se, FOUR_FIFTHS)[0]
    outside = hi[0] < FOUR_FIFTHS[0] or lo[0] > FOUR_FIFTHS[1]
    if abs(p - 0.05) > 1e-9:
        assert (p < 0.05) == outside
    p1 = band_p(r, se, (1.0, 1.0))[0]
    if abs(p1 - 0.05) > 1e-9:
        assert (p1 < 0.05) == (lo[0] > 1 or hi[0] < 1)


def _family_error_rate(true_ratio: float, groups: int, field: str, draws: int = 400) -> float:
    """Share of simulated groupings (``groups`` groups of 20,000 at the reference rate
    × ``true_ratio``, a reference of 60,000 at 2%) with at least one ``field`` true."""
    rng = np.random.default_rng(11)
    n = np.array([60_000.0] + [20_000.0] * groups)
    p = np.array([0.02] + [0.02 * true_ratio] * groups)
    keys = [f"g{i}" for i in range(groups + 1)]
    hits = 0
    for _ in range(draws):
        k = rng.binomial(n.astype(np.int64), p).astype(np.float64)
        rows = rate_rows(keys, {"m": k}, {"m": n}, "g0", Thresholds(), n)
        hits += any(r["m"][field] for r in rows[1:])
    return hits / draws


def test_holm_controls_the_family_error_rate() -> None:
    # Under the null (ratio 1, and ratio 0.8 at the edge of the band) with 20 groups,
    # unadjusted tests would flag some group in ~64% (ratio 1) and ~40% (edge) of the
    # groupings; Holm keeps it at or below alpha (binomial noise of 400 draws: +0.03).
    assert _family_error_rate(1.0, 20, "differs_from_1") <= 0.05 + 0.03
    assert _family_error_rate(0.8, 20, "four_fifths_flag") <= 0.05 + 0.03
    assert _family_error_rate(1.0, 20, "four_fifths_flag") == 0.0
    # and it still finds a real disparity: ratio 0.5 in every group
    assert _family_error_rate(0.5, 20, "four_fifths_flag", draws=50) == 1.0


def test_unadjusted_tests_would_not_control_it() -> None:
    """The control comes from the adjustment: the raw p-values flag far more often."""
    rng = np.random.default_rng(12)
    n = np.array([60_000.0] + [20_000.0] * 20)
    keys = [f"g{i}" for i in range(21)]
    hits = 0
    for _ in range(200):
        k = rng.binomial(n.astype(np.int64), 0.02).astype(np.float64)
        rows = rate_rows(keys, {"m": k}, {"m": n}, "g0", Thresholds(), n)
        hits += any(r["m"]["ci_excludes_1"] for r in rows[1:])
    assert hits / 200 > 0.3


def test_terminal_shows_flags_with_their_intervals() -> None:
    from creditsim.audit.render import ratio_cell

    residents = np.array([20_000.0, 20_000.0, 300.0])
    # a big, clear disparity; and a small group whose point ratio is outside the band
    # but whose interval is wide
    k = np.array([400.0, 100.0, 3.0])
    rows = rate_rows(["ref", "low", "small"], {"m": k}, {"m": residents}, "ref",
                     Thresholds(100, 1), residents)
    low, small = rows[1]["m"], rows[2]["m"]
    assert low["four_fifths_flag"] is True and low["differs_from_1"] is True
    assert small["outside_four_fifths"] is True and small["four_fifths_flag"] is False
    cell = ratio_cell(low)
    lo, hi = low["ratio_ci95"]
    assert "⚑" in cell and f"{lo:.2f}–{hi:.2f}" in cell
    assert "⚑" not in ratio_cell(small)
