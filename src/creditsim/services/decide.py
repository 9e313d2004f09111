"""The platform's decisions at points of service (stage: services; platform).

From the platform's own view — list spells, tiers from its monthly score
snapshots, coverage — and the policy's consequences, every demand of an affected
resident is allowed, denied, expedited (green channel) or discounted. Lists are
enforced on the day (ID-bound blocks, sources#id-bound-blocks); tiers act from the day
after the monthly snapshot that set them (assumption: scores are refreshed
monthly, as city score apps publish them). Never reads truth columns.

A consequence's *subjects* are the residents whose own state meets its condition
(tier, list, score, coverage); the *affected* are the subjects themselves
(``apply_to_self``) and their relatives named in ``spill_to``:

* ``child``: residents whose ``father_id`` or ``mother_id`` is the subject;
* ``parent``: the subject's ``father_id`` and ``mother_id``;
* ``spouse``: the head or spouse of the subject's household, if the subject is
  the other of the two;
* ``household``: every other member of the subject's household.

This is the one implementation of which consequence applies; its slow test
oracle, one day at a time, is ``tests/policy/consequences.py``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from creditsim import catalogue as cat
from creditsim.policy import Consequence, PolicyResult

DecisionT = pl.Enum(["denied", "expedited", "discounted"])
CauseTypeT = pl.Enum(["list", "tier", "score", "covered"])
_EFFECT_TO_DECISION = {"deny": "denied", "expedite": "expedited", "discount": "discounted"}
_PRECEDENCE = {"deny": 0, "discount": 1, "expedite": 2}

INTERVAL_SCHEMA = {
    "via_resident_id": pl.Int32, "start": pl.Int32, "end": pl.Int32,
    "cause_type": pl.String, "cause": pl.String, "spell_record_id": pl.Int64,
}
DECISIONS_SCHEMA = {
    "resident_id": pl.Int32(), "day": pl.Int16(), "service": cat.ServiceT,
    "decision": DecisionT, "rate": pl.Float32(), "consequence": pl.String(),
    "cause_type": CauseTypeT, "cause": pl.String(), "via_resident_id": pl.Int32(),
    "spell_record_id": pl.Int64(),
}


def state_intervals(result: PolicyResult) -> pl.DataFrame:
    """Per resident, intervals of constant (score, tier) off the baseline, from the
    monthly snapshots: columns resident_id, start, end, score, tier (the scores'
    tier Enum)."""
    sc = result.scores
    if sc.height == 0:
        return pl.DataFrame(schema={"resident_id": pl.Int32, "start": pl.Int32, "end": pl.Int32,
                                    "score": pl.Int32, "tier": sc.schema["tier"]})
    days = result.days
    # Sorted shift instead of a window over millions of groups (measurements.md).
    # One int64 key (resident, day) sorts faster than two columns; (resident, day)
    # is unique in the snapshots, so the order is the same.
    srt = sc.select("resident_id", "day", "score", "tier").sort(
        pl.col("resident_id").cast(pl.Int64) * 65536 + pl.col("day").cast(pl.Int64))
    same_next = pl.col("resident_id").shift(-1) == pl.col("resident_id")
    return srt.select(
        "resident_id",
        (pl.col("day").cast(pl.Int32) + 1).alias("start"),
        pl.when(same_next).then(pl.col("day").cast(pl.Int32).shift(-1) + 1)
        .otherwise(days).alias("end"),
        pl.col("score").cast(pl.Int32),
        "tier",  # the scores' Enum (no 20 M-string cast)
    ).filter(pl.col("start") < pl.col("end"))


def subject_intervals(c: Consequence, result: PolicyResult, states: pl.DataFrame | None,
                      only: np.ndarray | None = None) -> pl.DataFrame:
    """Intervals [start, end) in which a resident meets the consequence's condition.

    ``only`` (sorted resident ids): intervals of these residents alone, given a
    ``result`` and ``states`` already restricted to them."""
    days = result.days
    covered = result.covered_from
    if c.on_list is not None:
        sp = result.list_spells.filter(pl.col("list").cast(pl.String) == c.on_list)
        return sp.select(
            pl.col("resident_id").alias("via_resident_id"),
            pl.col("start_day").cast(pl.Int32).alias("start"),
            pl.col("end_day").cast(pl.Int32).fill_null(days).alias("end"),
            pl.lit("list").alias("cause_type"), pl.lit(c.on_list).alias("cause"),
            pl.col("record_id").alias("spell_record_id"),
        ).filter(pl.col("start") < pl.col("end"))
    ids = (np.flatnonzero(covered < days) if only is None else only[covered[only] < days]
           ).astype(np.int32)
    if c.covered:
        return pl.DataFrame({"via_resident_id": ids,
                             "start": covered[ids].astype(np.int32),
                             "end": np.full(len(ids), days, dtype=np.int32)}).with_columns(
            pl.lit("covered").alias("cause_type"), pl.lit("covered").alias("cause"),
            pl.lit(None, dtype=pl.Int64).alias("spell_record_id"))
    pol = result.policy
    assert states is not None, "tier and score consequences need the state intervals"
    if c.tiers is not None:
        meets = pl.col("tier").is_in(c.tiers)
        base_meets = result.baseline_tier in set(c.tiers)
        ctype, cname = "tier", ",".join(c.tiers)
    else:
        assert c.score_min is not None and pol.scale is not None
        meets = pl.col("score") >= c.score_min
        base_meets = pol.scale.baseline >= c.score_min
        ctype, cname = "score", f">={c.score_min}"
    off = states.filter(meets).select(
        pl.col("resident_id").alias("via_resident_id"), "start", "end")
    if base_meets:
        # At the baseline from coverage until the first snapshot off it, and between
        # off-baseline stretches; computed as coverage minus the off-baseline intervals.
        first = states.group_by("resident_id").agg(pl.col("start").min().alias("first"))
        cov = pl.DataFrame({"resident_id": ids, "cov": covered[ids].astype(np.int32)})
        base = cov.join(first, on="resident_id", how="left").select(
            pl.col("resident_id").alias("via_resident_id"), pl.col("cov").alias("start"),
            pl.col("first").fill_null(days).alias("end"))
        off = pl.concat([off, base.filter(pl.col("start") < pl.col("end"))])
    return off.with_columns(pl.lit(ctype).alias("cause_type"), pl.lit(cname).alias("cause"),
                            pl.lit(None, dtype=pl.Int64).alias("spell_record_id"))


def _spill(subjects: pl.DataFrame, register: pl.DataFrame, how: str) -> pl.DataFrame:
    """(resident_id affected, via_resident_id) pairs for one spillover relation."""
    reg = register.select("resident_id", "household_id", "relation", "father_id", "mother_id")
    if how == "child":
        kids = pl.concat(
            [
                reg.select("resident_id", pl.col(col).alias("via_resident_id")).drop_nulls()
                for col in ("father_id", "mother_id")
            ]
        )
        return kids.join(subjects, on="via_resident_id", how="semi")
    if how == "parent":
        sub = subjects.join(reg, left_on="via_resident_id", right_on="resident_id")
        return pl.concat(
            [
                sub.select(pl.col(col).alias("resident_id"), "via_resident_id").drop_nulls()
                for col in ("father_id", "mother_id")
            ]
        )
    sub = subjects.join(reg, left_on="via_resident_id", right_on="resident_id").select(
        "via_resident_id", "household_id", pl.col("relation").alias("via_relation")
    )
    members = sub.join(reg.select("resident_id", "household_id", "relation"), on="household_id")
    members = members.filter(pl.col("resident_id") != pl.col("via_resident_id"))
    if how == "spouse":
        pair = {"head", "spouse"}
        members = members.filter(
            pl.col("relation").cast(pl.String).is_in(list(pair))
            & pl.col("via_relation").cast(pl.String).is_in(list(pair))
        )
    return members.select("resident_id", "via_resident_id")


def effect_intervals(result: PolicyResult, register: pl.DataFrame,
                     states: pl.DataFrame | None = None,
                     only: np.ndarray | None = None) -> pl.DataFrame:
    """Every consequence's intervals on the *affected* residents (spillover included).

    Columns: resident_id, service, effect, rate, consequence, start, end,
    cause_type, cause, via_resident_id, spell_record_id. ``only`` (sorted ids): the
    intervals caused by these residents alone (``result`` restricted to them).
    """
    frames = []
    for c in result.policy.consequences:
        if states is None and (c.tiers is not None or c.score_min is not None):
            states = state_intervals(result)  # once, and only if a consequence needs it
        subj = subject_intervals(c, result, states, only)
        if subj.height == 0:
            continue
        affected = []
        if c.apply_to_self:
            affected.append(subj.with_columns(pl.col("via_resident_id").alias("resident_id")))
        for how in c.spill_to:
            pairs = _spill(subj.select("via_resident_id").unique(), register, how)
            affected.append(pairs.join(subj, on="via_resident_id"))
        aff = pl.concat([a.select("resident_id", *INTERVAL_SCHEMA) for a in affected])
        frames.append(aff.with_columns(
            pl.lit(c.service).cast(cat.ServiceT).alias("service"),
            pl.lit(c.effect).alias("effect"),
            pl.lit(c.rate, dtype=pl.Float32).alias("rate"),
            pl.lit(c.id).alias("consequence"),
        ))
    if not frames:
        return pl.DataFrame(schema={"resident_id": pl.Int32, **INTERVAL_SCHEMA,
                                    "service": cat.ServiceT, "effect": pl.String,
                                    "rate": pl.Float32, "consequence": pl.String})
    return pl.concat(frames).with_columns(pl.col("resident_id").cast(pl.Int32))


def decide(demand: pl.DataFrame, effects: pl.DataFrame) -> pl.DataFrame:
    """One decision per demand that meets an effect: deny beats discount beats
    expedite; among discounts the largest rate wins; ties by consequence id."""
    if demand.height == 0 or effects.height == 0:
        return pl.DataFrame(schema=DECISIONS_SCHEMA)
    dem = demand.with_row_index("demand_idx")
    hits = dem.join(effects, on=["resident_id", "service"], how="inner").filter(
        (pl.col("day") >= pl.col("start")) & (pl.col("day") < pl.col("end")))
    hits = hits.with_columns(
        pl.col("effect").replace_strict(_PRECEDENCE, return_dtype=pl.Int8).alias("_prec"),
        (-pl.col("rate").fill_null(0)).alias("_negrate"),
    ).sort("demand_idx", "_prec", "_negrate", "consequence", "via_resident_id",
           "spell_record_id", nulls_last=False)  # a total order: effects' row order is free
    best = hits.unique("demand_idx", keep="first", maintain_order=True)
    return best.select(
        "resident_id", "day", "service",
        pl.col("effect").replace_strict(_EFFECT_TO_DECISION).cast(DecisionT).alias("decision"),
        "rate", "consequence", pl.col("cause_type").cast(CauseTypeT), "cause",
        "via_resident_id", "spell_record_id",
    ).sort("day", "resident_id", "service")
