"""Scoring policies: a small language (TOML), cited presets, and the scoring engine.

Public API::

    policy = load_policy("rongcheng")            # a preset name or a path to a .toml file
    loaded = read_policy("p.toml")               # .policy, .text (the bytes read), .origin
    result = apply_policy(policy, register, linked, days=365, start_date=date(2021, 1, 1))
    result.ledger, result.scores, result.list_spells   # Polars tables (docs/policy.md)
    list_presets()                                 # name, title, description of each preset

The platform loop rescores the residents a round changed with ``Records``,
``override_spells`` and ``monthly_scores``. Which consequence applies to whom on
which day is the services stage's question (:func:`creditsim.services.effect_intervals`).

Every problem in a policy file is raised together as one :class:`PolicyError`.
"""

from creditsim.policy.engine import (
    Records,
    apply_policy,
    coverage_days,
    override_spells,
)
from creditsim.policy.errors import PolicyError
from creditsim.policy.loader import (
    LoadedPolicy,
    PresetInfo,
    list_presets,
    load_policy,
    policy_from_data,
    policy_from_text,
    policy_source,
    preset_names,
    preset_text,
    read_policy,
)
from creditsim.policy.model import Consequence, Policy
from creditsim.policy.result import (
    PolicyResult,
    ledger_schema,
    scores_schema,
    spells_schema,
)
from creditsim.policy.snapshots import monthly_scores

__all__ = [
    "Consequence",
    "LoadedPolicy",
    "Policy",
    "PolicyError",
    "PolicyResult",
    "PresetInfo",
    "Records",
    "apply_policy",
    "coverage_days",
    "ledger_schema",
    "list_presets",
    "load_policy",
    "monthly_scores",
    "override_spells",
    "policy_from_data",
    "policy_from_text",
    "policy_source",
    "preset_names",
    "preset_text",
    "read_policy",
    "scores_schema",
    "spells_schema",
]
