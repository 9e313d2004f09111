"""What really happened, beside the platform's loop (world side: reads the truth).

The platform's steps hand this module opaque handles — a :class:`World` made once
per run, the round's :class:`Repayments` and :class:`SpellFacts` — and never name a
truth column themselves. Here:

* which candidate events happen (thinning, :mod:`.feedback`) and so which records
  exist, and which records a round's flipped events change;
* the court's records of repayments (the residents' events, the court's records;
  the platform links them by case number);
* the truth about each list spell (someone else's record? the debt performed?),
  which residents act on and the final labels carry;
* the final labels of spells and decisions, tier- and score-caused decisions
  against a truth-world scoring, and the events and records that happened.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from creditsim import catalogue as cat
from creditsim.platform.models import RunSpec
from creditsim.platform.stream import STREAM_COLUMNS, Stream, member_of
from creditsim.platform.world.feedback import (
    GAMING_SCHEMA,
    Candidates,
    FeedbackModel,
    first_sanction_day,
    gaming_intervals,
    green_threshold,
    keep_mask,
)
from creditsim.policy import Policy, apply_policy
from creditsim.services import (
    label_decisions,
    label_spells,
    label_state_decisions,
    spell_truth,
    state_intervals,
)

#: Columns of the candidate records the platform stage holds: the stream's and the
#: truth the world side reads (the court's table keeps every column).
RECORD_COLUMNS = (*STREAM_COLUMNS, "truth_event_id", "truth_resident_id")

#: Completes a department's rows of the records that happened (see ``Sink``).
FullRecords = Callable[[np.ndarray, pl.DataFrame], pl.DataFrame]


def platform_view(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` without its truth columns: what the platform may see."""
    return df.select([c for c in df.columns if not c.startswith("truth_")])


@dataclass(frozen=True)
class World:
    """The truth the rounds need, made once per run (:func:`build_world`)."""

    residents: pl.DataFrame  #: the residents, as they are (objections, repayments)
    candidates: Candidates  #: what thinning needs of the candidate events
    event_ids: np.ndarray  #: the candidate events' ids, sorted
    origin: np.ndarray  #: the candidate row of each stream record
    truth: pl.DataFrame  #: record_id and true event of each stream row
    pos: np.ndarray  #: the stream row of each record id (the stream's)
    court: pl.DataFrame  #: the court's candidate records (repayments' cases)
    court_events: pl.DataFrame  #: the court's candidate events
    #: the court's records of performances (truth_event_id, day_recorded): when the
    #: court learns of each (performances are never thinned: not a breach)
    performances: pl.DataFrame
    links: pl.DataFrame  #: the platform's links with linkage's truth attached
    next_event_id: int  #: the first event id after every candidate's
    spec: RunSpec
    green: int | None  #: the threshold residents game towards
    per_case_lists: frozenset[str]  #: lists a debtor gets off by repaying


def build_world(residents: pl.DataFrame, candidates: pl.DataFrame,
                records: Mapping[str, pl.DataFrame], links: pl.DataFrame, stream: Stream,
                policy: Policy, spec: RunSpec) -> World:
    """The truth handles of a run whose platform stream is ``stream``."""
    event_ids = candidates["event_id"].to_numpy()
    assert np.all(np.diff(event_ids) > 0), "candidates must be sorted by event_id"
    # In stream order: every department's records, as record_stream concatenates them.
    truth = pl.concat([df.select("record_id", "truth_event_id") for df in records.values()])
    return World(
        residents=residents, candidates=Candidates.of(candidates, spec.seed),
        event_ids=event_ids, origin=_event_rows(event_ids, truth["truth_event_id"].to_numpy()),
        truth=truth, pos=stream.pos, court=records["court"],
        court_events=candidates.filter(pl.col("department") == "court").drop("boost"),
        performances=records["court"].filter(pl.col("kind") == "judgment_performed").select(
            "truth_event_id", "day_recorded"),
        links=links, next_event_id=int(event_ids.max() if len(event_ids) else 0) + 1,
        spec=spec, green=green_threshold(policy),
        per_case_lists=frozenset(lst.id for lst in policy.lists
                                 if lst.per_case and lst.exit_kinds))


def first_keep(world: World, model: FeedbackModel) -> tuple[np.ndarray, np.ndarray]:
    """Which candidate events happen before any sanction (round 0), and which
    stream records therefore exist."""
    n = world.residents.height
    keep = keep_mask(world.candidates, np.full(n, 2**31 - 1), pl.DataFrame(schema=GAMING_SCHEMA),
                     model)
    # A 30M-row gather once; later rounds flip only the records of flipped events.
    return keep, keep[world.origin]


def thinned(world: World, spells: pl.DataFrame, decisions: pl.DataFrame,
            states: pl.DataFrame | None, model: FeedbackModel) -> np.ndarray:
    """Which candidate events happen after a round of the platform: its list spells
    and decisions set first sanction days (deterrence), its score states gaming."""
    if states is not None and world.green is not None:
        gaming = gaming_intervals(states, world.green, model.gaming_band.value)
    else:
        gaming = pl.DataFrame(schema=GAMING_SCHEMA)
    sanctioned = first_sanction_day(world.residents.height, spells, decisions)
    return keep_mask(world.candidates, sanctioned, gaming, model)


def flipped_records(world: World, flip: np.ndarray) -> np.ndarray:
    """Which stream records are of the candidate events ``flip`` marks."""
    return member_of(np.flatnonzero(flip), len(flip))(pl.Series(world.origin)).to_numpy()


def first_flipped_day(world: World, flip: np.ndarray) -> int | None:
    """The first day on which an event flipped (None if none did)."""
    return int(world.candidates.day[flip].min()) if flip.any() else None


def _event_rows(cand_ids: np.ndarray, event_ids: np.ndarray) -> np.ndarray:
    """Row of each event id in the sorted candidate ids (direct when they are dense,
    as the behaviour stage makes them)."""
    if len(cand_ids) and cand_ids[-1] - cand_ids[0] + 1 == len(cand_ids):
        return (event_ids - cand_ids[0]).astype(np.int64)
    return np.searchsorted(cand_ids, event_ids)


@dataclass(frozen=True)
class Repayments:
    """A round's repayments as records: the residents' events and the court's
    records of them (truth included), and the platform's links and stream rows."""

    events: pl.DataFrame
    records: pl.DataFrame
    links: pl.DataFrame
    linked: pl.DataFrame


def court_records(world: World, repaid: pl.DataFrame, next_record_id: int, lag: int
                  ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The events of the repayments ``repaid`` (case_record_id, resident_id, day),
    the court's records of them (``lag`` days later, before the horizon) and which
    case record each record continues (case_rid, new_rid: the case number the
    platform links it by)."""
    case = world.court.join(repaid.select(pl.col("case_record_id").alias("record_id"), "day"),
                            on="record_id", how="inner").sort("record_id")
    n = case.height
    # The enforcement case the spell's record is about (the record's event itself,
    # or the case a listing ground refers to), and the case's amount: a performance
    # refers to its case and performs its amount, as the behaviour stage's do.
    ev_of = world.court_events.select("event_id", "kind", "ref_event_id")
    of_case = case.select("truth_event_id").join(ev_of, left_on="truth_event_id",
                                                 right_on="event_id", how="left",
                                                 maintain_order="left").select(
        pl.when(pl.col("kind") == "enforcement_opened").then(pl.col("truth_event_id"))
        .otherwise(pl.col("ref_event_id")).alias("case_event_id")).join(
        world.court_events.filter(pl.col("kind") == "enforcement_opened").select(
            pl.col("event_id").alias("case_event_id"), "amount"),
        on="case_event_id", how="left", maintain_order="left")
    first_event = world.next_event_id
    ev = pl.DataFrame({
        "event_id": pl.Series(np.arange(first_event, first_event + n), dtype=pl.Int64),
        "resident_id": case["truth_resident_id"],
        "day": case["day"].cast(pl.Int16),
        "department": pl.Series(["court"] * n).cast(cat.DepartmentT),
        "kind": pl.Series(["judgment_performed"] * n).cast(cat.KindT),
        "amount": of_case["amount"],
        "ref_event_id": of_case["case_event_id"],
    })
    recorded = (case["day"] + lag).cast(pl.Int16)
    rec = case.with_columns(
        pl.Series("record_id", np.arange(next_record_id, next_record_id + n), dtype=pl.Int64),
        pl.lit("judgment_performed").cast(cat.KindT).alias("kind"),
        pl.col("day").cast(pl.Int16).alias("day_event"),
        recorded.alias("day_recorded"),
        ev["amount"].alias("amount"),
        ev["event_id"].alias("truth_event_id"),
    ).drop("day").filter(pl.col("day_recorded") < world.spec.days)
    cases = case.select(pl.col("record_id").alias("case_rid"),
                        pl.Series("new_rid", np.arange(next_record_id, next_record_id + n)))
    return ev, rec, cases


@dataclass(frozen=True)
class SpellFacts:
    """The platform's list spells with the truth about each (``wrong_person``,
    ``wrong_cause``, the day the debt was performed in truth, the day the court knew
    and the deletion deadline, and whether it was performed without the loop's
    repayments: ``performed_before_loop``)."""

    table: pl.DataFrame


def spell_facts(world: World, spells: pl.DataFrame, rep: Repayments) -> SpellFacts:
    """The truth about the (few) spells, joining only the rows they need."""
    links = pl.concat([world.links, rep.links]) if rep.links.height else world.links
    ids = spells["record_id"].implode()
    lk = links.filter(pl.col("record_id").is_in(ids))
    # spells of a score list that start at coverage (a baseline below the
    # threshold) have no record
    rid = spells["record_id"].drop_nulls().to_numpy()
    rid = rid[rid < len(world.pos)]
    pos = world.pos[rid]
    rt = pl.concat([world.truth.select("record_id", "truth_event_id")[pos[pos >= 0]],
                    rep.records.select("record_id", "truth_event_id").filter(
                        pl.col("record_id").is_in(ids))])
    ev = pl.concat([world.court_events, rep.events.select(world.court_events.columns)])
    known = pl.concat([world.performances, rep.records.select(world.performances.columns)])
    start = world.spec.start_date
    # Whether the debt was performed without the loop's repayments: who repays must
    # not depend on the repayments themselves (or the rounds would alternate).
    before = spell_truth(spells, lk, rt, world.court_events, world.performances, start)
    return SpellFacts(spell_truth(spells, lk, rt, ev, known, start).with_columns(
        before["truth_performed_day"].is_not_null().alias("performed_before_loop")))


def labelled_spells(world: World, facts: SpellFacts) -> pl.DataFrame:
    """The spells with ``wrongful`` and ``wrongful_cause`` (what residents object to)."""
    return label_spells(facts.table, world.spec.days)


@dataclass(frozen=True)
class Rescoring:
    """What the truth-world scoring re-runs of the platform: its policy, register,
    stream (with the rows that exist) and coverage."""

    policy: Policy
    register: pl.DataFrame
    linked: pl.DataFrame
    present: np.ndarray
    covered: np.ndarray


def final_labels(world: World, facts: SpellFacts, decisions: pl.DataFrame,
                 rescoring: Rescoring, rep: Repayments) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The final ``list_spells`` and ``decisions`` tables, labelled against the truth."""
    spells = label_spells(facts.table, world.spec.days).drop(
        "truth_performed_day", "truth_known_day", "truth_deletion_deadline",
        "performed_before_loop")
    dec = label_decisions(decisions, facts.table)
    return spells, _label_state_decisions(world, dec, rescoring, rep)


def _label_state_decisions(world: World, dec: pl.DataFrame, rs: Rescoring, rep: Repayments
                           ) -> pl.DataFrame:
    """Tier- and score-caused decisions against a truth-world scoring (the same
    records, each linked to its true subject, duplicates removed). The coverage is
    the platform's, which is the truth's: coverage reads only the register."""
    policy = rs.policy
    if not policy.scores or not dec.filter(
            pl.col("cause_type").cast(pl.String).is_in(["tier", "score"])).height:
        return dec
    # Only the subjects of such decisions need scoring, and a subject's truth-world
    # state depends only on the records that are truly theirs.
    subjects = dec.filter(pl.col("cause_type").cast(pl.String).is_in(["tier", "score"]))[
        "via_resident_id"].unique().implode()
    truth_of = pl.concat([world.links, rep.links]).select(
        "record_id", "truth_resident_id").filter(pl.col("truth_resident_id").is_in(subjects))
    theirs = np.zeros(len(rs.present), dtype=bool)
    rid = truth_of["record_id"].to_numpy()
    pos = world.pos[rid[rid < len(world.pos)]]  # repayment records are not in the stream
    theirs[pos[pos >= 0]] = True
    sel = pl.Series(rs.present & theirs)
    kept = rs.linked.filter(sel).drop("resident_id").with_columns(
        world.truth.filter(sel)["truth_event_id"])
    kept = pl.concat([kept, rep.linked.drop("resident_id").with_columns(
        pl.lit(None, dtype=pl.Int64).alias("truth_event_id"))])
    truth_stream = kept.join(truth_of, on="record_id", how="left").rename(
        {"truth_resident_id": "resident_id"})
    # One record per event (the first entered), as a perfect platform would hold.
    truth_stream = truth_stream.sort("record_id").unique(
        ["truth_event_id"], keep="first", maintain_order=True) if truth_stream.height else \
        truth_stream
    tw = apply_policy(policy, rs.register, truth_stream.drop("truth_event_id"),
                      days=world.spec.days, start_date=world.spec.start_date,
                      covered_from=rs.covered)
    conditions = {c.id: (c.tiers, c.score_min) for c in policy.consequences
                  if c.tiers is not None or c.score_min is not None}
    base = (policy.scale.baseline if policy.scale else None, tw.baseline_tier)
    # The causes are looked for among the links of records that happened: a
    # candidate record of an event feedback removed is no one's error.
    # Only links to or of the subjects can name a cause.
    lk = world.links.select("record_id", "resident_id", "truth_resident_id", "method").filter(
        pl.col("resident_id").is_in(subjects) | pl.col("truth_resident_id").is_in(subjects))
    lpos = world.pos[lk["record_id"].to_numpy()]
    lk = lk.filter(pl.Series(rs.present[lpos] & (lpos >= 0)))
    return label_state_decisions(dec, state_intervals(tw), base, conditions, pl.concat(
        [lk, rep.links.select(lk.columns)]))


@dataclass(frozen=True)
class Happened:
    """Which candidate events happened (the final round's), to select the final
    events and records by."""

    keep: np.ndarray
    event_ids: np.ndarray
    rep: Repayments


def happened(world: World, keep: np.ndarray, rep: Repayments) -> Happened:
    """What happened if the candidate events ``keep`` marks and the repayments
    ``rep`` did."""
    return Happened(keep=keep, event_ids=world.event_ids, rep=rep)


def happened_events(h: Happened, candidates: pl.DataFrame) -> pl.DataFrame:
    """The ``events`` table: the candidate events kept, then the repayments."""
    return pl.concat([candidates.filter(pl.Series(h.keep)).drop("boost"), h.rep.events])


def happened_records(h: Happened, department: str, df: pl.DataFrame,
                     full: FullRecords | None) -> pl.DataFrame:
    """The ``records/<department>`` table from the department's candidate records
    ``df`` (handed over: let go once filtered). ``full``, if given, completes the
    rows the loop holds only some columns of."""
    kept = h.keep[_event_rows(h.event_ids, df["truth_event_id"].to_numpy())]
    if full is not None:
        out = full(kept, df.filter(pl.Series(kept)))
        assert out.height == int(kept.sum()), f"full {department} records do not match"
    else:
        out = df.filter(pl.Series(kept)) if not kept.all() else df
    del df
    if department == "court" and h.rep.records.height:
        out = pl.concat([out, h.rep.records.select(out.columns)])
    return out
