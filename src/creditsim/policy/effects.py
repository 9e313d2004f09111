"""Consequences in force on a day: which residents get which effect on which service.

For the services stage. A consequence's *subjects* are the residents whose own
state meets its condition (tier, list, score, coverage); the *affected* are the
subjects themselves (``apply_to_self``) and their relatives named in
``spill_to``:

* ``child``: residents whose ``father_id`` or ``mother_id`` is the subject;
* ``parent``: the subject's ``father_id`` and ``mother_id``;
* ``spouse``: the head or spouse of the subject's household, if the subject is
  the other of the two;
* ``household``: every other member of the subject's household.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from creditsim.policy.model import Consequence
from creditsim.policy.result import EffectT, PolicyResult, ServiceT

_SCHEMA = {
    "resident_id": pl.Int32(),
    "service": ServiceT,
    "effect": EffectT,
    "rate": pl.Float64(),
    "consequence": pl.String(),
    "via_resident_id": pl.Int32(),
}


def _subjects(c: Consequence, result: PolicyResult, day: int, state: pl.DataFrame) -> np.ndarray:
    """resident_ids meeting the consequence's condition on ``day``."""
    pol = result.policy
    covered = np.flatnonzero(result.covered_from <= day).astype(np.int32)
    if c.on_list is not None:
        lists = result.lists_on(day)
        return np.unique(lists.filter(pl.col("list") == c.on_list)["resident_id"].to_numpy())
    if c.covered:
        return covered
    if c.tiers is not None:
        wanted = set(c.tiers)
        hit = state.filter(pl.col("tier").cast(pl.String).is_in(list(wanted)))[
            "resident_id"
        ].to_numpy()
        base_hit = result.baseline_tier in wanted
    else:
        assert c.score_min is not None and pol.scale is not None
        hit = state.filter(pl.col("score") >= c.score_min)["resident_id"].to_numpy()
        base_hit = pol.scale.baseline >= c.score_min
    if not base_hit:
        return np.sort(hit)
    off_base = np.setdiff1d(state["resident_id"].to_numpy(), hit)
    return np.setdiff1d(covered, off_base)


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


def effects_on(result: PolicyResult, day: int, register: pl.DataFrame) -> pl.DataFrame:
    """See :meth:`PolicyResult.effects_on`."""
    state = result.status_on(day)
    frames = []
    for c in result.policy.consequences:
        subj = _subjects(c, result, day, state)
        if subj.size == 0:
            continue
        subjects = pl.DataFrame({"via_resident_id": subj.astype(np.int32)})
        parts = []
        if c.apply_to_self:
            parts.append(
                subjects.select(pl.col("via_resident_id").alias("resident_id"), "via_resident_id")
            )
        parts += [_spill(subjects, register, how) for how in c.spill_to]
        pairs = pl.concat(
            [p.cast({"resident_id": pl.Int32, "via_resident_id": pl.Int32}) for p in parts]
        )
        frames.append(
            pairs.unique().with_columns(
                pl.lit(c.service).cast(ServiceT).alias("service"),
                pl.lit(c.effect).cast(EffectT).alias("effect"),
                pl.lit(c.rate, dtype=pl.Float64).alias("rate"),
                pl.lit(c.id).alias("consequence"),
            )
        )
    if not frames:
        return pl.DataFrame(schema=_SCHEMA)
    return (
        pl.concat(frames)
        .select(list(_SCHEMA))
        .cast(_SCHEMA)
        .sort(  # type: ignore[arg-type]
            "resident_id", "consequence", "via_resident_id"
        )
    )
