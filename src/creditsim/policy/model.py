"""The policy language as typed, frozen data (pydantic models).

A policy file (TOML, see ``docs/policy.md``) is parsed into a :class:`Policy`.
Every model forbids unknown keys and uses strict types, so ``points = "5"`` or
``points = 5.5`` is an error rather than a silent conversion. Checks that need
more than one section (a rule naming an unknown cap, an override naming an
unknown list) live in :mod:`creditsim.policy.loader`, which collects every
problem before raising.

Every section that carries numbers has a ``source`` citing an entry of
``docs/sources`` (``sources#<anchor>``, a URL may follow) and a ``status`` saying
how far the numbers are confirmed.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from creditsim.catalogue import HUKOU, KIND_NAMES, RELATIONS, SERVICES

KindName = Literal[KIND_NAMES]  # type: ignore[valid-type]
ServiceName = Literal[SERVICES]  # type: ignore[valid-type]
HukouName = Literal[HUKOU]  # type: ignore[valid-type]

#: How far a number is confirmed: read from a primary or official source; read
#: from a secondary report; commonly cited but unconfirmed; from a low-quality
#: source; or an assumption of this preset (no source found).
Status = Literal["published", "secondary", "unverified", "low_quality", "assumption"]

Ident = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
#: Day counts. 32767 days (~89 years) is the upper bound of an Int16 day.
Days = Annotated[int, Field(ge=1, le=32767)]
Points = Annotated[int, Field(ge=-100_000, le=100_000)]
ScoreValue = Annotated[int, Field(ge=-1_000_000, le=1_000_000)]
Amount = Annotated[float, Field(ge=0, le=1e15, allow_inf_nan=False)]

#: The largest amount (in absolute value) of one record that per-unit points are
#: computed from: the engine counts a larger amount as this much. It bounds the
#: points one record can give under a rule (:meth:`Rule.max_entry_points`), which
#: the loader checks against :data:`MAX_ENTRY_POINTS`. Simulated amounts stay far
#: below it: the largest, lawsuits and tax cases, are a few million yuan.
MAX_RECORD_AMOUNT = 1e8
#: Points one ledger entry can hold: the ledger's ``points`` column is Int32.
MAX_ENTRY_POINTS = 2**31 - 1
#: Tiers are numbered in 8 bits by the score snapshots.
MAX_TIERS = 127

#: Relations that consequences can spill over to (see :class:`Consequence`).
SpillTo = Literal["spouse", "child", "parent", "household"]
assert set(RELATIONS) >= {"spouse", "child", "parent"}


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class _Cited(_Model):
    source: Text
    status: Status


class Meta(_Model):
    """Who and what the policy describes."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,47}$")]
    title: Text
    description: Annotated[str, Field(min_length=1, max_length=200)]
    city: Text
    sources: list[Text] = Field(default_factory=list)
    notes: str = ""


class Coverage(_Cited):
    """Who is scored. Coverage starts on the first day all conditions hold."""

    min_age: Annotated[int, Field(ge=0, le=120)] = 0
    min_years_in_city: Annotated[float, Field(ge=0, le=120, allow_inf_nan=False)] = 0.0
    #: Overrides ``min_years_in_city`` for migrants (hukou elsewhere) if given.
    min_years_in_city_migrant: Annotated[float, Field(ge=0, le=120, allow_inf_nan=False)] | None = (
        None
    )
    hukou: list[HukouName] = Field(default_factory=lambda: list(HUKOU), min_length=1)
    #: Scoring needs the resident's consent. Read from a Boolean ``consent``
    #: column of the register when present; otherwise everyone is taken to consent.
    consent_required: bool = False


class Scale(_Cited):
    """Baseline and bounds of the score."""

    baseline: ScoreValue
    min: ScoreValue
    max: ScoreValue
    #: Expiry is counted from the day the behaviour happened ("event") or the
    #: day the record reached the platform ("recorded").
    expiry_from: Literal["event", "recorded"] = "event"

    @model_validator(mode="after")
    def _bounds(self) -> Scale:
        if not self.min < self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        if not self.min <= self.baseline <= self.max:
            raise ValueError(f"baseline {self.baseline} is outside [{self.min}, {self.max}]")
        return self


class Tier(_Cited):
    """A named band ``min <= score <= max`` (inclusive)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_+\-]{1,32}$")]
    label: str = ""
    min: ScoreValue
    max: ScoreValue

    @model_validator(mode="after")
    def _order(self) -> Tier:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class Cap(_Cited):
    """At most ``max_points`` (in absolute value) per resident per period."""

    id: Ident
    max_points: Annotated[int, Field(ge=1, le=1_000_000)]
    period: Literal["month", "year", "run"]


class Bracket(_Model):
    """``points`` for every ``per`` units, for the cumulative amount up to ``upto``."""

    upto: Amount | None = None
    points: Points
    per: Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False)] = 1.0


class PerUnit(_Model):
    """Points per unit of the record's ``amount`` with piecewise diminishing returns.

    ``accumulate`` says over what the amount is accumulated before the brackets
    apply: each record on its own, or the resident's records of this rule in
    the same calendar month, calendar year, or the whole run.
    """

    accumulate: Literal["record", "month", "year", "run"]
    brackets: list[Bracket] = Field(min_length=1, max_length=16)

    @model_validator(mode="after")
    def _brackets(self) -> PerUnit:
        last = len(self.brackets) - 1
        prev = 0.0
        for i, b in enumerate(self.brackets):
            if i < last:
                if b.upto is None:
                    raise ValueError(f"brackets[{i}] needs 'upto' (only the last may omit it)")
                if b.upto <= prev:
                    raise ValueError(f"brackets[{i}].upto must exceed the previous bound {prev}")
                prev = b.upto
            elif b.upto is not None and b.upto <= prev:
                raise ValueError(f"brackets[{i}].upto must exceed the previous bound {prev}")
        signs = {b.points > 0 for b in self.brackets if b.points != 0}
        if len(signs) > 1:
            raise ValueError("brackets mix positive and negative points")
        return self


class Rule(_Cited):
    """Points for records of the given kinds, optionally only within an amount range."""

    id: Ident
    description: str = ""
    kinds: list[KindName] = Field(min_length=1)
    #: Inclusive lower / exclusive upper bound on the record's ``amount``.
    #: Records with no amount never satisfy an amount condition.
    amount_min: Amount | None = None
    amount_max: Amount | None = None
    points: Points | None = None
    per_unit: PerUnit | None = None
    expires_days: Days
    cap: Ident | None = None
    group: str = ""

    @model_validator(mode="after")
    def _one_points(self) -> Rule:
        if (self.points is None) == (self.per_unit is None):
            raise ValueError("give exactly one of 'points' or 'per_unit'")
        if self.points == 0:
            raise ValueError("points must not be 0")
        if (
            self.amount_min is not None
            and self.amount_max is not None
            and self.amount_min >= self.amount_max
        ):
            raise ValueError("amount_min must be below amount_max")
        if self.per_unit is not None:
            if all(b.points == 0 for b in self.per_unit.brackets):
                raise ValueError("every bracket gives 0 points: the rule never scores")
            most = self.max_entry_points()
            if not most <= MAX_ENTRY_POINTS:
                shown = f"{most:,.0f}" if most < 1e15 else f"{most:.3g}"
                raise ValueError(
                    f"one record can give up to {shown} points (amounts are scored up to "
                    f"{MAX_RECORD_AMOUNT:,.0f}), more than a ledger entry holds "
                    f"({MAX_ENTRY_POINTS:,}): raise 'per', end the brackets with one of "
                    "0 points, or set 'amount_max'"
                )
        return self

    def max_entry_points(self) -> float:
        """An upper bound on the points (in absolute value) of one ledger entry of
        this rule, before caps, for any record stream.

        A per-unit entry is the change of the cumulative points over one record's
        amount (at most :data:`MAX_RECORD_AMOUNT`, or ``amount_max``), so it is at most
        the steepest bracket's rate times that amount, and never more than all the
        points the brackets hold when the last bracket gives 0 points; plus 1 for
        truncating the two cumulative values."""
        if self.per_unit is None:
            return float(abs(self.points or 0))
        brackets = self.per_unit.brackets
        top = MAX_RECORD_AMOUNT if self.amount_max is None else min(self.amount_max,
                                                                    MAX_RECORD_AMOUNT)
        bound = max(abs(b.points) / b.per for b in brackets) * top
        if brackets[-1].points == 0:
            held, lo = 0.0, 0.0
            for b in brackets[:-1]:
                held += abs(b.points) * (float(b.upto or 0.0) - lo) / b.per
                lo = float(b.upto or 0.0)
            bound = min(bound, held)
        # the engine works in thousandths of a unit; the margin covers their rounding
        return bound * (1 + 1e-9) + 1.0

    @property
    def sign(self) -> int:
        """+1 for a reward rule, -1 for a deduction rule."""
        if self.points is not None:
            return 1 if self.points > 0 else -1
        return -1 if any(b.points < 0 for b in self.per_unit.brackets) else 1  # type: ignore[union-attr]


class Override(_Cited):
    """While active, the score is capped and/or the tier is held at or below a tier.

    Active for ``duration_days`` from the day a record of ``kinds`` reaches the
    platform, or while the resident is on the list ``on_list``.
    """

    id: Ident
    kinds: list[KindName] | None = Field(default=None, min_length=1)
    duration_days: Days | None = None
    on_list: Ident | None = None
    cap_score: ScoreValue | None = None
    cap_tier: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Override:
        if (self.kinds is None) == (self.on_list is None):
            raise ValueError("give exactly one of 'kinds' or 'on_list'")
        if self.kinds is not None and self.duration_days is None:
            raise ValueError("'duration_days' is required with 'kinds'")
        if self.on_list is not None and self.duration_days is not None:
            raise ValueError("'duration_days' is not allowed with 'on_list' (the spell decides)")
        if self.cap_score is None and self.cap_tier is None:
            raise ValueError("give 'cap_score', 'cap_tier' or both")
        return self


class Trigger(_Model):
    """Records that put a resident on a list, and the term they bring."""

    kinds: list[KindName] = Field(min_length=1)
    amount_min: Amount | None = None
    term_days: Days | Literal["indefinite"]


class ListDef(_Cited):
    """A blacklist, redlist or department list.

    Entry is either by records (``triggers``) or by the score falling below
    ``score_below``. See docs/policy.md for the exact life cycle of a spell.
    """

    id: Ident
    title: Text
    kind: Literal["black", "red", "department"] = "black"
    triggers: list[Trigger] = Field(default_factory=list)
    score_below: ScoreValue | None = None
    #: One spell per (resident, case_number) rather than per resident.
    per_case: bool = False
    grace_days: Annotated[int, Field(ge=0, le=32767)] = 0
    exit_kinds: list[KindName] = Field(default_factory=list)
    exit_after_working_days: Annotated[int, Field(ge=0, le=1000)] = 0
    aggravating_kinds: list[KindName] = Field(default_factory=list)
    extend_days: Annotated[int, Field(ge=0, le=32767)] = 0
    max_extension_days: Annotated[int, Field(ge=0, le=32767)] = 0

    @model_validator(mode="after")
    def _shape(self) -> ListDef:
        if bool(self.triggers) == (self.score_below is not None):
            raise ValueError("give exactly one of 'triggers' or 'score_below'")
        if self.score_below is not None:
            extra = [
                k
                for k in (
                    "per_case",
                    "grace_days",
                    "exit_kinds",
                    "aggravating_kinds",
                    "extend_days",
                )
                if getattr(self, k)
            ]
            if extra:
                raise ValueError(f"score lists cannot use {', '.join(extra)}")
        if self.extend_days and not self.aggravating_kinds:
            raise ValueError("'extend_days' needs 'aggravating_kinds'")
        if self.max_extension_days and not self.extend_days:
            raise ValueError("'max_extension_days' needs 'extend_days'")
        if self.extend_days and self.max_extension_days < self.extend_days:
            raise ValueError("'max_extension_days' must be at least 'extend_days'")
        return self


class Consequence(_Cited):
    """An effect on a named service for residents in given tiers, on a list, or
    above a score; optionally spilling over to household members."""

    id: Ident
    tiers: list[str] | None = Field(default=None, min_length=1)
    on_list: Ident | None = None
    score_min: ScoreValue | None = None
    covered: bool = False
    service: ServiceName
    effect: Literal["deny", "expedite", "discount"]
    rate: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None = None
    apply_to_self: bool = True
    spill_to: list[SpillTo] = Field(default_factory=lambda: [])

    @model_validator(mode="after")
    def _shape(self) -> Consequence:
        given = [
            k
            for k, v in (
                ("tiers", self.tiers),
                ("on_list", self.on_list),
                ("score_min", self.score_min),
                ("covered", self.covered or None),
            )
            if v is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'tiers', 'on_list', 'score_min' or 'covered = true'"
            )
        if (self.effect == "discount") != (self.rate is not None):
            raise ValueError("'rate' is required with effect 'discount' and only then")
        if not self.apply_to_self and not self.spill_to:
            raise ValueError("applies to nobody: set 'apply_to_self' or 'spill_to'")
        return self


class Policy(_Model):
    """A whole policy: everything a city's rules say, as data."""

    meta: Meta
    coverage: Coverage | None = None
    scale: Scale | None = None
    tiers: list[Tier] = Field(default_factory=list)
    caps: list[Cap] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    overrides: list[Override] = Field(default_factory=list)
    lists: list[ListDef] = Field(default_factory=list)
    consequences: list[Consequence] = Field(default_factory=list)

    # --- convenience accessors (used by the engines and the services stage) ---

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def scores(self) -> bool:
        """Whether the policy computes a score (has a scale)."""
        return self.scale is not None

    @property
    def rule_ids(self) -> list[str]:
        return [r.id for r in self.rules]

    @property
    def list_ids(self) -> list[str]:
        return [li.id for li in self.lists]

    @property
    def tier_names(self) -> list[str]:
        """Tier names, best first (the file's order)."""
        return [t.name for t in self.tiers]

    def tier_of(self, score: int) -> str | None:
        """The tier a score falls in (tiers are contiguous, so exactly one)."""
        for t in self.tiers:
            if t.min <= score <= t.max:
                return t.name
        return None

    def consequences_for(self, service: str) -> list[Consequence]:
        """Consequences that act on ``service``, in file order."""
        return [c for c in self.consequences if c.service == service]

    def list_by_id(self, list_id: str) -> ListDef:
        for li in self.lists:
            if li.id == list_id:
                return li
        raise KeyError(list_id)
