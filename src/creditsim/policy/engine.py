"""The fast scoring engine: a policy applied to a linked record stream.

Vectorised with numpy over struct-of-arrays; no per-resident Python. The
algorithm (documented in docs/policy.md, "The engine"):

1. coverage: the first day each resident is scored (:func:`coverage_days`);
2. ledger: for each rule, the records it matches (a kind lookup table and amount
   masks); per-unit rules and caps need running sums per resident and period,
   computed as segmented cumulative sums on the matched subset sorted by
   (resident, day, record_id) — never a group window over millions of groups;
3. list spells (:mod:`creditsim.policy.lists`);
4. override intervals (records and spells that cap a score or tier);
5. monthly snapshots (:mod:`creditsim.policy.snapshots`): each ledger entry is
   active on the snapshot days in ``[day, expires_day)``; a running per-resident
   total is updated month by month with the entries entering and leaving.

Residents are scored independently, so the ledger is computed in blocks of
consecutive resident ids (a few million records each; the snapshots evaluate each
month's candidates in chunks): arrays of a block's size stay in the caches and are
recycled by the allocator, which at city scale is about a third faster than one
piece. No result depends on the block or chunk size.

The reference interpreter in ``tests/policy/reference.py`` implements the same
rules one resident at a time; the differential tests assert identical tables.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from creditsim.catalogue import KIND_NAMES
from creditsim.policy.errors import PolicyError, Problem
from creditsim.policy.lists import build_spells
from creditsim.policy.model import MAX_RECORD_AMOUNT, Coverage, Policy, Rule
from creditsim.policy.result import (
    PolicyResult,
    ledger_schema,
    scores_schema,
)
from creditsim.policy.snapshots import monthly_scores
from creditsim.rundays import NEVER, period_index

__all__ = ["Records", "apply_policy", "build_ledger", "coverage_days", "override_spells"]

_KIND_CODE = {k: i for i, k in enumerate(KIND_NAMES)}


@dataclass
class Records:
    """The linked record stream as arrays (rows with a null resident are kept
    but marked invalid, so indices refer to rows of the input frame)."""

    frame: pl.DataFrame
    res: np.ndarray  # int32, -1 if unlinked
    day: np.ndarray  # int32, day_recorded
    event: np.ndarray  # int32, day_event (day_recorded where null)
    kind: np.ndarray  # int16 code into KIND_NAMES
    amount: np.ndarray  # float64, NaN where null
    record_id: np.ndarray  # int64
    valid: np.ndarray  # bool: linked, resident known, recorded within the run

    @classmethod
    def from_frame(cls, linked: pl.DataFrame, n_residents: int, days: int) -> Records:
        need = ("record_id", "resident_id", "kind", "day_event", "day_recorded", "amount")
        missing = [c for c in need if c not in linked.columns]
        if missing:
            raise PolicyError([Problem(f"linked records lack columns {missing}", "linked")])
        kind_s = linked["kind"]
        if kind_s.dtype != pl.Enum(list(KIND_NAMES)):
            kind_s = kind_s.cast(pl.String).cast(pl.Enum(list(KIND_NAMES)))
        res = linked["resident_id"].fill_null(-1).cast(pl.Int32).to_numpy()
        day = linked["day_recorded"].cast(pl.Int32).fill_null(-1).to_numpy()
        event = (
            (linked["day_event"].cast(pl.Int32).fill_null(linked["day_recorded"].cast(pl.Int32)))
            .fill_null(-1)
            .to_numpy()
        )
        if res.size and int(res.max(initial=-1)) >= n_residents:
            raise PolicyError(
                [
                    Problem(
                        f"resident_id {int(res.max())} is not in the register", "linked.resident_id"
                    )
                ]
            )
        valid = (res >= 0) & (day >= 0) & (day < days)
        return cls(
            frame=linked,
            res=res,
            day=day,
            event=event,
            kind=kind_s.to_physical().cast(pl.Int16).to_numpy(),
            amount=linked["amount"].cast(pl.Float64).fill_null(np.nan).to_numpy(),
            record_id=linked["record_id"].cast(pl.Int64).to_numpy(),
            valid=valid,
        )

    def case_numbers(self, idx: np.ndarray) -> list[str | None]:
        if "case_number" not in self.frame.columns:
            return [None] * len(idx)
        return self.frame["case_number"].gather(idx).to_list()

    def take(self, rows: np.ndarray) -> Records:
        """The records at ``rows`` (ascending), as a stream of their own. Its frame
        is not subset: use it only where the frame is not read (the ledger)."""
        return Records(frame=self.frame.clear(), res=self.res[rows], day=self.day[rows],
                       event=self.event[rows], kind=self.kind[rows],
                       amount=self.amount[rows], record_id=self.record_id[rows],
                       valid=self.valid[rows])

    def resident_blocks(self, max_rows: int) -> list[Records]:
        """The valid records split into blocks of consecutive resident ids, each of
        about ``max_rows`` records or fewer, rows in input order within a block
        (the whole stream when it is that small). Arrays of a block's size stay in
        the processor's caches and are recycled by the allocator: at city scale the
        ledger is about a third faster in blocks than in one piece."""
        n_valid = int(np.count_nonzero(self.valid))
        k = min(255, -(-n_valid // max_rows))
        if k <= 1:
            return [self]
        width = -(-(int(self.res.max()) + 1) // k)
        blk = np.full(self.res.size, k, dtype=np.uint8)
        np.floor_divide(self.res, width, out=blk, where=self.valid, casting="unsafe")
        order = np.argsort(blk, kind="stable")  # a radix sort for 8-bit keys
        bounds = np.searchsorted(blk[order], np.arange(k + 1))
        return [self.take(order[bounds[b]: bounds[b + 1]]) for b in range(k)]


# ----------------------------------------------------------------------------- coverage


def _age_day_table(start_date: date, lo: int, hi: int, years: int) -> np.ndarray:
    """For birth dates lo..hi (days since 1970-01-01): the day (relative to
    ``start_date``) on which one turns ``years``; 29 February -> 28 February in common years."""
    epoch = date(1970, 1, 1).toordinal()
    out = np.empty(hi - lo + 1, dtype=np.int64)
    s0 = start_date.toordinal()
    for i in range(hi - lo + 1):
        b = date.fromordinal(epoch + lo + i)
        y = b.year + years
        leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
        d = 28 if (b.month == 2 and b.day == 29 and not leap) else b.day
        out[i] = date(y, b.month, d).toordinal() - s0
    return out


def coverage_days(
    policy: Policy, register: pl.DataFrame, start_date: date, days: int
) -> np.ndarray:
    """First day each resident (indexed by resident_id) is scored, or NEVER."""
    n = register.height
    out = np.full(n, NEVER, dtype=np.int32)
    if policy.scale is None:
        return out
    cov = policy.coverage or Coverage(source="default: everyone", status="assumption")
    first = np.zeros(n, dtype=np.float64)
    ok = np.ones(n, dtype=bool)
    if cov.min_age > 0:
        birth = register["birth_date"].to_physical()
        ok &= birth.is_not_null().to_numpy()
        bd = birth.fill_null(0).to_numpy().astype(np.int64)
        if n:
            lo, hi = int(bd.min()), int(bd.max())
            table = _age_day_table(start_date, lo, hi, cov.min_age)
            first = np.maximum(first, table[bd - lo].astype(np.float64))
    if "hukou" in register.columns:
        hk = register["hukou"]
        migrant = _value_in(hk, ("migrant",))
        if set(cov.hukou) != {"local", "migrant"}:
            ok &= _value_in(hk, tuple(cov.hukou))
    else:
        migrant = np.zeros(n, dtype=bool)
    need_local = cov.min_years_in_city
    need_migrant = (
        cov.min_years_in_city_migrant if cov.min_years_in_city_migrant is not None else need_local
    )
    if need_local > 0 or need_migrant > 0:
        yic = register["years_in_city"].cast(pl.Float64).fill_null(0.0).to_numpy()
        need = np.where(migrant, need_migrant, need_local)
        first = np.maximum(first, np.ceil((need - yic) * 365.25))
    if cov.consent_required and "consent" in register.columns:
        ok &= register["consent"].fill_null(False).to_numpy().astype(bool)
    first = np.clip(first, 0, NEVER)
    out[register["resident_id"].to_numpy()] = np.where(ok, first, NEVER).astype(np.int32)
    return out


def _value_in(col: pl.Series, values: tuple[str, ...]) -> np.ndarray:
    """``col`` (String or Enum/Categorical) is one of ``values``; null → False.
    Enum columns are tested on their codes, without making 22 M strings."""
    if isinstance(col.dtype, pl.Enum):
        cats = col.dtype.categories.to_list()
        hit = np.array([c in values for c in cats] + [False], dtype=bool)
        codes = col.to_physical().fill_null(len(cats)).to_numpy()
        return hit[codes]
    return col.cast(pl.String).is_in(list(values)).fill_null(False).to_numpy()


# ----------------------------------------------------------------------------- ledger


def _trunc_points(x: np.ndarray) -> np.ndarray:
    """Points truncated toward zero after a 1e-9 nudge away from it (``x`` is
    consumed: the nudge is added in place)."""
    x += np.where(x >= 0, 1e-9, -1e-9)
    return np.trunc(x, out=x).astype(np.int64)


def per_unit_value(rule: Rule, q: np.ndarray) -> np.ndarray:
    """Cumulative points (before truncation) for ``q`` milli-units.

    In place where it can be (the same operations in the same order as
    ``acc + b.points * part / (b.per * 1000.0)``; brackets worth 0 points add
    exactly 0 and are skipped)."""
    assert rule.per_unit is not None
    acc = np.zeros(q.shape, dtype=np.float64)
    lo = 0
    for b in rule.per_unit.brackets:
        width = None if b.upto is None else int(round(b.upto * 1000)) - lo
        if b.points != 0:
            part = q - lo
            np.maximum(part, 0, out=part)
            if width is not None:
                np.minimum(part, width, out=part)
            # in floating point: an Int64 product could overflow for huge sums
            # (the same value wherever it does not)
            term = part * float(b.points)
            del part
            acc += term / (b.per * 1000.0)
            del term
        if width is not None:
            lo += width
    return acc


def _sort_order(
    res: np.ndarray, day: np.ndarray, rid: np.ndarray, extra: np.ndarray | None = None
) -> np.ndarray:
    """Permutation sorting by (resident, day, record_id[, extra])."""
    fast = _packed_order(res, day, rid, extra)
    if fast is not None:
        return fast
    cols = {"k": (res.astype(np.int64) << 16) | day.astype(np.int64), "r": rid}
    by = ["k", "r"]
    if extra is not None:
        cols["e"] = extra
        by.append("e")
    return pl.DataFrame(cols).with_row_index("i").sort(by)["i"].to_numpy().astype(np.int64)


def _packed_order(
    res: np.ndarray, day: np.ndarray, rid: np.ndarray, extra: np.ndarray | None
) -> np.ndarray | None:
    """:func:`_sort_order` by one sort of packed uint64 keys (resident, day, row),
    when the rows already come in (record_id[, extra]) order — the record stream's
    own order — so that the row number breaks ties as they would; None otherwise
    (or when the three do not fit in 64 bits)."""
    n = res.size
    if n < 2:
        return np.arange(n, dtype=np.int64)
    step = rid[1:] > rid[:-1]
    if extra is not None:
        step |= (rid[1:] == rid[:-1]) & (extra[1:] > extra[:-1])
    if not step.all() or int(res.min()) < 0 or int(day.min()) < 0:
        return None
    ib = int(n - 1).bit_length()
    db = max(1, int(day.max()).bit_length())
    if int(res.max()).bit_length() + db + ib > 64:
        return None
    key = res.astype(np.uint64) << np.uint64(db + ib)
    key |= day.astype(np.uint64) << np.uint64(ib)
    key |= np.arange(n, dtype=np.uint64)
    # Keys are distinct (they hold the row), so any sort gives this order; Polars'
    # sort is multi-threaded.
    key = pl.Series(key).sort().to_numpy()
    return (key & np.uint64((1 << ib) - 1)).astype(np.int64)


def _segmented_cumsum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting where ``starts`` is True (values int64, exact)."""
    cs = np.cumsum(values)
    grp = np.cumsum(starts)
    grp -= 1
    first = np.flatnonzero(starts)
    base = np.where(first > 0, cs[np.maximum(first - 1, 0)], 0)
    cs -= base[grp]
    return cs


def _group_starts(res: np.ndarray, per: np.ndarray) -> np.ndarray:
    s = np.ones(res.size, dtype=bool)
    if res.size > 1:
        s[1:] = (res[1:] != res[:-1]) | (per[1:] != per[:-1])
    return s


#: Records per block of residents in the ledger (:meth:`Records.resident_blocks`).
LEDGER_BLOCK_ROWS = 3_000_000


def build_ledger(
    policy: Policy, recs: Records, covered_from: np.ndarray, start_date: date, days: int,
    block_rows: int | None = None,
) -> pl.DataFrame:
    """The ledger table: one row per (record, rule) with non-zero points.

    Rows are sorted by resident; within a resident, by rule (in file order), then
    kind (catalogue order), then input order. Residents are scored independently,
    in blocks of consecutive ids of about ``block_rows`` records (default
    :data:`LEDGER_BLOCK_ROWS`; the table does not depend on it).
    """
    schema = ledger_schema(policy)
    if not policy.rules or policy.scale is None:
        return pl.DataFrame(schema=schema)
    parts = [_ledger_block(policy, b, covered_from, start_date, days)
             for b in recs.resident_blocks(block_rows or LEDGER_BLOCK_ROWS)]
    return parts[0] if len(parts) == 1 else pl.concat(parts, rechunk=True)


def _ledger_block(
    policy: Policy, recs: Records, covered_from: np.ndarray, start_date: date, days: int
) -> pl.DataFrame:
    """:func:`build_ledger` for one block of residents."""
    schema = ledger_schema(policy)
    n_kinds = len(KIND_NAMES)
    used = np.zeros(n_kinds, dtype=bool)
    for r in policy.rules:
        used[[_KIND_CODE[k] for k in r.kinds]] = True
    res_safe = np.where(recs.valid, recs.res, 0)
    elig = np.flatnonzero(used[recs.kind] & recs.valid & (covered_from[res_safe] <= recs.day))
    del res_safe
    # group eligible records by kind with one radix sort; each kind is then a slice
    order = np.argsort(recs.kind[elig], kind="stable")
    elig = elig[order]
    del order
    bounds = np.searchsorted(recs.kind[elig], np.arange(n_kinds + 1))
    exp_base = recs.event if policy.scale.expiry_from == "event" else recs.day
    periods = {p: period_index(p, start_date, days) for p in ("month", "year", "run")}

    sels: list[np.ndarray] = []
    raws: list[np.ndarray | None] = []  # None: constant points
    for r in policy.rules:
        codes = sorted(_KIND_CODE[k] for k in r.kinds)
        sel = np.concatenate([elig[bounds[c] : bounds[c + 1]] for c in codes])
        if r.amount_min is not None or r.amount_max is not None:
            amt = recs.amount[sel]
            m = np.ones(sel.size, dtype=bool)
            if r.amount_min is not None:
                m &= amt >= r.amount_min
            if r.amount_max is not None:
                m &= amt < r.amount_max
            sel = sel[m]
        raw: np.ndarray | None = None
        if r.per_unit is not None:
            # amounts beyond MAX_RECORD_AMOUNT count as that much: the loader's bound on
            # a rule's points (Rule.max_entry_points) holds for any input
            amt = np.clip(recs.amount[sel], -MAX_RECORD_AMOUNT, MAX_RECORD_AMOUNT)
            q = np.where(np.isnan(amt), 0.0, np.rint(amt * 1000)).astype(np.int64)
            acc = r.per_unit.accumulate
            if acc == "record":
                raw = _trunc_points(per_unit_value(r, q))
            else:
                s_res, s_day = recs.res[sel], recs.day[sel]
                o = _sort_order(s_res, s_day, recs.record_id[sel])
                rs, qs = s_res[o], q[o]
                cum = _segmented_cumsum(qs, _group_starts(rs, periods[acc][s_day[o]]))
                v = _trunc_points(per_unit_value(r, cum)) - _trunc_points(
                    per_unit_value(r, cum - qs)
                )
                raw = np.empty_like(v)
                raw[o] = v
        sels.append(sel)
        raws.append(raw)

    # caps: shared running totals of |points| per resident, cap and period
    for cap in policy.caps:
        members = [i for i, r in enumerate(policy.rules) if r.cap == cap.id]
        if not members:
            continue
        sel = np.concatenate([sels[i] for i in members])
        raw = np.concatenate(
            [
                raws[i]
                if raws[i] is not None
                else np.full(sels[i].size, policy.rules[i].points, np.int64)  # type: ignore[misc]
                for i in members
            ]
        )
        rule = np.concatenate([np.full(sels[i].size, i, dtype=np.int64) for i in members])
        s_res, s_day = recs.res[sel], recs.day[sel]
        o = _sort_order(s_res, s_day, recs.record_id[sel], rule)
        rs, a = s_res[o], np.abs(raw[o])
        total = _segmented_cumsum(a, _group_starts(rs, periods[cap.period][s_day[o]]))
        granted = np.minimum(total, cap.max_points) - np.minimum(total - a, cap.max_points)
        back = np.empty_like(granted)
        back[o] = granted * np.sign(raw[o])
        off = 0
        for i in members:
            k = sels[i].size
            raws[i] = back[off : off + k]
            off += k

    pts_parts = []
    for i, r in enumerate(policy.rules):
        raw = raws[i]
        if raw is not None:
            keep = raw != 0
            sels[i], raws[i] = sels[i][keep], raw[keep]
            pts_parts.append(raws[i].astype(np.int32))  # type: ignore[union-attr]
        else:
            pts_parts.append(np.full(sels[i].size, r.points, dtype=np.int32))
    counts = np.array([s.size for s in sels], dtype=np.int64)
    sel = np.concatenate(sels)
    del sels
    expires = exp_base[sel] + np.repeat(
        np.array([r.expires_days for r in policy.rules], dtype=np.int32), counts
    )
    # Rows so far by (rule, kind, input order): a stable sort by resident keeps that
    # within each resident.
    return pl.DataFrame(
        {
            "resident_id": recs.res[sel],
            "day": recs.day[sel].astype(np.int16),
            "rule_id": pl.Series(policy.rule_ids, dtype=schema["rule_id"]).gather(
                np.repeat(np.arange(len(policy.rules), dtype=np.uint32), counts)
            ),
            "points": np.concatenate(pts_parts),
            "expires_day": expires.astype(np.int32),
            "record_id": recs.record_id[sel],
        }
    ).sort("resident_id", maintain_order=True)


# ----------------------------------------------------------------------------- overrides


def override_spells(
    policy: Policy, recs: Records, covered_from: np.ndarray, spells: pl.DataFrame
) -> pl.DataFrame:
    """Intervals in which an override holds: resident_id, override, start_day, end_day
    (end exclusive; NEVER if open), cap_score (NEVER if none), cap_tier (-1 if none)."""
    tiers = policy.tier_names
    frames = []
    res_safe = np.where(recs.valid, recs.res, 0)
    for o in policy.overrides:
        cs = o.cap_score if o.cap_score is not None else NEVER
        ct = tiers.index(o.cap_tier) if o.cap_tier is not None else -1
        if o.kinds is not None:
            codes = np.array([_KIND_CODE[k] for k in o.kinds])
            m = recs.valid & np.isin(recs.kind, codes) & (covered_from[res_safe] <= recs.day)
            sel = np.flatnonzero(m)
            start = recs.day[sel].astype(np.int64)
            end = start + int(o.duration_days or 0)
            res = recs.res[sel]
        else:
            sp = spells.filter(pl.col("list") == o.on_list)
            res = sp["resident_id"].to_numpy()
            start = sp["start_day"].cast(pl.Int64).to_numpy()
            end = sp["end_day"].cast(pl.Int64).fill_null(NEVER).to_numpy()
        frames.append(
            pl.DataFrame(
                {
                    "resident_id": res.astype(np.int32),
                    "override": pl.Series([o.id] * len(res), dtype=pl.String),
                    "start_day": start.astype(np.int64),
                    "end_day": end.astype(np.int64),
                    "cap_score": np.full(len(res), cs, dtype=np.int64),
                    "cap_tier": np.full(len(res), ct, dtype=np.int64),
                }
            )
        )
    if not frames:
        return pl.DataFrame(
            schema={
                "resident_id": pl.Int32,
                "override": pl.String,
                "start_day": pl.Int64,
                "end_day": pl.Int64,
                "cap_score": pl.Int64,
                "cap_tier": pl.Int64,
            }
        )
    return pl.concat(frames)


# ----------------------------------------------------------------------------- entry point


def apply_policy(
    policy: Policy,
    register: pl.DataFrame,
    linked: pl.DataFrame,
    *,
    days: int,
    start_date: date = date(2021, 1, 1),
    covered_from: np.ndarray | None = None,
) -> PolicyResult:
    """Apply ``policy`` to the platform's register and linked record stream.

    ``register`` needs resident_id (dense 0..N-1), birth_date, hukou,
    years_in_city (and may have a Boolean ``consent``); ``linked`` needs
    record_id, resident_id (null = unlinked, ignored), kind, day_event,
    day_recorded, amount and, for per-case lists, case_number. Records recorded
    outside ``[0, days)`` are ignored. Never reads ``truth_*`` columns.
    ``covered_from`` is :func:`coverage_days` of (policy, register, start_date,
    days) when the caller already has it (the platform loop applies one policy
    to one register several times).
    """
    if days < 1 or days > 32767:
        raise PolicyError([Problem(f"days must be in 1..32767, got {days}", "days")])
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    recs = Records.from_frame(linked, register.height, days)
    covered = coverage_days(policy, register, start_date, days) if covered_from is None \
        else covered_from
    t["coverage"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ledger = build_ledger(policy, recs, covered, start_date, days)
    t["ledger"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    spells = build_spells(policy, recs, ledger, covered, start_date, days)
    t["lists"] = time.perf_counter() - t0
    result = PolicyResult(
        policy=policy,
        start_date=start_date,
        days=days,
        ledger=ledger,
        scores=pl.DataFrame(schema=scores_schema(policy)),
        list_spells=spells,
        covered_from=covered,
        override_spells=override_spells(policy, recs, covered, spells),
        timings=t,
    )
    # The record stream is not needed past here: release its arrays (and the frame,
    # if the caller handed it over) before the snapshots.
    del recs, linked
    t0 = time.perf_counter()
    result.scores = monthly_scores(result)
    t["scores"] = time.perf_counter() - t0
    return result
