"""The peer-comparison model, shared by its two implementations.

One behaviour (a minor traffic violation), points with expiry, a threshold list and
one service check per resident per day:

* resident *i* has a daily rate ``λ_i = base_rate · exp(σ·z_i − σ²/2)``, ``z_i ~ N(0, 1)``
  (log-normal with mean ``base_rate``); each day they commit ``Poisson(λ_i)`` violations;
* each violation deducts ``points`` from ``baseline``, counting on days
  ``t ≤ d < t + expiry_days`` (``t`` = the day of the violation); the score is clamped
  to ``[score_min, score_max]``;
* a resident whose score on day *d* is below ``threshold`` is on the list on day *d*
  (and leaves it when expiring deductions bring the score back up);
* each day each resident wants to buy a flight with probability ``demand_prob``; the
  purchase is denied when they are on the list that day.

Within a day: violations of the day count first, then the list is decided, then the
flight check. Both implementations return a :class:`PeerResult` of per-resident
totals, which :func:`aggregates` and :func:`agreement` summarise and compare.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True)
class PeerParams:
    """Parameters of the minimal model. Every value is an assumption chosen so that
    listing and expiry both matter within a 30-day run; none is a published figure."""

    #: Mean violations per resident per day (≈ 7 a year: a heavy driver population,
    #: so that the list is not empty in 30 days).
    base_rate: float = 0.02
    #: σ of the log-normal spread of personal rates around ``base_rate``.
    rate_sigma: float = 1.0
    baseline: int = 1000
    score_min: int = 0
    score_max: int = 1000
    #: Points per violation (negative: a deduction).
    points: int = -5
    #: Days a deduction counts (365 in a year-long run; 14 so that expiry matters in 30 days).
    expiry_days: int = 14
    #: Listed while the score is below this: 990 means three or more live deductions.
    threshold: int = 990
    #: Daily probability that a resident wants to buy a flight.
    demand_prob: float = 0.01

    def __post_init__(self) -> None:
        if not (self.base_rate > 0 and self.rate_sigma >= 0 and 0 < self.demand_prob < 1):
            raise ValueError("need base_rate > 0, rate_sigma >= 0, 0 < demand_prob < 1")
        if self.expiry_days < 1 or self.points == 0:
            raise ValueError("need expiry_days >= 1 and points != 0")
        if not self.score_min <= self.baseline <= self.score_max:
            raise ValueError("baseline must lie within [score_min, score_max]")

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass
class PeerResult:
    """Per-resident totals of one run (arrays indexed by resident), plus timings."""

    days: int
    events: np.ndarray  # violations over the run
    demands: np.ndarray  # flight purchases wanted
    denials: np.ndarray  # of which denied
    listed_days: np.ndarray  # days on the list
    ever_listed: np.ndarray  # bool
    listed_per_day: np.ndarray  # residents on the list, per day (length ``days``)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def residents(self) -> int:
        return len(self.events)


@dataclass(frozen=True)
class Estimate:
    """A mean and its standard error."""

    value: float
    se: float


def _mean(x: np.ndarray, scale: float = 1.0) -> Estimate:
    x = np.asarray(x, dtype=np.float64) / scale
    n = len(x)
    return Estimate(float(x.mean()), float(x.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf)


def _ratio(num: np.ndarray, den: np.ndarray) -> Estimate:
    """Ratio of totals with a resident-clustered (delta-method) standard error."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    d = den.sum()
    if d == 0:
        return Estimate(math.nan, math.inf)
    r = num.sum() / d
    return Estimate(float(r), float(math.sqrt(((num - r * den) ** 2).sum()) / d))


#: The aggregates compared, in report order, with a one-line meaning.
METRICS: dict[str, str] = {
    "events_per_resident_day": "violations per resident-day",
    "share_no_events": "share of residents with no violation (rate spread)",
    "share_ever_listed": "share of residents ever listed",
    "listed_share_of_days": "share of resident-days on the list",
    "demands_per_resident_day": "flight purchases wanted per resident-day",
    "denial_rate": "denied per flight purchase wanted",
}


def aggregates(r: PeerResult) -> dict[str, Estimate]:
    """The compared aggregates of one run, each with its standard error."""
    return {
        "events_per_resident_day": _mean(r.events, r.days),
        "share_no_events": _mean(r.events == 0),
        "share_ever_listed": _mean(r.ever_listed),
        "listed_share_of_days": _mean(r.listed_days, r.days),
        "demands_per_resident_day": _mean(r.demands, r.days),
        "denial_rate": _ratio(r.denials, r.demands),
    }


def agreement(
    a: dict[str, Estimate], b: dict[str, Estimate], z_tol: float = 4.0
) -> dict[str, dict[str, float | bool]]:
    """Two-sample z score of each aggregate; agree when ``|z| ≤ z_tol``.

    With six aggregates and independent runs, ``z_tol = 4`` flags a false
    disagreement about once in 2,600 comparisons.
    """
    out: dict[str, dict[str, float | bool]] = {}
    for k in METRICS:
        ea, eb = a[k], b[k]
        se = math.hypot(ea.se, eb.se)
        diff = eb.value - ea.value
        z = 0.0 if diff == 0 else (diff / se if se > 0 else math.inf)
        out[k] = {"a": ea.value, "a_se": ea.se, "b": eb.value, "b_se": eb.se,
                  "z": z, "agree": bool(abs(z) <= z_tol)}
    return out


def check_consistent(r: PeerResult) -> None:
    """Internal identities every run must satisfy (raises ``AssertionError``)."""
    assert r.listed_per_day.shape == (r.days,)
    assert int(r.listed_per_day.sum()) == int(r.listed_days.sum())
    assert np.all(r.denials <= r.demands)
    assert np.array_equal(r.ever_listed, r.listed_days > 0)
    assert np.all(r.listed_days <= r.days) and np.all(r.demands <= r.days)
