"""The platform stage's settings and model parameters (no tables)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from creditsim.platform.appeals import AppealsModel, RepaymentModel
from creditsim.platform.world.feedback import FeedbackModel
from creditsim.services import DEFAULT_DEMAND, ServiceDemand


@dataclass(frozen=True)
class RunSpec:
    """The run's seed and horizon, as every step of a round needs them."""

    seed: int
    days: int
    start_date: dt.date


@dataclass
class LoopModels:
    feedback: FeedbackModel = field(default_factory=FeedbackModel)
    appeals: AppealsModel = field(default_factory=AppealsModel)
    repayment: RepaymentModel = field(default_factory=RepaymentModel)
    #: Who demands each service and how often (services.demand).
    demand: tuple[ServiceDemand, ...] = DEFAULT_DEMAND
    #: Rounds at most: ``max_rounds``, or ``rounds_per_year`` per year of the simulated
    #: horizon if more. Each round fixes the days before the first day it changed, and
    #: that day moves forward by some 150-400 days a round (loop.json's
    #: first_changed_day), so a longer horizon needs more rounds to reach the fixed
    #: point: 2-4 for one or two years, about 10 for six (the default burn-in and a year),
    #: about 15 for ten.
    max_rounds: int = 6
    rounds_per_year: float = 3.0

    def round_cap(self, days: int) -> int:
        """The most rounds the loop runs over a horizon of ``days`` days."""
        return max(self.max_rounds, math.ceil(self.rounds_per_year * days / 365))
    #: Re-score only residents whose records changed after round 0 (same result;
    #: tested against full re-scoring).
    incremental: bool = True
