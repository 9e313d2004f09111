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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from creditsim import catalogue as cat
from creditsim.appeals import AppealsModel, RepaymentModel, objections, repayments
from creditsim.appeals.model import APPEALS_SCHEMA, apply_appeals
from creditsim.feedback import FeedbackModel, first_sanction_day, gaming_intervals, keep_mask
from creditsim.policy import Policy, apply_policy
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


@dataclass
class LoopResult:
    tables: dict[str, pl.DataFrame]
    rounds: list[dict[str, Any]]
    timings: dict[str, float]


def platform_view(df: pl.DataFrame) -> pl.DataFrame:
    return df.select([c for c in df.columns if not c.startswith("truth_")])


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


def run_loop(residents: pl.DataFrame, candidates: pl.DataFrame,
             records: dict[str, pl.DataFrame], links: pl.DataFrame, policy: Policy, *,
             seed: int, days: int, start_date: dt.date, models: LoopModels) -> LoopResult:
    """Run the platform loop to its fixed point. See the module docstring."""
    t: dict[str, float] = {k: 0.0 for k in ("policy", "services", "appeals", "feedback")}
    n = residents.height
    register = platform_view(residents)
    court = records["court"]
    rec_all = pl.concat([df.select("record_id", "department", "kind", "day_event",
                                   "day_recorded", "amount", "truth_event_id",
                                   (pl.col("case_number") if "case_number" in df.columns
                                    else pl.lit(None, dtype=pl.String)).alias("case_number"))
                         for df in records.values()])
    next_rid = int(rec_all["record_id"].max() or 0) + 1
    next_eid = int(candidates["event_id"].max() or 0) + 1
    per_case_lists = {lst.id for lst in policy.lists if lst.per_case and lst.exit_kinds}
    green = _green_threshold(policy)
    totals = demand_totals(residents, seed=seed, days=days, start_date=start_date)
    services_used = {c.service for c in policy.consequences}

    keep = keep_mask(candidates, np.full(n, 2**31 - 1), pl.DataFrame(
        schema={"resident_id": pl.Int32, "start": pl.Int32, "end": pl.Int32}),
        models.feedback, seed)
    rep = pl.DataFrame(schema={"case_record_id": pl.Int64, "resident_id": pl.Int32,
                               "day": pl.Int32})
    rounds: list[dict[str, Any]] = []
    for r in range(models.max_rounds):
        t0 = time.perf_counter()
        kept_ids = candidates.filter(pl.Series(keep))["event_id"]
        rep_ev, rep_rec, rep_lk = _repayment_rows(rep, court, links, next_rid, next_eid,
                                                  models.repayment.court_lag_days.value, days)
        stream_ = pl.concat([
            rec_all.filter(pl.col("truth_event_id").is_in(kept_ids.implode())),
            rep_rec.select(rec_all.columns)])
        lk = pl.concat([links, rep_lk])
        linked = stream_.drop("truth_event_id").join(
            lk.select("record_id", "resident_id"), on="record_id", how="left",
            maintain_order="left")
        res = apply_policy(policy, register, linked, days=days, start_date=start_date)
        t["policy"] += time.perf_counter() - t0

        t0 = time.perf_counter()
        ev_r = pl.concat([candidates.filter(pl.Series(keep)).drop("boost"), rep_ev])
        rec_truth = pl.concat([rec_all.select("record_id", "truth_event_id"),
                               rep_rec.select("record_id", "truth_event_id")])
        spells_t = sv_eval.spell_truth(res.list_spells, lk, rec_truth, ev_r)
        spells_l = sv_eval.label_spells(spells_t, days)
        appeals = objections(spells_l, residents, seed=seed, days=days, start_date=start_date,
                             model=models.appeals)
        if appeals.height:
            res.list_spells = apply_appeals(res.list_spells, appeals)
            recs_obj = Records.from_frame(linked, n, days)
            res.override_spells = override_spells(policy, recs_obj, res.covered_from,
                                                  res.list_spells)
            res.scores = monthly_scores(res)
        # Repaying to get off a list is a behavioural response: off with --no-feedback.
        new_rep = repayments(spells_t, residents, seed=seed, days=days,
                             model=models.repayment, lists=per_case_lists) \
            if models.feedback.enabled else rep
        t["appeals"] += time.perf_counter() - t0

        t0 = time.perf_counter()
        effects = effect_intervals(res, register)
        affected = effects["resident_id"].unique().to_numpy()
        dem = individual_demand(residents, affected, seed=seed, days=days,
                                start_date=start_date, services=services_used)
        decisions = decide(dem, effects)
        t["services"] += time.perf_counter() - t0

        t0 = time.perf_counter()
        states = state_intervals(res) if policy.scores else pl.DataFrame()
        gaming = gaming_intervals(states, green, models.feedback.gaming_band.value) \
            if policy.scores else gaming_intervals(pl.DataFrame(), None, 0)
        sday = first_sanction_day(n, res.list_spells, decisions)
        new_keep = keep_mask(candidates, sday, gaming, models.feedback, seed)
        changed = int((new_keep != keep).sum())
        rep_changed = not rep.equals(new_rep)
        rounds.append({"round": r, "events": int(keep.sum()) + rep_ev.height,
                       "listed": int(res.list_spells["resident_id"].n_unique()),
                       "decisions": decisions.height, "appeals": appeals.height,
                       "repayments": rep_ev.height, "events_changed_next": changed,
                       "repayments_changed_next": rep_changed})
        t["feedback"] += time.perf_counter() - t0
        if changed == 0 and not rep_changed:
            break
        keep, rep = new_keep, new_rep

    # Final tables (the last round's, which is the fixed point if it converged).
    spells_t = sv_eval.spell_truth(res.list_spells, lk, rec_truth, ev_r)
    spells_out = sv_eval.label_spells(spells_t, days).drop("truth_performed_day")
    dec_out = sv_eval.label_decisions(decisions, spells_t)
    counts = dec_out.group_by("day", "service").agg(
        (pl.col("decision") == "denied").sum().cast(pl.UInt32).alias("denied"),
        (pl.col("decision") == "expedited").sum().cast(pl.UInt32).alias("expedited"),
        (pl.col("decision") == "discounted").sum().cast(pl.UInt32).alias("discounted"))
    demand = totals.join(counts, on=["day", "service"], how="left").fill_null(0).with_columns(
        (pl.col("demands").cast(pl.Int64) - pl.col("denied") - pl.col("expedited")
         - pl.col("discounted")).clip(lower_bound=0).cast(pl.UInt32).alias("allowed"))
    demand = demand.select("day", "service", "demands", "allowed", "denied", "expedited",
                           "discounted").sort("day", "service")
    events_out = ev_r.sort("event_id")
    rec_out = {}
    kept_set = events_out["event_id"].implode()
    for d, df in records.items():
        df2 = df.filter(pl.col("truth_event_id").is_in(kept_set))
        if d == "court" and rep_rec.height:
            df2 = pl.concat([df2, rep_rec.select(df2.columns)])
        rec_out[d] = df2
    links_out = lk.join(pl.concat([v.select("record_id") for v in rec_out.values()]),
                        on="record_id", how="semi")
    tables = {"events": events_out, **{f"records/{d}": v for d, v in rec_out.items()},
              "links": links_out, "ledger": res.ledger, "scores": res.scores,
              "list_spells": spells_out, "decisions": dec_out, "demand": demand,
              "appeals": appeals if appeals.height else pl.DataFrame(schema=APPEALS_SCHEMA)}
    return LoopResult(tables=tables, rounds=rounds, timings=t)
