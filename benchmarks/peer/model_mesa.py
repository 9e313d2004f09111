"""Version A of the peer model: Mesa, written the way a Mesa user would write it.

One :class:`Resident` agent per resident with a ``step``; a :class:`PeerModel` that
steps every agent once a day with ``self.agents.do("step")`` and records the number
listed each day with a ``DataCollector``. Random draws use the model's generators
(``self.random``, the standard-library generator Mesa seeds from the model's ``rng``).

Where there was a choice we took the faster idiom, so the comparison does not
flatter creditsim: Poisson counts by inversion against a cached ``exp(-λ)`` with the
standard-library generator (one ``random()`` call a day for most residents) rather
than ``self.model.rng.poisson(λ)`` (a numpy call per agent-step, several times
slower); deductions in a ``deque`` of expiry days (O(1) expiry, no rescan); the
daily listed count kept as a model counter the agents update rather than an
``agents.agg`` pass over all agents.
"""

from __future__ import annotations

import math
import time
from collections import deque

import mesa
import numpy as np
from peer_common import PeerParams, PeerResult


class Resident(mesa.Agent):
    """A resident: a personal violation rate, live deductions and a flight check."""

    def __init__(self, model: PeerModel, rate: float) -> None:
        super().__init__(model)
        self.rate = float(rate)
        self._p0 = math.exp(-self.rate)  # P(no violation today)
        self.expiries: deque[int] = deque()  # expiry day of each live deduction, ascending
        self.score = model.params.baseline
        self.listed = False
        self.events = 0
        self.demands = 0
        self.denials = 0
        self.listed_days = 0

    def violations_today(self) -> int:
        """Poisson(rate) by inversion: the smallest k with CDF(k) ≥ u."""
        u = self.random.random()
        p = cdf = self._p0
        k = 0
        while u > cdf:
            k += 1
            p *= self.rate / k
            if cdf + p == cdf:  # u within rounding of 1
                break
            cdf += p
        return k

    def wants_flight_today(self) -> bool:
        return self.random.random() < self.model.params.demand_prob

    def step(self) -> None:
        model = self.model
        prm = model.params
        today = model.day
        live = self.expiries
        while live and live[0] <= today:
            live.popleft()
        k = self.violations_today()
        if k:
            self.events += k
            live.extend([today + prm.expiry_days] * k)
        raw = prm.baseline + prm.points * len(live)
        self.score = min(max(raw, prm.score_min), prm.score_max)
        self.listed = self.score < prm.threshold
        if self.listed:
            self.listed_days += 1
            model.listed_today += 1
        if self.wants_flight_today():
            self.demands += 1
            if self.listed:
                self.denials += 1


class PeerModel(mesa.Model):
    """N residents stepped once a day."""

    def __init__(self, residents: int, params: PeerParams, seed: int,
                 agent_class: type[Resident] = Resident) -> None:
        super().__init__(rng=seed)
        self.params = params
        self.day = 0
        self.listed_today = 0
        s = params.rate_sigma
        rates = params.base_rate * self.rng.lognormal(-s * s / 2, s, residents)
        agent_class.create_agents(self, residents, rate=rates)
        self.datacollector = mesa.DataCollector(model_reporters={"listed": "listed_today"})

    def step(self) -> None:
        self.listed_today = 0
        self.agents.do("step")
        self.datacollector.collect(self)
        self.day += 1


def collect(model: PeerModel) -> PeerResult:
    """Per-resident totals of a model that has been stepped (agents by ``unique_id``)."""
    agents = sorted(model.agents, key=lambda a: a.unique_id)
    events, demands, denials, listed = (
        np.array([getattr(a, k) for a in agents], dtype=np.int64)
        for k in ("events", "demands", "denials", "listed_days")
    )
    per_day = model.datacollector.get_model_vars_dataframe()["listed"].to_numpy(np.int64)
    return PeerResult(days=model.day, events=events, demands=demands, denials=denials,
                      listed_days=listed, ever_listed=listed > 0, listed_per_day=per_day)


def run(residents: int, days: int, params: PeerParams, seed: int = 1) -> PeerResult:
    """Build the model, run it for ``days`` steps, and return per-resident totals."""
    t0 = time.perf_counter()
    model = PeerModel(residents, params, seed)
    t1 = time.perf_counter()
    for _ in range(days):
        model.step()
    t2 = time.perf_counter()
    out = collect(model)
    t3 = time.perf_counter()
    out.timings = {"setup": t1 - t0, "run": t2 - t1, "collect": t3 - t2, "total": t3 - t0}
    return out
