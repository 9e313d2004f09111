"""Rates, intervals, tests and survival curves used by every audit table (vectorised, numpy).

* **Rate interval**: the Wilson score interval at 95% (z = 1.959964). Unlike the
  normal (Wald) interval it stays inside [0, 1] and behaves at 0 and n events,
  which matters for rare sanctions in small groups.
* **Ratio to the reference group**: the risk ratio ``rate_g / rate_ref`` with the
  Katz log interval ``exp(ln RR ± z·sqrt(1/a − 1/n_g + 1/c − 1/n_ref))`` (defined
  when both counts are positive).
* **Four-fifths test**: is the ratio outside [0.8, 1.25] beyond chance? On the log
  scale with the Katz standard error, one-sided p-values against each end of the band,
  two-sided ``p = min(1, 2·min(p_below, p_above))``: ``p < 0.05`` exactly when the 95%
  Katz interval lies wholly below 0.8 or wholly above 1.25. Likewise ``p`` against a
  ratio of 1. Both are adjusted across the groups of one grouping by **Holm's** step-down
  method; a flag needs the adjusted ``p < 0.05``.
* **Insufficient data**: a comparison gets no four-fifths flag, and the state
  ``"insufficient_data"``, when the group or the reference has fewer than
  ``min_residents`` residents, the reference has fewer than ``min_events`` events, or
  neither the group's observed count nor its expected count at the reference rate
  reaches ``min_events``. A group with fewer than ``min_residents`` residents has the
  group status ``"insufficient_data"``; its rates and intervals are still given.
* **Time on a list**: the Kaplan–Meier estimate with right censoring (spells still open
  at the window's end) and left truncation (spells begun before the window enter the
  risk set at the day the window opens), its median and restricted mean.

These are written here rather than taken from statsmodels or lifelines, which compute
the same figures (tests/audit/test_stats.py checks each against them): both import
pandas (about 3 s) for an audit that otherwise takes about 2 s, and these work on the
audit's numpy columns directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054
FOUR_FIFTHS = (0.8, 1.25)
#: The level of every test (after Holm's adjustment) and 1 − the intervals' confidence.
ALPHA = 0.05
#: How p-values are adjusted across the groups of one grouping (per metric).
ADJUSTMENT = "holm"


@dataclass(frozen=True)
class Thresholds:
    """When a group or comparison has too little data to judge."""

    min_residents: int = 100
    min_events: int = 5


def wilson(k: np.ndarray, n: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for k successes in n trials; NaN where n == 0."""
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        z2 = z * z
        den = 1.0 + z2 / n
        centre = (p + z2 / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / den
        lo = np.clip(centre - half, 0.0, 1.0)
        hi = np.clip(centre + half, 0.0, 1.0)
    bad = n <= 0
    lo[bad] = np.nan
    hi[bad] = np.nan
    # exact ends: no events → lower bound 0; all events → upper bound 1
    lo[(k == 0) & ~bad] = 0.0
    hi[(k == n) & ~bad] = 1.0
    return lo, hi


def risk_ratio(a: np.ndarray, n1: np.ndarray, c: float, n2: float, z: float = Z95
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ratio of rates a/n1 to c/n2 and its Katz log interval (NaN where undefined)."""
    a = np.asarray(a, dtype=np.float64)
    n1 = np.asarray(n1, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = a / n1
        r2 = c / n2 if n2 > 0 else np.nan
        ratio = r1 / r2 if (r2 == r2 and r2 > 0) else np.full_like(r1, np.nan)
        se = np.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n2) if c > 0 and n2 > 0 else np.nan
        lo = np.exp(np.log(ratio) - z * se)
        hi = np.exp(np.log(ratio) + z * se)
    ok = (a > 0) & (n1 > 0) & (c > 0) & (n2 > 0)
    lo = np.where(ok, lo, np.nan)
    hi = np.where(ok, hi, np.nan)
    return ratio, lo, hi


def four_fifths(ratio: float | None) -> bool | None:
    """True if the point ratio is outside [0.8, 1.25]; None if there is no ratio."""
    if ratio is None or ratio != ratio:
        return None
    return bool(ratio < FOUR_FIFTHS[0] or ratio > FOUR_FIFTHS[1])


def num(x: float) -> float | None:
    """A JSON-safe float: NaN and infinities become None."""
    x = float(x)
    return None if x != x or x in (float("inf"), float("-inf")) else x


_ERFC = np.frompyfunc(math.erfc, 1, 1)


def _norm_sf(x: np.ndarray) -> np.ndarray:
    """P(Z > x) for a standard normal Z (one value per group: math.erfc suffices)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.full(x.shape, np.nan)
    ok = ~np.isnan(x)
    out[ok] = 0.5 * _ERFC(x[ok] / math.sqrt(2)).astype(np.float64)
    return out


def katz_se(a: np.ndarray, n1: np.ndarray, c: float, n2: float) -> np.ndarray:
    """The Katz standard error of ln(a/n1 ÷ c/n2); NaN where a count is zero."""
    a = np.asarray(a, dtype=np.float64)
    n1 = np.asarray(n1, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n2) if c > 0 and n2 > 0 else \
            np.full_like(a, np.nan)
    return np.where((a > 0) & (n1 > 0), se, np.nan)


def band_p(ratio: np.ndarray, se: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """Two-sided p-value that the ratio lies outside ``band`` = (lo, hi): twice the
    smaller one-sided p against each end on the log scale (capped at 1). For a band
    (1, 1) this is the usual two-sided test of a ratio of 1. NaN where undefined."""
    ratio = np.asarray(ratio, dtype=np.float64)
    se = np.asarray(se, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = np.log(ratio)
        below = _norm_sf((lr - np.log(band[0])) / -se)  # small when far below lo
        above = _norm_sf((lr - np.log(band[1])) / se)  # small when far above hi
    p = np.minimum(1.0, 2 * np.minimum(below, above))
    return np.where(np.isfinite(lr) & (se > 0), p, np.nan)


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of the p-values ``p`` (one family); NaN entries are
    not tests and stay NaN. Sorted ascending, the i-th of m gets
    ``max_{j<=i} min(1, (m − j)·p_(j))`` (0-based j)."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adj
    return out


@dataclass(frozen=True)
class Survival:
    """A Kaplan–Meier curve: ``S(t)`` just after each distinct exit time ``t``."""

    times: np.ndarray  # distinct event times, ascending
    surv: np.ndarray  # S at each time
    n: int  # spells
    events: int  # spells that ended (not censored)

    def median(self) -> float | None:
        """The first time S falls to 0.5 or below; None when it never does."""
        hit = np.flatnonzero(self.surv <= 0.5)
        return float(self.times[hit[0]]) if hit.size else None

    def restricted_mean(self, tau: float) -> float:
        """Area under S from 0 to ``tau`` (S constant after the last event time)."""
        t = np.concatenate([[0.0], self.times[self.times < tau], [tau]])
        s = np.concatenate([[1.0], self.surv[self.times < tau]])
        return float(np.sum(np.diff(t) * s))


def kaplan_meier(duration: np.ndarray, ended: np.ndarray,
                 entry: np.ndarray | None = None) -> Survival:
    """Kaplan–Meier estimate of the time to exit. ``duration``: days from each spell's
    own start to its exit or censoring; ``ended``: False for censored spells;
    ``entry``: days from the start at which the spell came under observation (left
    truncation; 0 = from its start). A spell is at risk at ``t`` when
    ``entry < t <= duration`` (lifelines' convention)."""
    d = np.asarray(duration, dtype=np.float64)
    e = np.asarray(ended, dtype=bool)
    en = np.zeros_like(d) if entry is None else np.asarray(entry, dtype=np.float64)
    times = np.unique(d[e])
    ds = np.sort(d)
    ens = np.sort(en)
    # at risk at t: entered before t (entry < t) and not yet gone (duration >= t)
    at_risk = np.searchsorted(ens, times, side="left") - np.searchsorted(ds, times, side="left")
    died = np.searchsorted(np.sort(d[e]), times, side="right") - \
        np.searchsorted(np.sort(d[e]), times, side="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(at_risk > 0, 1.0 - died / at_risk, 1.0)
    return Survival(times=times, surv=np.cumprod(factor), n=int(d.size), events=int(e.sum()))
