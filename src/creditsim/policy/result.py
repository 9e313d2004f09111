"""The scoring engine's output tables and their fixed dtypes.

See docs/policy.md for every column. Which consequence applies to whom on which
day is the services stage's question (:mod:`creditsim.services.decide`), answered
from these tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

from creditsim.policy.model import Policy

EXIT_REASONS = ("term_expired", "exit_record", "score_recovered", "appealed")
ExitReasonT = pl.Enum(list(EXIT_REASONS))


def rule_dtype(policy: Policy) -> pl.Enum:
    return pl.Enum(policy.rule_ids)


def tier_dtype(policy: Policy) -> pl.Enum:
    return pl.Enum(policy.tier_names)


def list_dtype(policy: Policy) -> pl.Enum:
    return pl.Enum(policy.list_ids)


def ledger_schema(policy: Policy) -> dict[str, pl.DataType]:
    return {
        "resident_id": pl.Int32(),
        "day": pl.Int16(),
        "rule_id": rule_dtype(policy),
        "points": pl.Int32(),
        "expires_day": pl.Int32(),
        "record_id": pl.Int64(),
    }


def scores_schema(policy: Policy) -> dict[str, pl.DataType]:
    return {
        "resident_id": pl.Int32(),
        "month": pl.Date(),
        "day": pl.Int16(),
        "score": pl.Int32(),
        "tier": tier_dtype(policy),
    }


def spells_schema(policy: Policy) -> dict[str, pl.DataType]:
    return {
        "resident_id": pl.Int32(),
        "list": list_dtype(policy),
        "start_day": pl.Int32(),
        "end_day": pl.Int32(),
        "exit_reason": ExitReasonT,
        "record_id": pl.Int64(),
        "case_number": pl.String(),
    }


@dataclass
class PolicyResult:
    """What a policy did to a population over a run.

    ``ledger``: one row per scored record and rule (every point has provenance).
    ``scores``: monthly snapshots stored as changes: one row per resident and
    month in which the resident's (score, tier) at the month's snapshot day
    differs from the previous snapshot (the first from the baseline). A covered
    resident's state in month m is the latest row at or before m, else the
    baseline. ``list_spells``: one row per spell on a list.
    ``covered_from``: per resident (indexed by resident_id) the first day scored,
    or ``creditsim.rundays.NEVER``. ``override_spells``: intervals in which an override caps a
    resident's score or tier (resident_id, override, start_day, end_day
    exclusive or NEVER, cap_score or NEVER, cap_tier index best-first or -1).
    """

    policy: Policy
    start_date: date
    days: int
    ledger: pl.DataFrame
    scores: pl.DataFrame
    list_spells: pl.DataFrame
    covered_from: np.ndarray
    override_spells: pl.DataFrame
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def baseline_tier(self) -> str | None:
        sc = self.policy.scale
        return None if sc is None else self.policy.tier_of(sc.baseline)

    def tables(self) -> dict[str, pl.DataFrame]:
        """The three output tables by file stem (``ledger``, ``scores``, ``list_spells``)."""
        return {"ledger": self.ledger, "scores": self.scores, "list_spells": self.list_spells}

    def is_covered(self, day: int) -> np.ndarray:
        """Boolean per resident: scored on ``day``."""
        return self.covered_from <= day


__all__ = [
    "EXIT_REASONS",
    "PolicyResult",
    "ledger_schema",
    "scores_schema",
    "spells_schema",
]
