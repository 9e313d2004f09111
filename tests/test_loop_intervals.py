"""The loop's incremental state and effect intervals: recomputing only the residents
whose platform state changed gives what recomputing everyone gives."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from creditsim.catalogue import KIND_NAMES
from creditsim.platform.state import Intervals
from creditsim.platform.steps import update_intervals
from creditsim.policy import apply_policy, load_policy
from creditsim.services.decide import effect_intervals, state_intervals
from policy.helpers import linked, register, sort_all  # tests/policy (on the path)

DAYS = 365
GOOD = ["volunteer_hours", "honour", "heroic_act", "blood_donation"]
BAD = [k for k in KIND_NAMES if k not in GOOD and k != "judgment_performed"]


def _world(rng: np.random.Generator, n: int) -> pl.DataFrame:
    """Households of up to four (head, spouse, children with both parents)."""
    rows, hh = [], 0
    i = 0
    while i < n:
        size = int(min(n - i, rng.integers(1, 5)))
        head = i
        for j in range(size):
            rel = "head" if j == 0 else "spouse" if j == 1 else "child"
            row = {"resident_id": i, "household_id": hh, "relation": rel,
                   "birth_date": date(1960 + int(rng.integers(0, 40)), 3, 1),
                   "hukou": "local" if rng.random() < 0.7 else "migrant",
                   "years_in_city": float(rng.integers(0, 30))}
            if rel == "child" and size > 1:
                row.update(father_id=head, mother_id=head + 1,
                           birth_date=date(2008 + int(rng.integers(0, 10)), 5, 5))
            rows.append(row)
            i += 1
        hh += 1
    return register(rows)


def _records(rng: np.random.Generator, n: int, m: int, first_id: int = 0) -> list[tuple]:
    out = []
    for k in range(m):
        day = int(rng.integers(0, DAYS))
        # Half rewards (so some residents reach the green-channel tier), half breaches
        # (so some are listed and lose services, spilling over to their families).
        pool = GOOD if rng.random() < 0.5 else BAD
        kind = pool[int(rng.integers(0, len(pool)))]
        amount = float(rng.integers(5, 40)) if kind == "volunteer_hours" else \
            float(rng.choice([0.0, 50.0, 5000.0, 2e5]))
        out.append((first_id + k, int(rng.integers(0, n)), kind, day, day, amount,
                    f"C{int(rng.integers(0, 3))}"))
    return out


# beijing: list and tier causes; fuzhou: everyone covered, and a score condition the
# baseline meets; rongcheng: tiers that include the baseline's.
CAUSES = {"beijing": {"list", "tier"}, "fuzhou": {"covered", "score"}, "rongcheng": {"tier"}}
@pytest.mark.parametrize("preset", ["beijing", "fuzhou", "rongcheng"])
@pytest.mark.parametrize("seed", range(3))
def test_update_intervals_matches_recompute(preset: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    policy = load_policy(preset)
    n = 300
    reg = _world(rng, n)
    recs = _records(rng, n, 4000)
    before = apply_policy(policy, reg, linked(recs), days=DAYS, start_date=date(2021, 1, 1))
    # Some residents' records change (some dropped, new ones added).
    changed = np.unique(rng.integers(0, n, 25))
    hit = set(changed.tolist())
    kept = [r for r in recs if r[1] not in hit or rng.random() < 0.5]
    extra = [r for r in _records(rng, n, 800, first_id=10_000) if r[1] in hit]
    after = apply_policy(policy, reg, linked(kept + extra), days=DAYS,
                         start_date=date(2021, 1, 1))
    s0 = state_intervals(before)
    e0 = effect_intervals(before, reg, s0)
    got = update_intervals(after, reg, Intervals(s0, e0), changed.astype(np.int64))
    s1, e1 = got.states, got.effects
    full_s = state_intervals(after)
    full_e = effect_intervals(after, reg, full_s)
    # The causes each preset is chosen for are exercised.
    assert set(full_e["cause_type"].unique().to_list()) >= CAUSES[preset]
    assert s1 is not None and sort_all(s1).equals(sort_all(full_s))
    assert sort_all(e1).equals(sort_all(full_e))
    # Leaving out one changed resident who has effects is noticed.
    fx = set(full_e["via_resident_id"].to_list()) ^ set(e0["via_resident_id"].to_list())
    if fx & hit:
        drop = min(fx & hit)
        bad = update_intervals(after, reg, Intervals(s0, e0),
                               np.array(sorted(hit - {drop}), dtype=np.int64))
        assert not sort_all(bad.effects).equals(sort_all(full_e))
