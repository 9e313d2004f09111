"""The platform loop, iterated to its fixed point over the whole horizon.

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
  when a round changes nothing (or at the round cap, ``LoopModels.round_cap``: more
  rounds for a longer horizon; loop.json reports whether the loop converged and the
  events still changing).

A round is the steps of ``ROUND_STEPS``; all state between rounds is a
:class:`~creditsim.platform.state.RoundState` of tables and arrays.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl

from creditsim.platform.appeals import APPEALS_SCHEMA
from creditsim.platform.models import LoopModels, RunSpec
from creditsim.platform.state import (
    LoopInputs,
    Platform,
    Round,
    RoundContext,
    RoundState,
    Sink,
    need,
)
from creditsim.platform.steps import ROUND_STEPS
from creditsim.platform.stream import build_stream
from creditsim.platform.world.residents import REPAYMENTS_SCHEMA
from creditsim.platform.world.truth import (
    Happened,
    Rescoring,
    build_world,
    final_labels,
    first_keep,
    happened,
    happened_events,
    happened_records,
    platform_view,
)
from creditsim.services import DemandSpec, DrawnDemand, demand_totals, resident_cells


@dataclass
class LoopResult:
    tables: dict[str, pl.DataFrame]
    rounds: list[dict[str, Any]]
    timings: dict[str, float]  #: seconds: setup, each round step (all rounds), label, tables


@dataclass(frozen=True)
class Final:
    """What the final tables are made of: the last round's, labelled."""

    spells: pl.DataFrame
    decisions: pl.DataFrame
    appeals: pl.DataFrame
    ledger: pl.DataFrame
    scores: pl.DataFrame
    happened: Happened
    drawn: DrawnDemand  #: the individual demand the decisions act on, counted
    present: np.ndarray  #: which stream records exist
    pos: np.ndarray  #: the stream row of each record id


def run_loop(inputs: LoopInputs, spec: RunSpec, models: LoopModels, sink: Sink | None = None
             ) -> LoopResult:
    """Run the platform loop to its fixed point. See the module docstring.

    ``inputs`` is consumed: its records dict is emptied as the final tables are
    made, and the residents and candidates are let go before them (their memory is
    freed if the caller holds no other reference: at city scale that is the
    stage's peak). The final ``records/<department>`` tables are made per
    department, each candidate table released once filtered."""
    sink = sink or Sink()
    t: dict[str, float] = {"setup": 0.0, **{s.name: 0.0 for s in ROUND_STEPS}}
    t0 = time.perf_counter()
    candidates, records, links = inputs.candidates, inputs.records, inputs.links
    ctx, cells = _setup(inputs, spec, models)
    del inputs
    t["setup"] = time.perf_counter() - t0
    state, last, rounds = _iterate(ctx, t)
    t0 = time.perf_counter()
    final = _conclude(ctx, state, last)
    t["label"] = time.perf_counter() - t0
    # The rounds' working tables, the register and the residents are no longer
    # needed: released before the final tables are made (the stage's peak of memory
    # at city scale).
    del ctx, state, last
    t0 = time.perf_counter()
    big: dict[str, pl.DataFrame] = {}  # the large final tables, unless emitted as made

    def put(name: str, df: pl.DataFrame) -> None:
        if sink.emit is not None:
            sink.emit(name, df)
        else:
            big[name] = df

    put("events", happened_events(final.happened, candidates))
    del candidates
    for d in list(records):
        # One department at a time: the candidate table is handed over and let go
        # once filtered.
        put(f"records/{d}", happened_records(final.happened, d, records.pop(d),
                                             sink.full_records.get(d)))
    put("links", pl.concat([links.filter(pl.Series(final.present[final.pos[
        links["record_id"].to_numpy()]])), final.happened.rep.links]))
    # The engine's ledger is sorted by resident; the rounds' merges append the
    # re-scored residents' rows (each resident's rows stay together and in order), so
    # a stable sort by resident restores the engine's order.
    put("ledger", final.ledger if final.ledger["resident_id"].is_sorted() else
        final.ledger.sort("resident_id", maintain_order=True))
    # (month, resident) is unique: one int64 key gives the same order faster.
    put("scores", final.scores.sort(pl.col("month").cast(pl.Int64) * (1 << 32)
                                    + pl.col("resident_id").cast(pl.Int64)))
    tables = {**big, "list_spells": final.spells, "decisions": final.decisions,
              "demand": _demand(demand_totals(cells, final.drawn, DemandSpec(
                  seed=spec.seed, days=spec.days, start_date=spec.start_date,
                  model=models.demand)), final.decisions),
              "appeals": final.appeals if final.appeals.height
              else pl.DataFrame(schema=APPEALS_SCHEMA)}
    t["tables"] = time.perf_counter() - t0
    return LoopResult(tables=tables, rounds=rounds, timings=t)


def _setup(inputs: LoopInputs, spec: RunSpec, models: LoopModels
           ) -> tuple[RoundContext, pl.DataFrame]:
    """The platform's stream and the world's handles (made once), and the
    residents per demand cell (services.resident_cells)."""
    policy = inputs.policy
    stream = build_stream(inputs.records, inputs.links)
    world = build_world(inputs.residents, inputs.candidates, inputs.records, inputs.links,
                        stream, policy, spec)
    platform = Platform(policy=policy, register=platform_view(inputs.residents),
                        links=inputs.links, stream=stream,
                        services=frozenset(c.service for c in policy.consequences),
                        spec=spec, models=models)
    cells = inputs.demand_cells if inputs.demand_cells is not None else resident_cells(
        inputs.residents, spec.start_date)
    return RoundContext(platform=platform, world=world), cells


def _iterate(ctx: RoundContext, t: dict[str, float]
             ) -> tuple[RoundState, Round, list[dict[str, Any]]]:
    """Rounds of ROUND_STEPS from round 0's state until one changes nothing (or
    the round cap): the state the last round started from (advanced if it did not
    converge), the last round, and each round's summary. Adds each step's seconds
    to ``t``. Only the current state is held: a round's tables go when the next
    round starts, and what a step releases goes after it."""
    keep, present = first_keep(ctx.world, ctx.platform.models.feedback)
    state = RoundState(keep=keep, present=present, repaid=pl.DataFrame(schema=REPAYMENTS_SCHEMA))
    del keep, present
    rounds: list[dict[str, Any]] = []
    rnd = Round(number=0)
    for r in range(ctx.platform.models.round_cap(ctx.platform.spec.days)):
        rnd = Round(number=r)  # lets the last round's working tables go
        for step in ROUND_STEPS:
            t0 = time.perf_counter()
            rnd = step.fn(ctx, state, rnd)
            if step.releases:
                state = replace(state, **dict.fromkeys(step.releases))
            t[step.name] += time.perf_counter() - t0
        done = need(rnd.responded)
        rounds.append(done.summary)
        if done.converged:
            break
        state = rnd.advance(state)
    return state, rnd, rounds


def _conclude(ctx: RoundContext, state: RoundState, last: Round) -> Final:
    """The last round's tables, labelled against the truth (the fixed point if the
    loop converged)."""
    p, s, a = ctx.platform, need(last.scored), need(last.appealed)
    decisions = need(last.served).decisions
    spells, labelled = final_labels(
        ctx.world, a.facts, decisions,
        Rescoring(policy=p.policy, register=p.register, linked=p.stream.linked,
                  present=state.present, covered=s.covered), s.rep)
    return Final(spells=spells, decisions=labelled, appeals=a.appeals,
                 ledger=a.result.ledger, scores=a.result.scores,
                 happened=happened(ctx.world, state.keep, s.rep),
                 drawn=need(last.served).drawn,
                 present=state.present, pos=p.stream.pos)


def _demand(totals: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
    """The ``demand`` table: city-wide demand per (day, service) and how much of it
    the platform denied, expedited or discounted (the totals include every demand
    decided on, so ``allowed`` is the rest)."""
    counts = decisions.group_by("day", "service").agg(
        (pl.col("decision") == "denied").sum().cast(pl.UInt32).alias("denied"),
        (pl.col("decision") == "expedited").sum().cast(pl.UInt32).alias("expedited"),
        (pl.col("decision") == "discounted").sum().cast(pl.UInt32).alias("discounted"))
    demand = totals.join(counts, on=["day", "service"], how="left").fill_null(0).with_columns(
        (pl.col("demands").cast(pl.Int64) - pl.col("denied") - pl.col("expedited")
         - pl.col("discounted")).cast(pl.UInt32).alias("allowed"))
    return demand.select("day", "service", "demands", "allowed", "denied", "expedited",
                         "discounted").sort("day", "service")
