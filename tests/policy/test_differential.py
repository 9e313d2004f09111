"""Differential tests: the fast engine and the reference interpreter agree exactly."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from creditsim.policy import apply_policy

from .helpers import linked, register, sort_all
from .reference import reference_apply
from .strategies import policies, populations


def _compare(policy, rows, recs, days, start) -> None:  # noqa: ANN001
    reg, lk = register(rows), linked(recs)
    fast = apply_policy(policy, reg, lk, days=days, start_date=start)
    ref = reference_apply(policy, reg, lk, days=days, start_date=start)
    for name, table in fast.tables().items():
        expected = ref[name]
        assert table.schema == expected.schema, name
        got, want = sort_all(table), sort_all(expected)
        assert got.equals(want), f"{name} differs:\nfast\n{got}\nreference\n{want}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(), populations())
def test_fast_engine_matches_reference(policy, population) -> None:  # noqa: ANN001
    rows, recs, days, start = population
    _compare(policy, rows, recs, days, start)
