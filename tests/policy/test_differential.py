"""Differential tests: the fast engine and the reference interpreter agree exactly."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from budget import examples
from creditsim.policy import apply_policy

from .helpers import linked, register, sort_all
from .reference import reference_apply
from .strategies import policies, populations

#: Hundreds of generated policies against the plain interpreter: the whole suite only.
pytestmark = pytest.mark.slow


def _compare(policy, rows, recs, days, start) -> None:  # noqa: ANN001
    reg, lk = register(rows), linked(recs)
    fast = apply_policy(policy, reg, lk, days=days, start_date=start)
    ref = reference_apply(policy, reg, lk, days=days, start_date=start)
    for name, table in fast.tables().items():
        expected = ref[name]
        assert table.schema == expected.schema, name
        got, want = sort_all(table), sort_all(expected)
        assert got.equals(want), f"{name} differs:\nfast\n{got}\nreference\n{want}"


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(), populations())
def test_fast_engine_matches_reference(policy, population) -> None:  # noqa: ANN001
    rows, recs, days, start = population
    _compare(policy, rows, recs, days, start)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(), populations(), st.integers(1, 5))
def test_blocks_change_nothing(policy, population, block_rows) -> None:  # noqa: ANN001
    """Blocks of residents (ledger) and chunks of candidates (snapshots) of any size
    give the very same tables, row for row, as one piece (and still the reference's)."""
    from creditsim.policy import engine, snapshots

    rows, recs, days, start = population
    reg, lk = register(rows), linked(recs)
    whole = apply_policy(policy, reg, lk, days=days, start_date=start)
    saved = engine.LEDGER_BLOCK_ROWS, snapshots._CHUNK
    try:
        engine.LEDGER_BLOCK_ROWS = snapshots._CHUNK = block_rows
        blocked = apply_policy(policy, reg, lk, days=days, start_date=start)
    finally:
        engine.LEDGER_BLOCK_ROWS, snapshots._CHUNK = saved
    for name, table in whole.tables().items():
        assert blocked.tables()[name].equals(table), name
    assert whole.override_spells.equals(blocked.override_spells)
    _compare(policy, rows, recs, days, start)
