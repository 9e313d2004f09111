"""The platform stage's settings and model parameters (no tables)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from creditsim.params import Cited
from creditsim.platform.appeals import AppealsModel, RepaymentModel
from creditsim.platform.world.feedback import FeedbackModel
from creditsim.services import DEFAULT_DEMAND, ServiceDemand


@dataclass(frozen=True)
class RunSpec:
    """The run's seed and horizon, as every step of a round needs them."""

    seed: int
    days: int
    start_date: dt.date


@dataclass(frozen=True)
class RoundsModel:
    """How long the platform loop may iterate towards its fixed point."""

    max_rounds: Cited[int] = Cited(
        6, "assumption: rounds of the platform loop at most; a run whose feedback still "
        "changes events after them stops there and says so (loop.json: converged false)",
        unit="rounds", bounds=(1, None))
    rounds_per_year: Cited[float] = Cited(
        3.0, "assumption: rounds at most per simulated year, when that is more than "
        "max_rounds. Each round fixes the days before the first day it changed, and that "
        "day moves forward by some 150-400 days a round (loop.json: first_changed_day), so "
        "a longer horizon needs more rounds: 2-4 for one or two years, about 10 for six, "
        "about 15 for ten", unit="rounds/year", bounds=(0, None))


@dataclass
class LoopModels:
    feedback: FeedbackModel = field(default_factory=FeedbackModel)
    appeals: AppealsModel = field(default_factory=AppealsModel)
    repayment: RepaymentModel = field(default_factory=RepaymentModel)
    #: Who demands each service and how often (services.demand).
    demand: tuple[ServiceDemand, ...] = DEFAULT_DEMAND
    rounds: RoundsModel = field(default_factory=RoundsModel)
    #: Re-score only residents whose records changed after round 0 (same result;
    #: tested against full re-scoring).
    incremental: bool = True

    @property
    def max_rounds(self) -> int:
        """Rounds of the loop at most (``loop.max_rounds``)."""
        return self.rounds.max_rounds.value

    def round_cap(self, days: int) -> int:
        """The most rounds the loop runs over a horizon of ``days`` days: ``max_rounds``,
        or ``rounds_per_year`` per simulated year if that is more."""
        per_year = self.rounds.rounds_per_year.value
        return max(self.max_rounds, math.ceil(per_year * days / 365))
