"""The ledger's (resident, day, record[, rule]) order: the packed one-key sort
against numpy's lexsort, for rows in record order and in any order."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from creditsim.policy.engine import _packed_order, _sort_order


@st.composite
def rows(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    n = draw(st.integers(0, 300))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    res = rng.integers(0, draw(st.sampled_from([1, 5, 40, 2**24])), n).astype(np.int32)
    day = rng.integers(0, draw(st.sampled_from([1, 3, 365, 4000])), n).astype(np.int16)
    rid = rng.choice(10 * n + 1, n, replace=False).astype(np.int64)
    if draw(st.booleans()):
        rid.sort()  # the record stream's own order: the packed path
    extra = None
    if draw(st.booleans()):
        extra = rng.integers(0, 3, n).astype(np.int64)
        if draw(st.booleans()):  # repeated record ids told apart by extra
            rid = np.sort(rng.integers(0, n + 1, n)).astype(np.int64)
            keys = np.unique(np.stack([rid, extra]), axis=1)
            rid, extra = keys[0], keys[1]
            res, day = res[:rid.size], day[:rid.size]
    return res, day, rid, extra


@settings(max_examples=300, deadline=None)
@given(rows())
def test_sort_order_matches_lexsort(r: tuple[np.ndarray, ...]) -> None:
    res, day, rid, extra = r
    keys = [rid, day, res] if extra is None else [extra, rid, day, res]
    want = np.lexsort(keys)
    assert np.array_equal(_sort_order(res, day, rid, extra), want)


def test_packed_path_taken_only_in_record_order() -> None:
    res = np.array([3, 1, 3, 1], dtype=np.int32)
    day = np.array([5, 5, 2, 5], dtype=np.int16)
    rid = np.array([10, 11, 12, 13], dtype=np.int64)
    got = _packed_order(res, day, rid, None)
    assert got is not None and got.tolist() == [1, 3, 2, 0]
    assert _packed_order(res, day, rid[::-1].copy(), None) is None
    assert _packed_order(res, day, rid, np.array([0, 0, 0, 0])) is not None
