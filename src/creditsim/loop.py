"""The platform loop: policy → services → appeals and repayment → feedback.

Simulated time is the day. The loop does not step day by day; it iterates the
whole horizon to a fixed point (waveform relaxation), which gives exactly the
result of stepping through time while keeping every round's work proportional to
the records, not to residents × days:

* Causality: a resident's behaviour on day *t* depends only on the platform's
  state before *t* (sanctions, scores), and the platform's state on day *t* only on
  records entered before or on *t*.
* Round 0 runs the platform on the behaviour without feedback. Each later round
  recomputes repayments (after listing), objections and the feedback multipliers
  from the previous round's platform state, re-thins the candidate events, and
  re-runs the platform. Round *r* reproduces the day-by-day loop exactly up to the
  first day that changed in round *r − 1*, so the rounds converge; the loop stops
  when a round changes nothing (or at ``max_rounds``, which the manifest reports
  with the number of events still changing).

All state between rounds is tables (candidate keep masks, repayment events),
so a run could be resumed from them.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from creditsim import catalogue as cat
from creditsim.appeals import AppealsModel, RepaymentModel, objections, repayments
from creditsim.appeals.model import APPEALS_SCHEMA, apply_appeals
from creditsim.feedback import (
    Candidates,
    FeedbackModel,
    first_sanction_day,
    gaming_intervals,
    keep_mask,
)
from creditsim.policy import Policy, PolicyResult, apply_policy
from creditsim.policy.engine import Records, monthly_scores, override_spells
from creditsim.services import decide, demand_totals, effect_intervals, individual_demand
from creditsim.services import evaluate as sv_eval
from creditsim.services.decide import state_intervals


@dataclass
class LoopModels:
    feedback: FeedbackModel = field(default_factory=FeedbackModel)
    appeals: AppealsModel = field(default_factory=AppealsModel)
    repayment: RepaymentModel = field(default_factory=RepaymentModel)
    max_rounds: int = 6
    #: Re-score only residents whose records changed after round 0 (same result;
    #: tested against full re-scoring).
    incremental: bool = True


@dataclass
class LoopResult:
    tables: dict[str, pl.DataFrame]
    rounds: list[dict[str, Any]]
    timings: dict[str, float]


def platform_view(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` without its truth columns: what the platform may see."""
    return df.select([c for c in df.columns if not c.startswith("truth_")])


#: The columns of the consolidated record stream the policy engine reads.
STREAM_COLUMNS = ("record_id", "department", "kind", "day_event", "day_recorded", "amount",
                  "case_number")


def record_stream(records: Mapping[str, pl.DataFrame], *extra: str) -> pl.DataFrame:
    """Every department's records in one table: STREAM_COLUMNS (case_number null
    outside the courts) plus ``extra`` columns."""
    return pl.concat([
        df.select(*STREAM_COLUMNS[:-1],
                  (pl.col("case_number") if "case_number" in df.columns
                   else pl.lit(None, dtype=pl.String)).alias("case_number"), *extra)
        for df in records.values()])


def linked_records(records: Mapping[str, pl.DataFrame], links: pl.DataFrame) -> pl.DataFrame:
    """The platform's consolidated stream: every record with the resident the
    platform assigned it to (null when unlinked)."""
    return record_stream(records).join(links.select("record_id", "resident_id"),
                                       on="record_id", how="left", maintain_order="left")


def _green_threshold(policy: Policy) -> int | None:
    lows = []
    for c in policy.consequences:
        if c.effect not in ("expedite", "discount"):
            continue
        if c.score_min is not None:
            lows.append(int(c.score_min))
        elif c.tiers:
            lows += [int(t.min) for t in policy.tiers if t.name in c.tiers]
    return min(lows) if lows else None


def _repayment_rows(rep: pl.DataFrame, records: pl.DataFrame, links: pl.DataFrame,
                    next_record_id: int, next_event_id: int, lag: int, days: int
                    ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Truth events, court records and links for repayments (case-number linked)."""
    case = records.join(rep.select(pl.col("case_record_id").alias("record_id"), "day"),
                        on="record_id", how="inner").sort("record_id")
    n = case.height
    ev = pl.DataFrame({
        "event_id": pl.Series(np.arange(next_event_id, next_event_id + n), dtype=pl.Int64),
        "resident_id": case["truth_resident_id"],
        "day": case["day"].cast(pl.Int16),
        "department": pl.Series(["court"] * n).cast(cat.DepartmentT),
        "kind": pl.Series(["judgment_performed"] * n).cast(cat.KindT),
        "amount": case["amount"],
        "ref_event_id": pl.Series([None] * n, dtype=pl.Int64),
    })
    recorded = (case["day"] + lag).cast(pl.Int16)
    rec = case.with_columns(
        pl.Series("record_id", np.arange(next_record_id, next_record_id + n), dtype=pl.Int64),
        pl.lit("judgment_performed").cast(cat.KindT).alias("kind"),
        pl.col("day").cast(pl.Int16).alias("day_event"),
        recorded.alias("day_recorded"),
        ev["event_id"].alias("truth_event_id"),
    ).drop("day").filter(pl.col("day_recorded") < days)
    lk = links.join(case.select(pl.col("record_id").alias("case_rid"),
                                pl.Series("new_rid", np.arange(next_record_id,
                                                               next_record_id + n))),
                    left_on="record_id", right_on="case_rid", how="inner").with_columns(
        pl.col("new_rid").cast(pl.Int64).alias("record_id")).drop("new_rid")
    lk = lk.join(rec.select("record_id"), on="record_id", how="semi")
    return ev, rec, lk.select(links.columns)


def _merge(prev: PolicyResult, sub: PolicyResult, changed: np.ndarray) -> PolicyResult:
    """``prev`` with the rows of residents ``changed`` replaced by ``sub``'s."""
    hit = _member_of(changed, int(prev.covered_from.size))
    return replace(prev, ledger=_mix(prev.ledger, sub.ledger, hit),
                   scores=_mix(prev.scores, sub.scores, hit),
                   list_spells=_mix(prev.list_spells, sub.list_spells, hit),
                   override_spells=_mix(prev.override_spells, sub.override_spells, hit))


def _mix(a: pl.DataFrame, b: pl.DataFrame, hit: Callable[[pl.Series], pl.Series]
         ) -> pl.DataFrame:
    """``a``'s rows of residents not ``hit``, then ``b``'s rows of residents hit."""
    return pl.concat([a.filter(~hit(a["resident_id"])), _only(b, hit)])


def _only(df: pl.DataFrame, hit: Callable[[pl.Series], pl.Series]) -> pl.DataFrame:
    """``df``'s rows of residents ``hit``."""
    return df.filter(hit(df["resident_id"]))


def run_loop(residents: pl.DataFrame, candidates: pl.DataFrame,
             records: dict[str, pl.DataFrame], links: pl.DataFrame, policy: Policy, *,
             seed: int, days: int, start_date: dt.date, models: LoopModels,
             full_records: Mapping[str, Callable[[np.ndarray, pl.DataFrame], pl.DataFrame]]
             | None = None,
             emit: Callable[[str, pl.DataFrame], None] | None = None,
             totals: pl.DataFrame | None = None) -> LoopResult:
    """Run the platform loop to its fixed point. See the module docstring.

    Round 0 scores everyone; later rounds re-score only the residents whose linked
    records changed (the engine treats residents independently) and merge.
    ``records`` is consumed: its tables are removed as the final ones are made.
    ``residents`` and ``candidates`` are let go before the final tables are made
    (their memory is freed if the caller holds no other reference).
    ``full_records`` completes, per department, the rows of the full table that a
    boolean mask selects, when ``records`` holds only the columns the loop reads
    (same rows, same order): it is called with the mask and those rows of the
    loop's columns, and returns the full rows; the final ``records/<department>``
    tables are made so.
    ``emit(name, table)``, if given, takes each large final table (events, records,
    links, ledger, scores) as soon as it is made — the pipeline writes it and lets
    it go — instead of returning it.
    ``totals`` is :func:`~creditsim.services.demand_totals` of the residents if
    already computed (it depends on nothing else).
    """
    t: dict[str, float] = {k: 0.0 for k in ("setup", "policy", "services", "appeals",
                                            "feedback")}
    t0 = time.perf_counter()
    n = residents.height
    register = platform_view(residents)
    court = records["court"]
    rec_all = record_stream(records, "truth_event_id")
    # Each record's candidate event (row in ``candidates``) and platform resident.
    cand_ids = candidates["event_id"].to_numpy()
    assert np.all(np.diff(cand_ids) > 0), "candidates must be sorted by event_id"
    rec_cand = _event_rows(cand_ids, rec_all["truth_event_id"].to_numpy())
    # Row of each record id in rec_all (record ids are dense across departments).
    rids = rec_all["record_id"].to_numpy()
    rec_pos = np.full(int(rids.max()) + 1 if len(rids) else 0, -1, dtype=np.int64)
    rec_pos[rids] = np.arange(len(rids))
    # The platform's resident of each record, placed by record-id position (the same
    # as joining ``links`` on record_id, without a 30M-row join).
    lk_pos = cat.rows_of(rids, links["record_id"].to_numpy())
    assigned = np.full(len(rids), -1, dtype=np.int32)
    on = lk_pos >= 0
    assigned[lk_pos[on]] = links["resident_id"].fill_null(-1).to_numpy()[on]
    linked_all = rec_all.drop("truth_event_id").with_columns(
        pl.Series("resident_id", assigned, dtype=pl.Int32).set(pl.Series(assigned < 0), None))
    del lk_pos, on, assigned
    # From here on only (record_id, truth_event_id) of rec_all is needed: keep it slim.
    rec_all = rec_all.select("record_id", "truth_event_id")
    rec_platform = linked_all["resident_id"].fill_null(-1).to_numpy()
    cinfo = Candidates.of(candidates, seed)
    court_events = candidates.filter(pl.col("department") == "court").drop("boost")
    next_rid = int(rec_all["record_id"].max() or 0) + 1
    next_eid = int(cand_ids.max() if len(cand_ids) else 0) + 1
    per_case_lists = {lst.id for lst in policy.lists if lst.per_case and lst.exit_kinds}
    green = _green_threshold(policy)
    if totals is None:
        totals = demand_totals(residents, seed=seed, days=days, start_date=start_date)
    services_used = {c.service for c in policy.consequences}
    no_gaming = pl.DataFrame(schema={"resident_id": pl.Int32, "start": pl.Int32,
                                     "end": pl.Int32})
    keep = keep_mask(cinfo, np.full(n, 2**31 - 1), no_gaming, models.feedback)
    rep = pl.DataFrame(schema={"case_record_id": pl.Int64, "resident_id": pl.Int32,
                               "day": pl.Int32})
    t["setup"] += time.perf_counter() - t0
    rounds: list[dict[str, Any]] = []
    raw: PolicyResult | None = None
    changed_res: np.ndarray | None = None
    # The previous round's state and effect intervals, and its appellants: a round
    # recomputes intervals only for residents whose platform state may differ.
    prev_fx: tuple[pl.DataFrame | None, pl.DataFrame] | None = None
    prev_who = np.zeros(0, dtype=np.int64)
    # Which records happen: kept candidates' records (a 30M-row gather; later rounds
    # flip only the records of the candidates that flipped).
    rec_keep = keep[rec_cand]
    for r in range(models.max_rounds):
        t0 = time.perf_counter()
        rep_ev, rep_rec, rep_lk = _repayment_rows(rep, court, links, next_rid, next_eid,
                                                  models.repayment.court_lag_days.value, days)
        rep_linked = linked_records({"court": rep_rec}, rep_lk)
        if raw is None or changed_res is None or not models.incremental:
            # The kept stream is handed over, not held here: the engine lets it go
            # before its snapshots, the peak of the run at city scale.
            raw = apply_policy(policy, register,
                               pl.concat([linked_all.filter(pl.Series(rec_keep)), rep_linked]),
                               days=days, start_date=start_date)
            covered = raw.covered_from  # the same for every application below
            n_rescored = n
        else:
            hit = _member_of(changed_res, n)  # unlinked records (null) never hit
            linked = pl.concat([
                linked_all.filter(pl.Series(rec_keep) & hit(linked_all["resident_id"])),
                _only(rep_linked, hit)])
            sub = apply_policy(policy, register, linked, days=days, start_date=start_date,
                               covered_from=covered)
            raw = _merge(raw, sub, changed_res)
            n_rescored = len(changed_res)
        res = replace(raw)
        t["policy"] += time.perf_counter() - t0

        t0 = time.perf_counter()
        lk_rep = pl.concat([links, rep_lk]) if rep_lk.height else links
        spells_t = _spell_truth(res.list_spells, lk_rep, rec_all, rep_rec, court_events, rep_ev,
                                rec_pos)
        spells_l = sv_eval.label_spells(spells_t, days)
        appeals = objections(spells_l, residents, seed=seed, days=days, start_date=start_date,
                             model=models.appeals)
        who_np = np.zeros(0, dtype=np.int64)
        if appeals.height and (appeals["outcome"] == "upheld").any():
            res.list_spells = apply_appeals(res.list_spells, appeals)
            # Re-derive list-driven caps and the score snapshots of those residents.
            who_np = appeals.filter(pl.col("outcome") == "upheld")["resident_id"].unique(
            ).to_numpy().astype(np.int64)
            mine = _member_of(who_np, n)
            # One filter (a kept-records copy of the whole stream would be ~1.5 GB).
            sub_linked = linked_all.filter(pl.Series(rec_keep) & mine(linked_all["resident_id"]))
            ov = override_spells(policy, Records.from_frame(sub_linked, n, days),
                                 res.covered_from, _only(res.list_spells, mine))
            res.override_spells = _mix(res.override_spells, ov, mine)
            # Only the appellants' snapshots change: recompute theirs and merge.
            sub = replace(res, ledger=_only(res.ledger, mine),
                          list_spells=_only(res.list_spells, mine),
                          override_spells=ov)
            res.scores = _mix(res.scores, monthly_scores(sub), mine)
            spells_t = _spell_truth(res.list_spells, lk_rep, rec_all, rep_rec, court_events,
                                    rep_ev, rec_pos)
        # Repaying to get off a list is a behavioural response: off with --no-feedback.
        new_rep = repayments(spells_t, residents, seed=seed, days=days,
                             model=models.repayment, lists=per_case_lists) \
            if models.feedback.enabled else rep
        t["appeals"] += time.perf_counter() - t0

        t0 = time.perf_counter()
        if prev_fx is None or changed_res is None or not models.incremental:
            states = state_intervals(res) if policy.scores else None
            effects = effect_intervals(res, register, states)
        else:
            # Re-scored residents and this round's and the last round's appellants.
            touched = np.unique(np.concatenate([changed_res, who_np, prev_who]))
            states, effects = _update_intervals(res, register, *prev_fx, touched)
        prev_fx, prev_who = (states, effects), who_np
        affected = effects["resident_id"].unique().to_numpy()
        dem = individual_demand(residents, affected, seed=seed, days=days,
                                start_date=start_date, services=services_used)
        decisions = decide(dem, effects)
        t["services"] += time.perf_counter() - t0

        t0 = time.perf_counter()
        if states is not None and green is not None:
            gaming = gaming_intervals(states, green, models.feedback.gaming_band.value)
        else:
            gaming = no_gaming
        sday = first_sanction_day(n, res.list_spells, decisions)
        new_keep = keep_mask(cinfo, sday, gaming, models.feedback)
        flip = new_keep != keep
        changed = int(flip.sum())
        rep_changed = not rep.equals(new_rep)
        first_changed = int(cinfo.day[flip].min()) if changed else None
        # Platform residents whose linked records change next round: those of the
        # records of flipped candidates, and those of cases whose repayment changed
        # (case records are court records, so in rec_all).
        rec_flip = _member_of(np.flatnonzero(flip), len(flip))(pl.Series(rec_cand)).to_numpy()
        moved = rec_platform[rec_flip]
        rep_diff = pl.concat([rep, new_rep]).unique(keep="none")
        case_ids = rep_diff["case_record_id"].to_numpy()
        case_pos = rec_pos[case_ids[case_ids < len(rec_pos)]]
        rep_who = rec_platform[case_pos[case_pos >= 0]]
        changed_res = np.unique(np.concatenate([moved, rep_who]))
        changed_res = changed_res[changed_res >= 0].astype(np.int64)
        rounds.append({"round": r, "events": int(keep.sum()) + rep_ev.height,
                       "rescored_residents": int(n_rescored),
                       "listed": int(res.list_spells["resident_id"].n_unique()),
                       "decisions": decisions.height, "appeals": appeals.height,
                       "repayments": rep_ev.height, "events_changed_next": changed,
                       "first_changed_day": first_changed,
                       "repayments_changed_next": rep_changed})
        t["feedback"] += time.perf_counter() - t0
        if changed == 0 and not rep_changed:
            break
        keep, rep = new_keep, new_rep
        rec_keep = rec_keep ^ rec_flip  # = keep[rec_cand]

    # Final tables (the last round's, which is the fixed point if it converged).
    spells_out = sv_eval.label_spells(spells_t, days).drop("truth_performed_day")
    dec_out = sv_eval.label_decisions(decisions, spells_t)
    t0 = time.perf_counter()
    dec_out = _label_state_decisions(dec_out, policy, register, linked_all, rec_all, rec_keep,
                                     rec_pos, links, rep_linked, rep_lk, days, start_date,
                                     covered)
    t["truth_world"] = time.perf_counter() - t0
    # The round's working tables are no longer needed: release them before the
    # final tables are made (the peak of the stage at city scale).
    del linked_all, rec_all, rec_platform, cinfo, raw, states, effects, dem, gaming
    del new_keep, flip, moved, court_events
    counts = dec_out.group_by("day", "service").agg(
        (pl.col("decision") == "denied").sum().cast(pl.UInt32).alias("denied"),
        (pl.col("decision") == "expedited").sum().cast(pl.UInt32).alias("expedited"),
        (pl.col("decision") == "discounted").sum().cast(pl.UInt32).alias("discounted"))
    demand = totals.join(counts, on=["day", "service"], how="left").fill_null(0).with_columns(
        (pl.col("demands").cast(pl.Int64) - pl.col("denied") - pl.col("expedited")
         - pl.col("discounted")).clip(lower_bound=0).cast(pl.UInt32).alias("allowed"))
    demand = demand.select("day", "service", "demands", "allowed", "denied", "expedited",
                           "discounted").sort("day", "service")
    big: dict[str, pl.DataFrame] = {}  # the large final tables, emitted as made

    def put(name: str, df: pl.DataFrame) -> None:
        if emit is not None:
            emit(name, df)
        else:
            big[name] = df

    # The residents and candidates are not needed past here: when the caller handed
    # them over (as the pipeline does), they are released before the big tables are
    # made — the stage's peak of memory at city scale.
    del residents, register
    put("events", pl.concat([candidates.filter(pl.Series(keep)).drop("boost"), rep_ev]))
    del candidates
    for d in list(records):
        # One department at a time, releasing the candidate table once filtered
        # (the caller hands the loop its records dict to consume).
        df = records.pop(d)
        kept_rec = keep[_event_rows(cand_ids, df["truth_event_id"].to_numpy())]
        if full_records is not None and d in full_records:
            df2 = full_records[d](kept_rec, df.filter(pl.Series(kept_rec)))
            assert df2.height == int(kept_rec.sum()), f"full {d} records do not match"
        else:
            df2 = df.filter(pl.Series(kept_rec)) if not kept_rec.all() else df
        del df
        if d == "court" and rep_rec.height:
            df2 = pl.concat([df2, rep_rec.select(df2.columns)])
        put(f"records/{d}", df2)
        del df2
    put("links", pl.concat([links.filter(pl.Series(keep[rec_cand[rec_pos[
        links["record_id"].to_numpy()]]])), rep_lk]))
    # The engine's ledger is sorted by resident; the rounds' merges append the
    # re-scored residents' rows (each resident's rows stay together and in order), so
    # a stable sort by resident restores the engine's order.
    put("ledger", res.ledger if res.ledger["resident_id"].is_sorted() else
        res.ledger.sort("resident_id", maintain_order=True))
    # (month, resident) is unique: one int64 key gives the same order faster.
    put("scores", res.scores.sort(pl.col("month").cast(pl.Int64) * (1 << 32)
                                  + pl.col("resident_id").cast(pl.Int64)))
    tables = {**big,
              "list_spells": spells_out, "decisions": dec_out, "demand": demand,
              "appeals": appeals if appeals.height else pl.DataFrame(schema=APPEALS_SCHEMA)}
    return LoopResult(tables=tables, rounds=rounds, timings=t)


def _update_intervals(res: PolicyResult, register: pl.DataFrame, states: pl.DataFrame | None,
                      effects: pl.DataFrame, touched: np.ndarray
                      ) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    """The state and effect intervals of ``res``, from the previous round's (``states``,
    ``effects``) where only the residents ``touched`` (sorted ids) can differ: a
    resident's intervals depend only on their own scores, spells and coverage, and
    an effect's on its causing (via) resident."""
    hit = _member_of(touched, int(res.covered_from.size))
    sub = replace(res, scores=_only(res.scores, hit), list_spells=_only(res.list_spells, hit))
    new_states = None
    if states is not None:
        new_states = state_intervals(sub)
        states = pl.concat([states.filter(~hit(states["resident_id"])), new_states])
    new_fx = effect_intervals(sub, register, new_states, only=touched)
    kept = effects.filter(~hit(effects["via_resident_id"]))
    effects = pl.concat([kept, new_fx]) if new_fx.height else kept
    return states, effects


def _member_of(ids: np.ndarray, n: int) -> Callable[[pl.Series], pl.Series]:
    """A test "resident id is one of ``ids``" (ids in 0..n-1) for Series of ids.

    Few ids (a round's changed residents): Polars' ``is_in`` against a small hash
    set. Many: a flag per resident id, looked up per row. (At city scale a lookup
    in a 22 MB table misses the cache on almost every row, so is_in on a small set
    is several times faster.)"""
    if ids.size <= n // 64:
        s = pl.Series(ids.astype(np.int64))
        return lambda col: col.is_in(s.cast(col.dtype).implode()).fill_null(False)
    flag = np.zeros(n + 1, dtype=bool)
    flag[ids] = True
    return lambda col: pl.Series(flag[(col.fill_null(n) if col.null_count() else col)
                                      .to_numpy()])


def _event_rows(cand_ids: np.ndarray, event_ids: np.ndarray) -> np.ndarray:
    """Row of each event id in the sorted candidate ids (direct when they are dense,
    as the behaviour stage makes them)."""
    if len(cand_ids) and cand_ids[-1] - cand_ids[0] + 1 == len(cand_ids):
        return (event_ids - cand_ids[0]).astype(np.int64)
    return np.searchsorted(cand_ids, event_ids)


def _label_state_decisions(dec: pl.DataFrame, policy: Policy, register: pl.DataFrame,
                           linked_all: pl.DataFrame, rec_all: pl.DataFrame,
                           rec_keep: np.ndarray, rec_pos: np.ndarray, links: pl.DataFrame,
                           rep_linked: pl.DataFrame, rep_lk: pl.DataFrame, days: int,
                           start_date: dt.date, covered: np.ndarray) -> pl.DataFrame:
    """Tier- and score-caused decisions against a truth-world scoring (the same
    records, each linked to its true subject, duplicates removed). ``covered`` is
    the policy's coverage of the register (the platform's, which is the truth's:
    coverage reads only the register)."""
    if not policy.scores or not dec.filter(
            pl.col("cause_type").cast(pl.String).is_in(["tier", "score"])).height:
        return dec
    # Only the subjects of such decisions need scoring, and a subject's truth-world
    # state depends only on the records that are truly theirs.
    subjects = dec.filter(pl.col("cause_type").cast(pl.String).is_in(["tier", "score"]))[
        "via_resident_id"].unique().implode()
    truth_of = pl.concat([links, rep_lk]).select("record_id", "truth_resident_id").filter(
        pl.col("truth_resident_id").is_in(subjects))
    theirs = np.zeros(len(rec_keep), dtype=bool)
    rid = truth_of["record_id"].to_numpy()
    pos = rec_pos[rid[rid < len(rec_pos)]]  # repayment records are not in rec_all
    theirs[pos[pos >= 0]] = True
    sel = pl.Series(rec_keep & theirs)
    kept = linked_all.filter(sel).drop("resident_id").with_columns(
        rec_all.filter(sel)["truth_event_id"])
    kept = pl.concat([kept, rep_linked.drop("resident_id").with_columns(
        pl.lit(None, dtype=pl.Int64).alias("truth_event_id"))])
    truth_stream = kept.join(truth_of, on="record_id", how="left").rename(
        {"truth_resident_id": "resident_id"})
    # One record per event (the first entered), as a perfect platform would hold.
    truth_stream = truth_stream.sort("record_id").unique(
        ["truth_event_id"], keep="first", maintain_order=True) if truth_stream.height else \
        truth_stream
    tw = apply_policy(policy, register, truth_stream.drop("truth_event_id"), days=days,
                      start_date=start_date, covered_from=covered)
    conditions = {c.id: (c.tiers, c.score_min) for c in policy.consequences
                  if c.tiers is not None or c.score_min is not None}
    base = (policy.scale.baseline if policy.scale else None, tw.baseline_tier)
    return sv_eval.label_state_decisions(dec, state_intervals(tw), base, conditions,
                                         pl.concat([links, rep_lk]))


def _spell_truth(spells: pl.DataFrame, links: pl.DataFrame, rec_all: pl.DataFrame,
                 rep_rec: pl.DataFrame, court_events: pl.DataFrame,
                 rep_ev: pl.DataFrame, rec_pos: np.ndarray) -> pl.DataFrame:
    """Truth labels of the (few) spells, joining only the rows they need."""
    ids = spells["record_id"].implode()
    lk = links.filter(pl.col("record_id").is_in(ids))
    # spells of a score list that start at coverage (a baseline below the
    # threshold) have no record
    rid = spells["record_id"].drop_nulls().to_numpy()
    rid = rid[rid < len(rec_pos)]
    pos = rec_pos[rid]
    rt = pl.concat([rec_all.select("record_id", "truth_event_id")[pos[pos >= 0]],
                    rep_rec.select("record_id", "truth_event_id").filter(
                        pl.col("record_id").is_in(ids))])
    ev = pl.concat([court_events, rep_ev.select(court_events.columns)])
    return sv_eval.spell_truth(spells, lk, rt, ev)
