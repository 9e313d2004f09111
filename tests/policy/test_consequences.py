"""The services stage's consequence intervals and decisions agree, day by day, with
the slow oracle of tests/policy/consequences.py on random policies and families."""

from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from budget import examples
from creditsim import catalogue as cat
from creditsim.policy import apply_policy
from creditsim.services import decide, effect_intervals

from . import consequences as oracle
from .helpers import linked, register
from .strategies import SERVICE_POOL, families, policies_with_consequences, populations

_ROW = ["resident_id", "service", "effect", "rate", "consequence", "via_resident_id",
        "cause_type", "cause", "spell_record_id"]


def by_day(intervals: pl.DataFrame, days: int) -> dict[int, set[oracle.Row]]:
    """The rows of ``effect_intervals`` in force on each day of the run."""
    out: dict[int, set[oracle.Row]] = {d: set() for d in range(days)}
    for r in intervals.with_columns(pl.col("service").cast(pl.String)).iter_rows(named=True):
        row = tuple(r[c] for c in _ROW)
        for d in range(max(r["start"], 0), min(r["end"], days)):
            out[d].add(row)
    return out


@st.composite
def cases(draw):  # noqa: ANN201
    policy = draw(policies_with_consequences())
    rows, recs, days, start = draw(populations())
    rows = draw(families(rows))
    n = len(rows)
    # Every service for the first residents on a few days (where effects meet and
    # compete), and a few demands of anyone on any day.
    on_days = draw(st.lists(st.integers(0, days - 1), max_size=6, unique=True))
    demand = [(rid, d, sv) for d in on_days for rid in range(min(n, 8)) for sv in SERVICE_POOL]
    demand += draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, days - 1),
                                      st.sampled_from(SERVICE_POOL)), max_size=20))
    return policy, rows, recs, days, start, demand


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_services_match_the_oracle(case) -> None:  # noqa: ANN001
    policy, rows, recs, days, start, demand = case
    reg = register(rows)
    result = apply_policy(policy, reg, linked(recs), days=days, start_date=start)
    got = by_day(effect_intervals(result, reg), days)
    family = oracle.Family(register=reg)
    want = {d: oracle.in_force(result, d, family) for d in range(days)}
    for d in range(days):
        assert got[d] == want[d], f"day {d}: services - oracle {got[d] - want[d]}, " \
                                  f"oracle - services {want[d] - got[d]}"
    dem = pl.DataFrame(demand, schema=["resident_id", "day", "service"], orient="row").cast(
        {"resident_id": pl.Int32, "day": pl.Int16, "service": cat.ServiceT})
    dec = decide(dem, effect_intervals(result, reg)).with_columns(
        pl.col(c).cast(pl.String) for c in ("service", "decision", "cause_type"))
    assert sorted(dec.rows(), key=repr) == sorted(oracle.decisions(demand, want), key=repr)
