"""Generate ground-truth events (stage: behaviour).

Vectorised over residents; random draws keyed by resident block and kind (see
:mod:`creditsim.rng`). Counts use one uniform per (resident, kind, period) and an
inverse-CDF Poisson draw, so lowering one resident's rate (behavioural feedback)
can only lower that resident's count and leaves every other resident's draws
unchanged — the common-random-numbers property the policy comparisons rely on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl

from creditsim import catalogue as cat
from creditsim.behaviour.rates import BehaviourModel, CourtChain, KindRate
from creditsim.draws import THREADS, poisson_icdf
from creditsim.rng import RESIDENT_BLOCK, block_bounds, stream

KIND_INDEX = {k: i for i, k in enumerate(cat.KIND_NAMES)}
DEPT_OF_KIND = np.array([cat.DEPARTMENTS.index(k.department) for k in cat.KINDS], dtype=np.int8)

EVENTS_SCHEMA = {
    "event_id": pl.Int64,
    "resident_id": pl.Int32,
    "day": pl.Int16,
    "department": cat.DepartmentT,
    "kind": cat.KindT,
    "amount": pl.Float64,
    "ref_event_id": pl.Int64,
}


@dataclass
class Features:
    """Per-resident arrays the rate model needs (numpy, indexed by resident_id)."""

    age: np.ndarray
    male: np.ndarray
    decile: np.ndarray
    decile_i: np.ndarray  # the same, as int8 (table lookups)
    migrant: np.ndarray
    driver: np.ndarray
    head: np.ndarray
    income_rel: np.ndarray
    propensity: np.ndarray
    civic: np.ndarray

    @classmethod
    def from_residents(cls, residents: pl.DataFrame, start_date: dt.date) -> Features:
        r = residents
        age = ((pl.lit(start_date) - pl.col("birth_date")).dt.total_days() / 365.2425)
        a = r.select(age.alias("age"))["age"].to_numpy()
        inc = r["income"].to_numpy().astype(np.float64)
        return cls(
            age=a,
            male=(r["sex"] == "M").to_numpy(),
            decile=r["income_decile"].to_numpy().astype(np.float64),
            decile_i=r["income_decile"].to_numpy().astype(np.int8),
            migrant=(r["hukou"] == "migrant").to_numpy(),
            driver=r["drives_car"].to_numpy(),
            head=(r["relation"] == "head").to_numpy(),
            income_rel=inc / inc.mean(),
            propensity=r["truth_propensity"].to_numpy().astype(np.float64),
            civic=r["truth_civic"].to_numpy().astype(np.float64),
        )


def rate_per_year(k: KindRate, f: Features, sl: slice) -> np.ndarray:
    """Yearly rate of kind ``k`` for residents ``sl`` (0 where not eligible)."""
    age = f.age[sl]
    e = k.eligible
    if e == "adult":
        elig = age >= 18
    elif e == "all":
        elig = None
    elif e == "age12":
        elig = age >= 12
    elif e == "driver":
        elig = f.driver[sl] & (age >= 18)
    elif e == "head":
        elig = f.head[sl] & (age >= 18)
    elif e == "donor_age":
        elig = (age >= 18) & (age < 61)
    else:
        raise ValueError(f"unknown eligibility {e!r}")
    trait = f.propensity[sl] if k.trait == "propensity" else f.civic[sl]
    lam = k.base.value * (trait if k.trait_exponent == 1.0 else np.power(trait, k.trait_exponent))
    if k.decile_slope:
        # exp(slope (decile - 5.5)) through a table over the ten deciles.
        table = np.exp(k.decile_slope * (np.arange(11, dtype=np.float64) - 5.5))
        lam = lam * table[f.decile_i[sl]]
    if k.male_factor != 1.0:
        lam = lam * np.where(f.male[sl], k.male_factor, 1.0)
    if k.young_factor != 1.0:
        lam = lam * np.where((age >= 18) & (age < 35), k.young_factor, 1.0)
    if k.migrant_factor != 1.0:
        lam = lam * np.where(f.migrant[sl], k.migrant_factor, 1.0)
    return lam if elig is None else np.where(elig, lam, 0.0)


def _amounts(k: KindRate, rng: np.random.Generator, income_rel: np.ndarray) -> np.ndarray:
    n = len(income_rel)
    if k.amount_median <= 0:
        return np.full(n, np.nan)
    z = rng.standard_normal(n)
    amt = k.amount_median * np.exp(k.amount_sigma * z) * np.power(income_rel, k.income_elasticity)
    return np.maximum(np.round(amt / k.amount_round) * k.amount_round, k.amount_round)


def _kind_events(k: KindRate, f: Features, seed: int, blocks: list[tuple[int, int, int]],
                 day0: int, day1: int, period: int,
                 multiplier: np.ndarray | None, tag: str = "") -> dict[str, np.ndarray]:
    """Events of one independent kind for the residents in ``blocks``."""
    frac = (day1 - day0) / 365.0
    rid_parts, day_parts, amt_parts = [], [], []
    for b, s, e in blocks:
        lam = rate_per_year(k, f, slice(s, e)) * frac
        if multiplier is not None:
            lam = lam * multiplier[s:e]
        u = stream(seed, f"behaviour.{k.kind}{tag}", b, period).random(e - s)
        cnt = poisson_icdf(u, lam)
        tot = int(cnt.sum())
        if tot == 0:
            continue
        rid = np.repeat(np.arange(s, e, dtype=np.int64), cnt)
        drng = stream(seed, f"behaviour.{k.kind}{tag}.detail", b, period)
        days = day0 + np.floor(drng.random(tot) * (day1 - day0)).astype(np.int64)
        amt = _amounts(k, drng, f.income_rel[rid])
        rid_parts.append(rid)
        day_parts.append(days)
        amt_parts.append(amt)
    if not rid_parts:
        return {"rid": np.empty(0, np.int64), "day": np.empty(0, np.int64),
                "amount": np.empty(0)}
    return {"rid": np.concatenate(rid_parts), "day": np.concatenate(day_parts),
            "amount": np.concatenate(amt_parts)}


def _court_chain(c: CourtChain, lost: dict[str, np.ndarray], f: Features, seed: int,
                 blocks: list[tuple[int, int, int]], day1: int, period: int
                 ) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Follow-up court events of lost lawsuits.

    Returns ``(kind, rid, day, amount, parent_index)`` tuples where
    ``parent_index`` indexes the lost-lawsuit arrays (for the enforcement case) or
    is offset by ``len(lost)`` for events that refer to the enforcement case.
    """
    n = len(lost["rid"])
    if n == 0:
        return []
    # One uniform matrix per lost lawsuit, drawn by the lawsuit's resident block.
    u = np.empty((n, 16))
    blk_of = lost["rid"] // RESIDENT_BLOCK
    for b, _s, _e in blocks:
        idx = np.flatnonzero(blk_of == b)
        if idx.size:
            u[idx] = stream(seed, "behaviour.court_chain", b, period).random((idx.size, 16))
    out = []
    idx_all = np.arange(n)

    def span(uu: np.ndarray, rng_: tuple[int, int]) -> np.ndarray:
        return np.floor(rng_[0] + uu * (rng_[1] - rng_[0] + 1)).astype(np.int64)

    enf = u[:, 0] < c.p_enforcement.value
    enf_day = lost["day"] + span(u[:, 1], c.enforcement_delay.value)
    keep = enf & (enf_day < day1)
    out.append(("enforcement_opened", lost["rid"][keep], enf_day[keep], lost["amount"][keep],
                idx_all[keep]))
    early = keep & (u[:, 2] < c.p_perform_early.value)
    e_day = enf_day + span(u[:, 3], c.perform_early_delay.value)
    m = early & (e_day < day1)
    out.append(("judgment_performed", lost["rid"][m], e_day[m], lost["amount"][m], n + idx_all[m]))
    defaulter = keep & ~early
    able = f.decile[lost["rid"]] >= c.refuse_min_decile
    grounds = [
        ("refuse_to_perform", c.p_refuse.value, able),
        ("obstruct_enforcement", c.p_obstruct.value, None),
        ("evade_enforcement", c.p_evade.value, None),
        ("false_property_report", c.p_false_report.value, None),
        ("violate_consumption_ban", c.p_violate_ban.value, None),
        ("breach_settlement", c.p_breach_settlement.value, None),
    ]
    for j, (kind, p, cond) in enumerate(grounds):
        hit = defaulter & (u[:, 4 + j] < p)
        if cond is not None:
            hit &= cond
        g_day = enf_day + span(u[:, 10], c.ground_delay.value) + j
        m = hit & (g_day < day1)
        amt = lost["amount"][m] if kind == "refuse_to_perform" else np.full(int(m.sum()), np.nan)
        out.append((kind, lost["rid"][m], g_day[m], amt, n + idx_all[m]))
    late = defaulter & (u[:, 11] < c.p_perform_late.value)
    l_day = enf_day + span(u[:, 12], c.perform_late_delay.value)
    m = late & (l_day < day1)
    out.append(("judgment_performed", lost["rid"][m], l_day[m], lost["amount"][m], n + idx_all[m]))
    return out


def generate_events(
    residents: pl.DataFrame,
    *,
    seed: int,
    days: int,
    start_date: dt.date,
    model: BehaviourModel | None = None,
    chunk_residents: int = 1 << 21,
    period: int = 0,
    day_range: tuple[int, int] | None = None,
    multipliers: dict[str, np.ndarray] | None = None,
    event_id_offset: int = 0,
    stream_tag: str = "",
    progress: Callable[[float], None] | None = None,
) -> pl.DataFrame:
    """Ground-truth events for ``residents`` over ``day_range`` (default ``[0, days)``).

    ``multipliers`` optionally scales each kind's per-resident rate (the simulation
    loop's behavioural feedback); omitted kinds are unscaled. The result is sorted
    by (resident_id, day, kind) and has the ``events`` schema of DESIGN.md. The
    output does not depend on ``chunk_residents``.
    """
    model = model or BehaviourModel()
    day0, day1 = day_range or (0, days)
    f = Features.from_residents(residents, start_date)
    n = residents.height
    all_blocks = [(b, s, e) for b, (s, e) in enumerate(block_bounds(n, RESIDENT_BLOCK))]
    per_chunk = max(1, chunk_residents // RESIDENT_BLOCK)
    frames: list[pl.DataFrame] = []
    next_id = event_id_offset
    n_chunks = (len(all_blocks) + per_chunk - 1) // per_chunk
    for ci in range(n_chunks):
        blocks = all_blocks[ci * per_chunk:(ci + 1) * per_chunk]
        df = _chunk_events(model, f, seed, blocks, day0, day1, period, multipliers, stream_tag)
        # Chain references point at sorted positions within the chunk: event ids
        # are the chunk's first id plus the position.
        ref = df["ref_pos"].to_numpy()
        df = df.drop("ref_pos").with_columns(
            pl.Series("event_id", np.arange(next_id, next_id + df.height, dtype=np.int64)),
            pl.Series("ref_event_id", np.where(ref >= 0, ref + next_id, -1)).replace(-1, None),
        )
        next_id += df.height
        frames.append(df)
        if progress:
            progress((ci + 1) / n_chunks)
    if not frames or sum(fr.height for fr in frames) == 0:
        return pl.DataFrame(schema=EVENTS_SCHEMA)
    out = pl.concat(frames)  # chunks are in resident order, so already sorted
    kind_i = out["kind_i"].to_numpy()
    return pl.DataFrame({
        "event_id": out["event_id"],
        "resident_id": out["rid"].cast(pl.Int32),
        "day": out["day"].cast(pl.Int16),
        "department": cat.enum_from_codes(DEPT_OF_KIND[kind_i], cat.DepartmentT),
        "kind": cat.enum_from_codes(kind_i, cat.KindT),
        "amount": out["amount"].fill_nan(None),
        "ref_event_id": out["ref_event_id"],
    })


def _chunk_events(model: BehaviourModel, f: Features, seed: int,
                  blocks: list[tuple[int, int, int]], day0: int, day1: int, period: int,
                  multipliers: dict[str, np.ndarray] | None, tag: str = "") -> pl.DataFrame:
    parts: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    lost = None
    base = 0
    # Kinds are independent (own streams), so two threads can draw them at once;
    # numpy releases the GIL in the heavy loops. Results are collected in kind order.
    kinds = model.kinds
    by_rate = sorted(range(len(kinds)), key=lambda i: -kinds[i].base.value)
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = {i: pool.submit(_kind_events, kinds[i], f, seed, blocks, day0, day1, period,
                                  multipliers.get(kinds[i].kind) if multipliers else None, tag)
                   for i in by_rate}
        results = [futures[i].result() for i in range(len(kinds))]
    for k, ev in zip(model.kinds, results, strict=True):
        parts.append((KIND_INDEX[k.kind], ev["rid"], ev["day"], ev["amount"],
                      np.full(len(ev["rid"]), -1, dtype=np.int64)))
        if k.kind == "lawsuit_lost":
            lost = ev
            lost_base = base
        base += len(ev["rid"])
    if lost is not None and len(lost["rid"]):
        chain = _court_chain(model.court, lost, f, seed, blocks, day1, period)
        n_lost = len(lost["rid"])
        enf_base = base  # enforcement_opened events come first in the chain list
        enf_pos = np.full(n_lost, -1, dtype=np.int64)
        for kind, rid, day, amt, parent in chain:
            if kind == "enforcement_opened":
                ref = lost_base + parent
                enf_pos[parent] = enf_base + np.arange(len(rid))
            else:
                ref = enf_pos[parent - n_lost]
            parts.append((KIND_INDEX[kind], rid, day, amt, ref))
            base += len(rid)
    kind_i = np.concatenate([np.full(len(p[1]), p[0], dtype=np.int16) for p in parts])
    rid = np.concatenate([p[1] for p in parts])
    day = np.concatenate([p[2] for p in parts])
    amt = np.concatenate([p[3] for p in parts])
    ref = np.concatenate([p[4] for p in parts])
    # Sort by (resident, day, kind, pre-sort position) using one packed key.
    key = (rid.astype(np.int64) << 32) | (day.astype(np.int64) << 16) | kind_i.astype(np.int64)
    order = np.argsort(key, kind="stable")  # ties keep their pre-sort position
    del key
    # References: pre-sort index → sorted position (-1: none).
    pos = np.empty(len(order), dtype=np.int64)
    pos[order] = np.arange(len(order), dtype=np.int64)
    ref = ref[order]
    return pl.DataFrame({
        "rid": rid[order], "day": day[order], "kind_i": kind_i[order],
        "amount": amt[order], "ref_pos": np.where(ref >= 0, pos[np.maximum(ref, 0)], -1),
    })
