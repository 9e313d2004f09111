"""The steps of a round of the platform loop, in order (``ROUND_STEPS``).

Each step is a function ``(RoundContext, RoundState, Round) -> Round`` that adds
its own part to the round. The steps are the platform's, and read no truth; where
residents act (objections, repayments, deterrence and gaming) or the court
records, they call the world side with its opaque handles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from creditsim.platform.appeals import answer_objections, apply_appeals
from creditsim.platform.state import (
    Appealed,
    Intervals,
    Responded,
    Round,
    RoundContext,
    RoundState,
    Scored,
    Served,
    need,
)
from creditsim.platform.stream import (
    link_by_case,
    linked_records,
    member_of,
    merge_rescored,
    mix,
    only,
)
from creditsim.platform.world.residents import objections, repayments
from creditsim.platform.world.truth import (
    Repayments,
    court_records,
    first_flipped_day,
    flipped_records,
    spell_facts,
    thinned,
)
from creditsim.policy import (
    Policy,
    PolicyResult,
    Records,
    apply_policy,
    monthly_scores,
    override_spells,
)
from creditsim.services import (
    DrawnDemand,
    decide,
    effect_intervals,
    individual_demand,
    state_intervals,
)


@dataclass(frozen=True)
class Step:
    """One step of a round: a name (its seconds in loop.json), its function, what it
    does, and the fields of the round's state no later step reads (the loop lets
    them go after the step: the last round's scoring and intervals are as large as
    this round's, which replace them)."""

    name: str
    fn: Callable[[RoundContext, RoundState, Round], Round]
    doc: str
    releases: tuple[str, ...] = ()


def score(ctx: RoundContext, state: RoundState, rnd: Round) -> Round:
    """The court's records of the residents' repayments, then the policy applied to
    every record that exists: everyone in round 0, later only the residents whose
    linked records changed (the engine treats residents independently), merged."""
    p, spec = ctx.platform, ctx.platform.spec
    ev, rec, cases = court_records(ctx.world, state.repaid, p.stream.next_record_id,
                                   p.models.repayment.court_lag_days.value)
    lk = link_by_case(p.links, cases, rec)
    rep = Repayments(events=ev, records=rec, links=lk, linked=linked_records({"court": rec}, lk))
    linked, n = p.stream.linked, p.register.height
    if state.scored is None or state.changed is None or not p.models.incremental:
        # The kept stream is handed over, not held here: the engine lets it go
        # before its snapshots, the peak of the run at city scale.
        raw = apply_policy(p.policy, p.register,
                           pl.concat([linked.filter(pl.Series(state.present)), rep.linked]),
                           days=spec.days, start_date=spec.start_date)
        covered, rescored = raw.covered_from, n
    else:
        assert state.covered is not None
        hit = member_of(state.changed, n)  # unlinked records (null) never hit
        sub = apply_policy(p.policy, p.register, pl.concat([
            linked.filter(pl.Series(state.present) & hit(linked["resident_id"])),
            only(rep.linked, hit)]), days=spec.days, start_date=spec.start_date,
            covered_from=state.covered)
        raw = merge_rescored(state.scored, sub, state.changed)
        covered, rescored = state.covered, len(state.changed)
    return replace(rnd, scored=Scored(rep=rep, result=raw, covered=covered, rescored=rescored))


def appeal_and_repay(ctx: RoundContext, state: RoundState, rnd: Round) -> Round:
    """Residents object to wrongful spells and the platform answers; upheld
    objections end the spell and re-derive the appellant's caps and scores. Listed
    debtors repay (a behavioural response: off with --no-feedback)."""
    p, w, s = ctx.platform, ctx.world, need(rnd.scored)
    res = s.result
    facts = spell_facts(w, res.list_spells, s.rep)
    appeals = answer_objections(objections(w, facts, p.models.appeals), seed=p.spec.seed,
                                start_date=p.spec.start_date, model=p.models.appeals)
    who = np.zeros(0, dtype=np.int64)
    if appeals.height and (appeals["outcome"] == "upheld").any():
        res, who = _uphold(p.policy, p.stream.linked, state.present, res, appeals, p.spec.days)
        facts = spell_facts(w, res.list_spells, s.rep)
    repaid = repayments(w, facts, p.models.repayment) if p.models.feedback.enabled \
        else state.repaid
    return replace(rnd, appealed=Appealed(result=res, facts=facts, appeals=appeals,
                                          appellants=who, repaid=repaid))


def _uphold(policy: Policy, linked: pl.DataFrame, present: np.ndarray, result: PolicyResult,
            appeals: pl.DataFrame, days: int) -> tuple[PolicyResult, np.ndarray]:
    """``result`` with the spells of upheld objections ended, and the ids of their
    appellants, whose list-driven caps and score snapshots are re-derived from
    their records (the rows of ``linked`` that are ``present``)."""
    n = int(result.covered_from.size)
    spells = apply_appeals(result.list_spells, appeals)
    who = appeals.filter(pl.col("outcome") == "upheld")["resident_id"].unique(
    ).to_numpy().astype(np.int64)
    mine = member_of(who, n)
    # One filter (a kept-records copy of the whole stream would be ~1.5 GB).
    sub_linked = linked.filter(pl.Series(present) & mine(linked["resident_id"]))
    ov = override_spells(policy, Records.from_frame(sub_linked, n, days), result.covered_from,
                         only(spells, mine))
    res = replace(result, list_spells=spells, override_spells=mix(result.override_spells, ov,
                                                                  mine))
    # Only the appellants' snapshots change: recompute theirs and merge.
    sub = replace(res, ledger=only(res.ledger, mine), list_spells=only(res.list_spells, mine),
                  override_spells=ov)
    return replace(res, scores=mix(res.scores, monthly_scores(sub), mine)), who


def serve(ctx: RoundContext, state: RoundState, rnd: Round) -> Round:
    """State and effect intervals of the platform's view, then the decisions on the
    affected residents' demand. After round 0 the intervals are recomputed only for
    residents whose platform state may differ: those re-scored and this and the
    last round's appellants."""
    p, a = ctx.platform, need(rnd.appealed)
    res = a.result
    if state.intervals is None or state.changed is None or not p.models.incremental:
        states = state_intervals(res) if p.policy.scores else None
        intervals = Intervals(states, effect_intervals(res, p.register, states))
    else:
        touched = np.unique(np.concatenate([state.changed, a.appellants, state.appellants]))
        intervals = update_intervals(res, p.register, state.intervals, touched)
    affected = intervals.effects["resident_id"].unique().to_numpy()
    dem = individual_demand(p.register, affected, seed=p.spec.seed, days=p.spec.days,
                            start_date=p.spec.start_date, services=p.services,
                            model=p.models.demand)
    drawn = DrawnDemand.of(p.register, affected, dem, services=p.services,
                           start_date=p.spec.start_date)
    return replace(rnd, served=Served(intervals=intervals,
                                      decisions=decide(dem, intervals.effects), drawn=drawn))


def respond(ctx: RoundContext, state: RoundState, rnd: Round) -> Round:
    """Residents respond to the round (deterrence, gaming: which candidate events
    happen next); the platform residents whose linked records change — those of
    the records of flipped events, and of cases whose repayment changed — are the
    next round's to re-score."""
    p, w = ctx.platform, ctx.world
    s, a, v = need(rnd.scored), need(rnd.appealed), need(rnd.served)
    keep = thinned(w, a.result.list_spells, v.decisions, v.intervals.states, p.models.feedback)
    flip = keep != state.keep
    flipped = flipped_records(w, flip)
    moved = p.stream.resident[flipped]
    # Case records are court records, so in the stream.
    case_ids = pl.concat([state.repaid, a.repaid]).unique(keep="none")[
        "case_record_id"].to_numpy()
    case_pos = p.stream.pos[case_ids[case_ids < len(p.stream.pos)]]
    rep_who = p.stream.resident[case_pos[case_pos >= 0]]
    changed = np.unique(np.concatenate([moved, rep_who]))
    changed = changed[changed >= 0].astype(np.int64)
    summary = {"round": rnd.number, "events": int(state.keep.sum()) + s.rep.events.height,
               "rescored_residents": int(s.rescored),
               "listed": int(a.result.list_spells["resident_id"].n_unique()),
               "decisions": v.decisions.height, "appeals": a.appeals.height,
               "repayments": s.rep.events.height, "events_changed_next": int(flip.sum()),
               "first_changed_day": first_flipped_day(w, flip),
               "repayments_changed_next": not state.repaid.equals(a.repaid)}
    return replace(rnd, responded=Responded(keep=keep, flipped=flipped, changed=changed,
                                            summary=summary))


def update_intervals(res: PolicyResult, register: pl.DataFrame, prev: Intervals,
                     touched: np.ndarray) -> Intervals:
    """The state and effect intervals of ``res``, from the previous round's where
    only the residents ``touched`` (sorted ids) can differ: a resident's intervals
    depend only on their own scores, spells and coverage, and an effect's on its
    causing (via) resident."""
    hit = member_of(touched, int(res.covered_from.size))
    sub = replace(res, scores=only(res.scores, hit), list_spells=only(res.list_spells, hit))
    states, new_states = prev.states, None
    if states is not None:
        new_states = state_intervals(sub)
        states = pl.concat([states.filter(~hit(states["resident_id"])), new_states])
    new_fx = effect_intervals(sub, register, new_states, only=touched)
    kept = prev.effects.filter(~hit(prev.effects["via_resident_id"]))
    return Intervals(states, pl.concat([kept, new_fx]) if new_fx.height else kept)


#: The steps of a round, in order. The appeals step comes before serving: an upheld
#: objection ends a spell the same round's decisions must not act on.
ROUND_STEPS: list[Step] = [
    Step("score", score, "the court's repayment records; the policy applied to the "
         "records that exist (round 0: everyone; later: residents whose records changed)",
         releases=("scored",)),
    Step("appeal_and_repay", appeal_and_repay, "residents object to wrongful spells and the "
         "platform answers; listed debtors repay"),
    Step("serve", serve, "state and effect intervals; decisions on the affected residents' "
         "demand for services", releases=("intervals",)),
    Step("respond", respond, "deterrence and gaming thin the candidate events; which "
         "residents' records change next round"),
]
