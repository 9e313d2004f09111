"""The platform stage's settings and model parameters (no tables)."""

from __future__ import annotations

import datetime as dt
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
