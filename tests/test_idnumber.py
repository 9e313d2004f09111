"""GB 11643-1999 ID numbers: check digits, formatting, packing."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from creditsim import idnumber


def reference_check(body: str) -> str:
    """The standard's definition, written out: weights 2^(18-i) mod 11."""
    total = sum(int(d) * (2 ** (18 - i) % 11) for i, d in enumerate(body, start=1))
    return "10X98765432"[total % 11]


def test_published_example() -> None:
    # The example number printed in GB 11643-1999 itself.
    assert idnumber.check_char("11010519491231002") == "X"


bodies = st.integers(min_value=10**16, max_value=10**17 - 1)


@given(st.lists(bodies, min_size=1, max_size=50))
def test_vectorised_check_matches_reference(bs: list[int]) -> None:
    ids = idnumber.format_ids(np.array(bs, dtype=np.int64)).to_list()
    for b, s in zip(bs, ids, strict=True):
        assert s[:17] == f"{b:017d}"
        assert s[17] == reference_check(s[:17])
    assert idnumber.is_valid(pl.Series(ids)).all()


@given(bodies, st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_error_is_detected(b: int, pos: int, delta: int) -> None:
    s = idnumber.format_ids(np.array([b], dtype=np.int64))[0]
    d = (int(s[pos]) + delta) % 10
    bad = s[:pos] + str(d) + s[pos + 1:]
    assert not idnumber.is_valid(pl.Series([bad]))[0]


@given(bodies, st.integers(0, 15))
def test_adjacent_transposition_is_detected(b: int, pos: int) -> None:
    s = idnumber.format_ids(np.array([b], dtype=np.int64))[0]
    if s[pos] == s[pos + 1]:
        return
    bad = s[:pos] + s[pos + 1] + s[pos] + s[pos + 2:]
    assert not idnumber.is_valid(pl.Series([bad]))[0]


def test_malformed_and_null() -> None:
    v = idnumber.is_valid(pl.Series(["123", "11010519491231002Y", None, "1101051949123100 X"]))
    assert v.to_list() == [False, False, None, False]


@given(st.lists(bodies, min_size=1, max_size=30, unique=True))
def test_pack_is_injective_and_null_for_malformed(bs: list[int]) -> None:
    ids = idnumber.format_ids(np.array(bs, dtype=np.int64))
    packed = idnumber.pack(ids)
    assert packed.null_count() == 0
    assert packed.n_unique() == len(bs)
    assert idnumber.pack(pl.Series(["abc"])).null_count() == 1
