"""Rates, intervals and comparisons used by every audit table (vectorised, numpy).

* **Rate interval**: the Wilson score interval at 95% (z = 1.959964). Unlike the
  normal (Wald) interval it stays inside [0, 1] and behaves at 0 and n events,
  which matters for rare sanctions in small groups.
* **Ratio to the reference group**: the risk ratio ``rate_g / rate_ref`` with the
  Katz log interval ``exp(ln RR ± z·sqrt(1/a − 1/n_g + 1/c − 1/n_ref))`` (defined
  when both counts are positive).
* **Four-fifths flag**: a ratio outside [0.8, 1.25] (the US EEOC "four-fifths" rule
  of thumb, applied in both directions).
* **Insufficient data**: a comparison gets no four-fifths flag, and the state
  ``"insufficient_data"``, when the group or the reference has fewer than
  ``min_residents`` residents, the reference has fewer than ``min_events`` events, or
  neither the group's observed count nor its expected count at the reference rate
  reaches ``min_events``. A group with fewer than ``min_residents`` residents has the
  group status ``"insufficient_data"``; its rates and intervals are still given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054
FOUR_FIFTHS = (0.8, 1.25)


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
    """True if the ratio is outside [0.8, 1.25]; None if there is no ratio."""
    if ratio is None or ratio != ratio:
        return None
    return bool(ratio < FOUR_FIFTHS[0] or ratio > FOUR_FIFTHS[1])


def num(x: float) -> float | None:
    """A JSON-safe float: NaN and infinities become None."""
    x = float(x)
    return None if x != x or x in (float("inf"), float("-inf")) else x
