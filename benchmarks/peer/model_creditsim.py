"""Version B of the peer model: creditsim's way.

Struct of arrays, no per-resident Python, and creditsim's own machinery:

* random draws from named streams keyed by resident block (:func:`creditsim.rng.stream`),
  so results do not depend on how the work is chunked;
* violation counts by inverse-CDF Poisson (:func:`creditsim.behaviour.generate.poisson_icdf`)
  over the whole run, then a uniform day for each — a Poisson process, the same
  distribution as a Poisson draw per day — as the behaviour stage does;
* points, expiry and the threshold list by the **policy engine**: the model is a tiny
  policy (:func:`policy_from_text`): one rule (−5 per ``traffic_violation``, expiring),
  a score list (``score_below``) and a consequence (``deny`` ``flight`` to the listed),
  applied with :func:`creditsim.policy.apply_policy` to a linked record stream. The
  engine computes score lists from the sparse days on which a score changes, so no
  day-by-day loop is needed;
* the flight check: purchases wanted are Bernoulli trials over (resident, day), drawn
  as geometric gaps (one draw per purchase, not one per resident-day); each is denied
  when its day falls in a spell of a list that the policy says denies flights, found
  with one ``searchsorted`` over the sorted spells.
"""

from __future__ import annotations

import time

import numpy as np
import polars as pl
from peer_common import PeerParams, PeerResult

from creditsim.draws import poisson_icdf
from creditsim.catalogue import KindT
from creditsim.policy import Policy, apply_policy, policy_from_text
from creditsim.rng import RESIDENT_BLOCK, block_bounds, stream

KIND = "traffic_violation"
LIST_ID = "peer_list"


def peer_policy(p: PeerParams) -> Policy:
    """The minimal model as a creditsim policy."""
    cite = 'source = "benchmarks/peer: peer-comparison model"\nstatus = "assumption"'
    return policy_from_text(f"""
[meta]
name = "peer"
title = "Peer-comparison model"
description = "One behaviour, expiring points, a threshold list, a flight check."
city = "synthetic"

[scale]
baseline = {p.baseline}
min = {p.score_min}
max = {p.score_max}
expiry_from = "event"
{cite}

[[tiers]]
name = "all"
min = {p.score_min}
max = {p.score_max}
{cite}

[[rules]]
id = "violation"
kinds = ["{KIND}"]
points = {p.points}
expires_days = {p.expiry_days}
{cite}

[[lists]]
id = "{LIST_ID}"
title = "Below the threshold"
score_below = {p.threshold}
{cite}

[[consequences]]
id = "no_flight"
on_list = "{LIST_ID}"
service = "flight"
effect = "deny"
{cite}
""", origin="peer-policy")


def _bernoulli_positions(rng: np.random.Generator, trials: int, p: float) -> np.ndarray:
    """Indices of the successes among ``trials`` Bernoulli(p) trials (geometric gaps)."""
    parts: list[np.ndarray] = []
    last = -1
    while True:
        want = max(64, int((trials - last) * p * 1.05 + 6 * np.sqrt((trials - last) * p)))
        pos = last + np.cumsum(rng.geometric(p, want))
        parts.append(pos)
        last = int(pos[-1])
        if last >= trials:
            break
    out = np.concatenate(parts)
    return out[out < trials]


def draw(residents: int, days: int, p: PeerParams, seed: int) -> dict[str, np.ndarray]:
    """Violations (resident, day) and flight purchases wanted (resident, day)."""
    s2 = p.rate_sigma
    ev_r, ev_d, dm_r, dm_d = [], [], [], []
    for b, (lo, hi) in enumerate(block_bounds(residents, RESIDENT_BLOCK)):
        n = hi - lo
        z = stream(seed, "peer.rate", b).standard_normal(n)
        lam = p.base_rate * np.exp(s2 * z - s2 * s2 / 2)
        cnt = poisson_icdf(stream(seed, "peer.traffic_violation", b).random(n), lam * days)
        ev_r.append(np.repeat(np.arange(lo, hi, dtype=np.int32), cnt))
        ev_d.append(stream(seed, "peer.traffic_violation.day", b)
                    .integers(0, days, int(cnt.sum()), dtype=np.int16))
        pos = _bernoulli_positions(stream(seed, "peer.flight_demand", b), n * days,
                                   p.demand_prob)
        dm_r.append((lo + pos // days).astype(np.int32))
        dm_d.append((pos % days).astype(np.int16))
    return {"event_resident": np.concatenate(ev_r), "event_day": np.concatenate(ev_d),
            "demand_resident": np.concatenate(dm_r), "demand_day": np.concatenate(dm_d)}


def run(residents: int, days: int, params: PeerParams, seed: int = 1,
        draws: dict[str, np.ndarray] | None = None) -> PeerResult:
    """Run the model; ``draws`` (as from :func:`draw`) replaces the random draws."""
    t0 = time.perf_counter()
    policy = peer_policy(params)
    d = draws if draws is not None else draw(residents, days, params, seed)
    ev_r, ev_d = d["event_resident"], d["event_day"]
    m = len(ev_r)
    register = pl.DataFrame({"resident_id": pl.Series(np.arange(residents, dtype=np.int32))})
    linked = pl.DataFrame({
        "record_id": pl.Series(np.arange(m, dtype=np.int64)),
        "resident_id": pl.Series(ev_r, dtype=pl.Int32),
        "day_event": pl.Series(ev_d, dtype=pl.Int16),
        "day_recorded": pl.Series(ev_d, dtype=pl.Int16),
    }).with_columns(kind=pl.lit(KIND, dtype=KindT), amount=pl.lit(None, dtype=pl.Float64))
    t1 = time.perf_counter()
    res = apply_policy(policy, register, linked, days=days)
    t2 = time.perf_counter()

    # Spells of the lists that deny flights, as [start, end) per resident (sorted).
    deny_lists = [c.on_list for c in policy.consequences_for("flight")
                  if c.effect == "deny" and c.on_list is not None and c.apply_to_self]
    sp = res.list_spells.filter(pl.col("list").cast(pl.String).is_in(deny_lists))
    sp = sp.sort("resident_id", "start_day")
    s_r = sp["resident_id"].to_numpy().astype(np.int64)
    s_start = sp["start_day"].to_numpy().astype(np.int64)
    s_end = sp["end_day"].fill_null(days).to_numpy().astype(np.int64)

    # The flight check: a purchase on day t is denied if t is in a spell.
    width = days + 1
    key = d["demand_resident"].astype(np.int64) * width + d["demand_day"]
    i = np.searchsorted(s_r * width + s_start, key, side="right") - 1
    denied = (i >= 0) & (key < (s_r * width + s_end)[np.maximum(i, 0)])

    dm_r = d["demand_resident"]
    listed_days = np.bincount(s_r, weights=s_end - s_start, minlength=residents).astype(np.int64)
    delta = (np.bincount(s_start, minlength=width) - np.bincount(s_end, minlength=width))
    out = PeerResult(
        days=days,
        events=np.bincount(ev_r, minlength=residents).astype(np.int64),
        demands=np.bincount(dm_r, minlength=residents).astype(np.int64),
        denials=np.bincount(dm_r[denied], minlength=residents).astype(np.int64),
        listed_days=listed_days,
        ever_listed=listed_days > 0,
        listed_per_day=np.cumsum(delta)[:days].astype(np.int64),
    )
    t3 = time.perf_counter()
    out.timings = {"setup": t1 - t0, "run": t2 - t1, "collect": t3 - t2, "total": t3 - t0,
                   **{f"engine.{k}": v for k, v in res.timings.items()}}
    return out
