"""Stage: services — demand at points of service and the platform's decisions.

``demand`` and ``decide`` are platform-side (no truth); ``evaluate`` compares
the platform's sanctions with the truth (the audit side)."""

from creditsim.services.decide import (
    DECISIONS_SCHEMA,
    decide,
    effect_intervals,
    state_intervals,
)
from creditsim.services.demand import (
    DEFAULT_DEMAND,
    DemandSpec,
    DrawnDemand,
    ServiceDemand,
    demand_totals,
    individual_demand,
    resident_cells,
)
from creditsim.services.evaluate import (
    deletion_calendar,
    label_decisions,
    label_spells,
    label_state_decisions,
    spell_truth,
)

__all__ = ["DECISIONS_SCHEMA", "DEFAULT_DEMAND", "DemandSpec", "DrawnDemand", "decide",
           "deletion_calendar", "demand_totals", "effect_intervals", "individual_demand",
           "label_decisions", "label_spells", "label_state_decisions", "resident_cells",
           "ServiceDemand", "spell_truth", "state_intervals"]
