"""The loop's "resident id is one of these" test: both of its routes agree with a
plain set membership, nulls never hit."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from creditsim.platform.stream import member_of


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 3000), st.data())
def test_member_of_matches_set_membership(n: int, data: st.DataObject) -> None:
    # Sizes on both sides of the switch between is_in and the flag table (n // 64).
    k = data.draw(st.sampled_from([0, 1, max(1, n // 64), n // 64 + 1, n // 2, n]))
    ids = np.unique(np.asarray(data.draw(st.lists(st.integers(0, n - 1), min_size=min(k, 1),
                                                  max_size=k)), dtype=np.int64))
    col = data.draw(st.lists(st.one_of(st.none(), st.integers(0, n - 1)), max_size=200))
    got = member_of(ids, n)(pl.Series(col, dtype=pl.Int32)).to_list()
    want = [v is not None and v in set(ids.tolist()) for v in col]
    assert got == want
