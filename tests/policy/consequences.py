"""The test oracle of "which consequence applies": one day at a time, in plain
Python over the rows of a policy result and a register.

Slow and obviously correct. :mod:`creditsim.services.decide` computes the same as
intervals over the whole run; ``test_consequences`` holds the two equal. The
platform's view of a resident on day ``d``:

* on a list: a spell of it with ``start_day <= d < end_day`` (no end: still on it);
* covered: ``covered_from <= d``;
* score and tier: those of the resident's latest monthly snapshot taken *before*
  ``d`` (a snapshot acts from the next day), else the baseline while covered.

A consequence's subjects are those whose own state meets its condition; it affects
the subjects themselves (``apply_to_self``) and their relatives in ``spill_to``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from creditsim.policy import Consequence, PolicyResult

#: (resident_id, service, effect, rate, consequence, via_resident_id, cause_type,
#: cause, spell_record_id): one consequence in force on one affected resident.
Row = tuple
_PRECEDENCE = {"deny": 0, "discount": 1, "expedite": 2}
_DECISION = {"deny": "denied", "expedite": "expedited", "discount": "discounted"}
_PAIR = ("head", "spouse")


def platform_state(result: PolicyResult, day: int) -> dict[int, tuple[int, str]]:
    """(score, tier) on ``day`` of every covered resident, as the platform sees it."""
    latest: dict[int, dict] = {}
    for row in result.scores.iter_rows(named=True):
        rid = row["resident_id"]
        if row["day"] < day and (rid not in latest or row["day"] > latest[rid]["day"]):
            latest[rid] = row
    baseline = (result.policy.scale.baseline, result.baseline_tier)
    out = {}
    for rid, first in enumerate(result.covered_from.tolist()):
        if first <= day:
            row = latest.get(rid)
            out[rid] = baseline if row is None else (row["score"], row["tier"])
    return out


def subjects(c: Consequence, result: PolicyResult, day: int) -> list[tuple]:
    """(resident_id, cause_type, cause, spell_record_id) of each subject of ``c``
    on ``day``: one per spell for a list, else one per resident."""
    if c.on_list is not None:
        return [
            (s["resident_id"], "list", c.on_list, s["record_id"])
            for s in result.list_spells.iter_rows(named=True)
            if s["list"] == c.on_list and s["start_day"] <= day
            and (s["end_day"] is None or day < s["end_day"])
        ]
    covered = [rid for rid, first in enumerate(result.covered_from.tolist()) if first <= day]
    if c.covered:
        return [(rid, "covered", "covered", None) for rid in covered]
    state = platform_state(result, day)
    if c.tiers is not None:
        cause = ",".join(c.tiers)
        return [(rid, "tier", cause, None) for rid, (_, tier) in state.items() if tier in c.tiers]
    return [(rid, "score", f">={c.score_min}", None)
            for rid, (score, _) in state.items() if score >= c.score_min]


class Family:
    """A register's family fields, looked up by resident and by household."""

    def __init__(self, register: pl.DataFrame) -> None:
        rows = register.select("resident_id", "household_id", "relation", "father_id",
                               "mother_id").to_dicts()
        self.by_id = {r["resident_id"]: r for r in rows}
        self.children: dict[int, list[int]] = {}
        self.members: dict[int, list[dict]] = {}
        for r in rows:
            for p in {r["father_id"], r["mother_id"]} - {None}:
                self.children.setdefault(p, []).append(r["resident_id"])
            if r["household_id"] is not None:
                self.members.setdefault(r["household_id"], []).append(r)

    def relatives(self, how: str, rid: int) -> list[int]:
        """Residents a subject's consequence spills over to by relation ``how``:
        ``child``: whose father or mother the subject is; ``parent``: the subject's
        father and mother; ``household``: every other member of the subject's
        household; ``spouse``: the other of its head and spouse, if the subject is
        one of the two."""
        me = self.by_id[rid]
        if how == "child":
            return self.children.get(rid, [])
        if how == "parent":
            return [p for p in (me["father_id"], me["mother_id"]) if p is not None]
        others = [r for r in self.members.get(me["household_id"], []) if r["resident_id"] != rid]
        if how == "spouse":
            if me["relation"] not in _PAIR:
                return []
            others = [r for r in others if r["relation"] in _PAIR]
        return [r["resident_id"] for r in others]


def in_force(result: PolicyResult, day: int, family: Family) -> set[Row]:
    """Every consequence in force on ``day``, spillover included."""
    out = set()
    for c in result.policy.consequences:
        rate = None if c.rate is None else float(np.float32(c.rate))
        for via, cause_type, cause, spell in subjects(c, result, day):
            affected = ([via] if c.apply_to_self else []) + [
                rid for how in c.spill_to for rid in family.relatives(how, via)]
            for rid in affected:
                out.add((rid, c.service, c.effect, rate, c.id, via, cause_type, cause, spell))
    return out


def decisions(demand: list[tuple], effects_by_day: dict[int, set[Row]]) -> list[tuple]:
    """One decision per demand (resident_id, day, service) that meets an effect:
    deny before discount before expedite, the largest rate among discounts, then
    the smallest consequence id, causing resident and spell record id (none first).

    Rows: (resident_id, day, service, decision, rate, consequence, cause_type,
    cause, via_resident_id, spell_record_id), sorted by day, resident, service."""
    out = []
    for rid, day, service in demand:
        hits = [e for e in effects_by_day.get(day, ()) if e[0] == rid and e[1] == service]
        if not hits:
            continue
        best = min(hits, key=lambda e: (_PRECEDENCE[e[2]], -(e[3] or 0.0), e[4], e[5],
                                        e[8] is not None, e[8] or 0))
        _, _, effect, rate, cons, via, cause_type, cause, spell = best
        out.append((rid, day, service, _DECISION[effect], rate, cons, cause_type, cause, via,
                    spell))
    return sorted(out, key=lambda d: (d[1], d[0], d[2]))
