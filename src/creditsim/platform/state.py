"""The platform loop's records: its inputs, what a round hands the next, and what
each step of a round adds (platform side: reads no truth).

Everything here is frozen. A round starts from a :class:`RoundState` and an empty
:class:`Round`; each step of ``ROUND_STEPS`` returns the round with its own part
filled in; :meth:`Round.advance` makes the next round's state. Tables that carry
the truth (the world's) travel inside world-side handles (``World``,
``Repayments``, ``SpellFacts``) that only world-side functions open.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import polars as pl

from creditsim.platform.models import LoopModels, RunSpec
from creditsim.platform.stream import Stream
from creditsim.platform.world.truth import FullRecords, Repayments, SpellFacts, World
from creditsim.policy import Policy, PolicyResult
from creditsim.services import DrawnDemand

T = TypeVar("T")


@dataclass(frozen=True)
class LoopInputs:
    """The tables the platform stage is handed. The loop lets go of them as it
    goes (``records`` is emptied), so a caller that wants the memory back hands
    them over rather than keeping references."""

    residents: pl.DataFrame
    candidates: pl.DataFrame  #: candidate events, sorted by event_id
    records: dict[str, pl.DataFrame]  #: department → candidate records (RECORD_COLUMNS at least)
    links: pl.DataFrame
    policy: Policy
    #: services.resident_cells of the residents, if already computed
    demand_cells: pl.DataFrame | None = None


@dataclass(frozen=True)
class Sink:
    """Where the final tables go. ``emit(name, table)``, if given, takes each large
    final table (events, records, links, ledger, scores) as soon as it is made
    instead of the result holding it. ``full_records[department](mask, rows)``
    completes the rows of the full table that ``mask`` selects when ``records``
    holds only some of its columns (same rows, same order)."""

    emit: Callable[[str, pl.DataFrame], None] | None = None
    full_records: Mapping[str, FullRecords] = field(default_factory=dict)


@dataclass(frozen=True)
class Platform:
    """What the platform's steps use every round, fixed for the run."""

    policy: Policy
    register: pl.DataFrame  #: the residents as the platform holds them (no truth)
    links: pl.DataFrame  #: the platform's link of every candidate record
    stream: Stream
    services: frozenset[str]  #: the services the policy's consequences act on
    spec: RunSpec
    models: LoopModels


@dataclass(frozen=True)
class RoundContext:
    """A round's fixed inputs: the platform's and the world's."""

    platform: Platform
    world: World


@dataclass(frozen=True)
class Intervals:
    """The platform's state intervals (None: the policy has no scores) and the
    effect intervals of its consequences (services.decide)."""

    states: pl.DataFrame | None
    effects: pl.DataFrame


@dataclass(frozen=True)
class RoundState:
    """What a round hands the next: tables and arrays only (a run could resume
    from them)."""

    keep: np.ndarray  #: which candidate events happen (the world's; opaque here)
    present: np.ndarray  #: which stream records exist (those of kept events)
    repaid: pl.DataFrame  #: the residents' repayments (case_record_id, resident_id, day)
    scored: PolicyResult | None = None  #: the last scoring, before objections
    covered: np.ndarray | None = None  #: the policy's coverage (fixed by round 0)
    #: platform residents whose linked records changed (None: re-score everyone)
    changed: np.ndarray | None = None
    intervals: Intervals | None = None  #: the last round's
    appellants: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass(frozen=True)
class Scored:
    """Step ``score``: the round's repayment records and the policy applied."""

    rep: Repayments
    result: PolicyResult
    covered: np.ndarray
    rescored: int  #: residents scored anew


@dataclass(frozen=True)
class Appealed:
    """Step ``appeal_and_repay``: objections answered, repayments made."""

    result: PolicyResult  #: with the upheld objections' spells ended
    facts: SpellFacts
    appeals: pl.DataFrame
    appellants: np.ndarray  #: residents whose objection was upheld
    repaid: pl.DataFrame  #: the residents' repayments given this round (the next round's)


@dataclass(frozen=True)
class Served:
    """Step ``serve``: the platform's decisions at points of service."""

    intervals: Intervals
    decisions: pl.DataFrame
    drawn: DrawnDemand  #: the individual demand the decisions act on, counted


@dataclass(frozen=True)
class Responded:
    """Step ``respond``: what residents do next, and what that changes."""

    keep: np.ndarray  #: the next round's kept candidate events
    flipped: np.ndarray  #: stream records whose event flipped
    changed: np.ndarray  #: platform residents whose linked records change
    summary: dict[str, Any]  #: the round's line in loop.json

    @property
    def converged(self) -> bool:
        return self.summary["events_changed_next"] == 0 \
            and not self.summary["repayments_changed_next"]


@dataclass(frozen=True)
class Round:
    """One round, filled in step by step."""

    number: int
    scored: Scored | None = None
    appealed: Appealed | None = None
    served: Served | None = None
    responded: Responded | None = None

    def advance(self, state: RoundState) -> RoundState:
        """The next round's state."""
        s, a = need(self.scored), need(self.appealed)
        v, r = need(self.served), need(self.responded)
        return RoundState(keep=r.keep, present=state.present ^ r.flipped, repaid=a.repaid,
                          scored=s.result, covered=s.covered, changed=r.changed,
                          intervals=v.intervals, appellants=a.appellants)


def need(part: T | None) -> T:
    """A step's part of the round, which an earlier step made."""
    if part is None:
        raise RuntimeError("a round step ran before the step whose output it reads")
    return part
