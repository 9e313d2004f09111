"""Stage: services — demand at points of service and the platform's decisions.

``demand`` and ``decide`` are platform-side (no truth); ``evaluate`` compares
the platform's sanctions with the truth (the audit side)."""

from creditsim.services.decide import (
    DECISIONS_SCHEMA,
    decide,
    effect_intervals,
    state_intervals,
)
from creditsim.services.demand import DEFAULT_DEMAND, demand_totals, individual_demand

__all__ = ["DECISIONS_SCHEMA", "DEFAULT_DEMAND", "decide", "demand_totals", "effect_intervals",
           "individual_demand", "state_intervals"]
