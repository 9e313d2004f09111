"""What residents do about a listing: object to a wrongful one, repay a debt (world side).

* :func:`objections` (:func:`file_objections`) — residents wrongly affected
  (someone else's record, or a debt already paid) may object; who does depends on
  who they are (education, income, hukou: an assumption, configurable). The
  platform answers them (:func:`creditsim.platform.appeals.answer_objections`).
* :func:`repayments` (:func:`repay`) — rightly listed debtors repay at a rate that
  depends on their means; the court records the performance and the platform
  deletes the entry within the policy's working days.

Residents know the truth about themselves, so this side reads it: the spells
come labelled by :func:`creditsim.platform.world.truth.spell_facts`.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from creditsim.platform.appeals import (
    FILED_SCHEMA,
    OBJECTION_STREAM,
    AppealsModel,
    RepaymentModel,
)
from creditsim.platform.world.truth import SpellFacts, World, labelled_spells
from creditsim.rng import keyed_uniforms

#: Repayments residents make: the case record of the spell, the debtor, the day.
REPAYMENTS_SCHEMA = {"case_record_id": pl.Int64, "resident_id": pl.Int32, "day": pl.Int32}


def objections(world: World, facts: SpellFacts, model: AppealsModel) -> pl.DataFrame:
    """The objections residents file against the round's spells (FILED_SCHEMA)."""
    return file_objections(labelled_spells(world, facts), world.residents,
                           seed=world.spec.seed, days=world.spec.days, model=model)


def repayments(world: World, facts: SpellFacts, model: RepaymentModel) -> pl.DataFrame:
    """The repayments listed debtors make given the round's spells
    (REPAYMENTS_SCHEMA)."""
    return repay(facts.table, world.residents, seed=world.spec.seed, days=world.spec.days,
                 model=model, lists=world.per_case_lists)


def file_objections(spells: pl.DataFrame, residents: pl.DataFrame, *, seed: int, days: int,
                    model: AppealsModel) -> pl.DataFrame:
    """Objections filed against wrongful spells (``wrongful`` and ``wrongful_cause``
    labelled), in spell order (FILED_SCHEMA).

    For someone else's record the objection can come any time after listing; for
    an expired entry, only after the debt was performed. No one objects to a spell
    that has ended or after the horizon."""
    w = spells.filter(pl.col("wrongful"))
    if w.height == 0:
        return pl.DataFrame(schema=FILED_SCHEMA)
    idx = pl.Series(w["resident_id"].to_numpy().astype(np.int64))  # ids are row numbers
    who = pl.DataFrame({c: residents[c].gather(idx)
                        for c in ("education", "income_decile", "hukou")})
    key = w["record_id"].to_numpy().astype(np.int64) * 64 + w["resident_id"].to_numpy() % 64
    u = keyed_uniforms(seed, OBJECTION_STREAM, key, 3)
    p = np.full(w.height, model.base.value)
    p *= np.where(who["education"].cast(pl.String) == "tertiary", model.tertiary_factor.value, 1.0)
    p *= np.where(who["income_decile"].to_numpy() <= 3, model.low_income_factor.value, 1.0)
    p *= np.where(who["hukou"].cast(pl.String) == "migrant", model.migrant_factor.value, 1.0)
    objects = u[:, 0] < np.minimum(p, 1.0)
    lo, hi = model.notice_days.value
    notice = np.floor(lo + u[:, 1] * (hi - lo + 1)).astype(np.int64)
    start = w["start_day"].to_numpy().astype(np.int64)
    expired = (w["wrongful_cause"].cast(pl.String) == "expired_entry").to_numpy()
    perf = w["truth_performed_day"].fill_null(0).to_numpy().astype(np.int64)
    filed = np.where(expired, np.maximum(start, perf) + notice, start + notice)
    end = w["end_day"].fill_null(days).to_numpy().astype(np.int64)
    m = objects & (filed < end) & (filed < days)
    return pl.DataFrame({
        "resident_id": w["resident_id"].cast(pl.Int32), "list": w["list"].cast(pl.String),
        "spell_start_day": w["start_day"].cast(pl.Int32), "record_id": w["record_id"],
        "filed_day": pl.Series(filed, dtype=pl.Int32),
    }).filter(pl.Series(m))


def repay(spells: pl.DataFrame, residents: pl.DataFrame, *, seed: int, days: int,
          model: RepaymentModel, lists: frozenset[str]) -> pl.DataFrame:
    """Repayment days of rightly listed debtors on per-case lists.

    ``spells`` carry ``wrong_person``/``wrongful`` labels and ``performed_before_loop``
    (the debt performed in the behaviour stage, whatever the platform does).
    Returns columns case_record_id (the spell's record), resident_id, day.
    """
    sp = spells.filter(pl.col("list").cast(pl.String).is_in(sorted(lists))
                       & ~pl.col("wrong_person") & ~pl.col("performed_before_loop"))
    if sp.height == 0:
        return pl.DataFrame(schema=REPAYMENTS_SCHEMA)
    dec = residents["income_decile"].to_numpy()[sp["resident_id"].to_numpy()].astype(float)
    h = model.monthly_hazard.value * np.exp(model.decile_slope.value * (dec - 5.5))
    u = keyed_uniforms(seed, "appeals.repayment", sp["record_id"].to_numpy(), 1)[:, 0]
    delay = -np.log1p(-u.astype(np.float64)) / h * 30.44
    day = sp["start_day"].to_numpy().astype(np.float64) + np.floor(delay)
    out = pl.DataFrame({"case_record_id": sp["record_id"], "resident_id": sp["resident_id"],
                        "day": pl.Series(np.minimum(day, 2**31 - 1), dtype=pl.Int32)})
    return out.filter(pl.col("day") < days).unique("case_record_id", keep="first",
                                                   maintain_order=True)
