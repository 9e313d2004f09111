"""catalogue.rows_of against a plain dictionary lookup (dense and sparse ids)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from budget import examples
from creditsim.catalogue import rows_of


@settings(max_examples=examples(200), deadline=None)
@given(ids=st.lists(st.one_of(st.integers(0, 300), st.integers(0, 10**15)), unique=True,
                    max_size=60),
       queries=st.lists(st.one_of(st.integers(-5, 300), st.integers(0, 10**15)), max_size=60))
def test_rows_of_matches_a_dict(ids: list[int], queries: list[int]) -> None:
    where = {v: i for i, v in enumerate(ids)}
    expected = [where.get(q, -1) for q in queries]
    got = rows_of(np.array(ids, dtype=np.int64), np.array(queries, dtype=np.int64))
    assert got.tolist() == expected


@given(ids=st.lists(st.integers(-10, 10**12), unique=True, max_size=60))
def test_rows_of_identical_arrays_is_the_identity(ids: list[int]) -> None:
    a = np.array(ids, dtype=np.int64)
    assert np.array_equal(rows_of(a, a.copy()), np.arange(len(a)))


@settings(max_examples=examples(200), deadline=None)
@given(lo=st.integers(-50, 10**12), n=st.integers(0, 80), shuffle=st.booleans(),
       seed=st.integers(0, 2**32 - 1),
       queries=st.lists(st.integers(-60, 200), max_size=60))
def test_rows_of_consecutive_ids(lo: int, n: int, shuffle: bool, seed: int,
                                 queries: list[int]) -> None:
    """Ids filling a range (in order: the offset path; shuffled: the table path)."""
    ids = np.arange(lo, lo + n, dtype=np.int64)
    if shuffle:
        np.random.default_rng(seed).shuffle(ids)
    q = np.array([lo + x for x in queries], dtype=np.int64)
    where = {int(v): i for i, v in enumerate(ids)}
    assert rows_of(ids, q).tolist() == [where.get(int(x), -1) for x in q]
