"""Stage: behaviour — what residents really do (the truth)."""

from creditsim.behaviour.generate import EVENTS_SCHEMA, Features, generate_events
from creditsim.behaviour.rates import BehaviourModel, CourtChain, KindRate

__all__ = ["EVENTS_SCHEMA", "BehaviourModel", "CourtChain", "Features", "KindRate",
           "generate_events"]
