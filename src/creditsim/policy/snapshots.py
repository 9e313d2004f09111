"""Score and tier snapshots from a policy's ledger and overrides.

Each ledger entry is active on the query days in ``[day, expires_day)``; a
running per-resident total is updated from one query day to the next with the
entries entering and leaving, and only residents touched since the previous
query day are re-evaluated.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from creditsim.policy.model import Policy
from creditsim.policy.result import PolicyResult, scores_schema
from creditsim.rundays import NEVER, snapshots

_Changes = list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # per query: ids, score, tier


def _tier_index(policy: Policy, score: np.ndarray) -> np.ndarray:
    mins_asc = np.array([t.min for t in policy.tiers][::-1], dtype=np.int64)
    pos = np.searchsorted(mins_asc, score, side="right")
    return (len(policy.tiers) - pos).astype(np.int64)


def snapshot_states(result: PolicyResult, qdays: np.ndarray) -> list[pl.DataFrame]:
    """State changes at each query day (ascending): resident_id, score, tier of the
    covered residents whose (score, tier) differs from their state at the previous
    query day (for the first: from the baseline). Rows by resident id."""
    policy = result.policy
    tier_t = scores_schema(policy)["tier"]
    if policy.scale is None:
        empty = pl.DataFrame(schema={"resident_id": pl.Int32, "score": pl.Int32, "tier": tier_t})
        return [empty.clone() for _ in qdays]
    cov = result.covered_from
    n = cov.size
    q = np.asarray(qdays, dtype=np.int64)
    led = result.ledger
    res = led["resident_id"].to_numpy()
    pts = led["points"].to_numpy()
    # index of the first query day on or after a day, via a small lookup table
    top = int(q[-1]) + 1 if q.size else 0
    lut = np.searchsorted(q, np.arange(top + 1), side="left").astype(np.int16)
    lo = lut[np.clip(led["day"].to_numpy(), 0, top)]
    hi = lut[np.clip(led["expires_day"].to_numpy(), 0, top)]
    live = lo < hi
    if not live.all():
        res, pts, lo, hi = res[live], pts[live], lo[live], hi[live]
    ov = result.override_spells
    ov_cols = [ov[c].to_numpy() for c in ("resident_id", "start_day", "end_day", "cap_score",
                                          "cap_tier")]
    ov_res = ov_cols[0]

    # Only residents with a ledger entry or an override can leave the baseline: when
    # they are few (a re-scored subset), work on them alone, with arrays of their
    # number rather than the register's.
    if res.size + ov_res.size < n // 8:
        ids = np.unique(np.concatenate([res, ov_res]).astype(np.int64))
        res, ov_l = np.searchsorted(ids, res), np.searchsorted(ids, ov_res)
        changes = _changes(result, q, res, pts, lo, hi, [ov_l, *ov_cols[1:]], cov[ids])
    else:
        ids = None
        changes = _changes(result, q, res, pts, lo, hi, ov_cols, cov)
    tier_values = pl.Series(policy.tier_names, dtype=tier_t)
    out = []
    for idx, score, tier in changes:
        out.append(pl.DataFrame({
            "resident_id": (idx if ids is None else ids[idx]).astype(np.int32),
            "score": score,
            "tier": tier_values.gather(tier.astype(np.uint32)),
        }))
    return out


#: Candidates evaluated at a time within a query day: temporaries of this size stay
#: in the caches and are recycled by the allocator (at city scale a query day has
#: 1-2M candidates; whole-size temporaries of that size are fresh pages each time).
_CHUNK = 1 << 20


def _changes(result: PolicyResult, q: np.ndarray, res: np.ndarray, pts: np.ndarray,
             lo: np.ndarray, hi: np.ndarray, ov: list[np.ndarray], cov: np.ndarray
             ) -> _Changes:
    """Per query day, the (resident, score, tier index) changes; ``res`` and the
    overrides' residents are ids into ``cov``."""
    policy = result.policy
    sc = policy.scale
    assert sc is not None
    n = cov.size
    pts = pts.astype(np.int64)
    o_lo = np.argsort(lo, kind="stable")
    o_hi = np.argsort(hi, kind="stable")
    b_lo = np.searchsorted(lo[o_lo], np.arange(len(q) + 1))
    b_hi = np.searchsorted(hi[o_hi], np.arange(len(q) + 1))
    ov_res, ov_s, ov_e, ov_cs, ov_ct = ov
    base_tier = int(_tier_index(policy, np.array([sc.baseline]))[0])
    lowest = min(int(sc.min), int(ov_cs.min())) if ov_cs.size else int(sc.min)
    tier_of = _tier_lookup(policy, lowest, int(sc.max))
    running = np.zeros(n, dtype=np.int64)
    prev_score = np.full(n, sc.baseline, dtype=np.int32)
    prev_tier = np.full(n, base_tier, dtype=np.int8)
    mark = np.zeros(n, dtype=bool)
    cap_s = np.full(n, NEVER, dtype=np.int64) if ov_res.size else None
    cap_t = np.full(n, -1, dtype=np.int8) if ov_res.size else None
    prev_act = np.zeros(0, dtype=np.int64)
    out: _Changes = []
    for k, day in enumerate(q):
        a = o_lo[b_lo[k] : b_lo[k + 1]]
        d = o_hi[b_hi[k] : b_hi[k + 1]]
        np.add.at(running, res[a], pts[a])
        np.subtract.at(running, res[d], pts[d])
        act = np.flatnonzero((ov_s <= day) & (day < ov_e))
        mark[res[a]] = True
        mark[res[d]] = True
        mark[ov_res[act]] = True
        mark[ov_res[prev_act]] = True
        cand = np.flatnonzero(mark)
        mark[cand] = False
        caps = None
        if act.size:
            assert cap_s is not None and cap_t is not None
            np.minimum.at(cap_s, ov_res[act], ov_cs[act])
            np.maximum.at(cap_t, ov_res[act], ov_ct[act].astype(np.int8))
            caps = (cap_s, cap_t)
        parts = [_evaluate(cand[c: c + _CHUNK], int(day), running, cov, prev_score,
                           prev_tier, caps, tier_of, sc.baseline, sc.min, sc.max)
                 for c in range(0, cand.size, _CHUNK)]
        if caps is not None:
            cap_s[ov_res[act]] = NEVER
            cap_t[ov_res[act]] = -1
        prev_act = act
        if parts:
            idx, score, tier = (np.concatenate(col) for col in zip(*parts, strict=True))
        else:
            idx, score, tier = np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int8)
        out.append((idx, score, tier))
    return out


def _evaluate(cand: np.ndarray, day: int, running: np.ndarray, cov: np.ndarray,
              prev_score: np.ndarray, prev_tier: np.ndarray,
              caps: tuple[np.ndarray, np.ndarray] | None,
              tier_of: Callable[[np.ndarray], np.ndarray], baseline: int, smin: int,
              smax: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Score and tier of the candidates on ``day``; the changed ones are recorded
    in ``prev_*`` and returned."""
    score = running[cand]
    score += baseline
    np.clip(score, smin, smax, out=score)
    if caps is not None:
        np.minimum(score, caps[0][cand], out=score)
        tier = tier_of(score)
        np.maximum(tier, caps[1][cand], out=tier)
    else:
        tier = tier_of(score)
    changed = cov[cand] <= day
    changed &= (score != prev_score[cand]) | (tier != prev_tier[cand])
    idx = cand[changed]
    score, tier = score[changed].astype(np.int32), tier[changed]
    prev_score[idx] = score
    prev_tier[idx] = tier
    return idx, score, tier


def _tier_lookup(policy: Policy, lo: int, hi: int) -> Callable[[np.ndarray], np.ndarray]:
    """Tier index (int8) of scores in ``[lo, hi]``: a table lookup when the range is
    not huge, else :func:`_tier_index`."""
    if hi - lo > 1_000_000:
        return lambda s: _tier_index(policy, s).astype(np.int8)
    table = _tier_index(policy, np.arange(lo, hi + 1, dtype=np.int64)).astype(np.int8)
    return lambda s: table[s - lo]


def monthly_scores(result: PolicyResult) -> pl.DataFrame:
    """The scores table: :func:`snapshot_states` on each month's snapshot day."""
    firsts, snap = snapshots(result.start_date, result.days)
    schema = scores_schema(result.policy)
    frames = []
    for first, day, df in zip(firsts, snap, snapshot_states(result, snap), strict=True):
        frames.append(
            df.select(
                "resident_id",
                pl.lit(first, dtype=pl.Date).alias("month"),
                pl.lit(int(day), dtype=pl.Int16).alias("day"),
                "score",
                "tier",
            )
        )
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames).cast(schema)  # type: ignore[arg-type]
