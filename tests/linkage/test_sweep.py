"""The probabilistic stage's threshold sweep against a plain-Python count."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from budget import examples
from creditsim.linkage.evaluate import SWEEP_THRESHOLDS, TRUTH_COLUMN, threshold_sweep

_res = st.one_of(st.none(), st.integers(0, 5))
_post = st.one_of(st.none(), st.sampled_from([0.0, 0.05, 0.3, 0.5, 0.51, 0.9, 0.99, 1.0]))


@settings(max_examples=examples(200), deadline=None)
@given(st.data())
def test_threshold_sweep_matches_plain_count(data: st.DataObject) -> None:
    ids = data.draw(st.lists(st.integers(0, 60), unique=True, max_size=30))
    best_rows = [(i, data.draw(_res), data.draw(_post)) for i in ids]
    # The truth table may list other records too, and miss some (absent: no subject).
    truth_ids = data.draw(st.lists(st.integers(0, 60), unique=True, max_size=40))
    truth = {i: data.draw(_res) for i in truth_ids}
    best = pl.DataFrame(best_rows, schema={"record_id": pl.Int64, "resident_id": pl.Int32,
                                           "posterior": pl.Float64}, orient="row")
    tr = pl.DataFrame({"record_id": pl.Series(list(truth), dtype=pl.Int64),
                       TRUTH_COLUMN: pl.Series(list(truth.values()), dtype=pl.Int32)})
    got = threshold_sweep(best, tr)
    assert [g["threshold"] for g in got] == list(SWEEP_THRESHOLDS)
    for g in got:
        t = g["threshold"]
        taken = [(i, r) for i, r, p in best_rows if p is not None and p >= t]
        correct = sum(1 for i, r in taken if r is not None and truth.get(i) == r)
        assert (g["links"], g["correct"]) == (len(taken), correct)
        n = len(best_rows)
        assert g["recall"] == (correct / n if n else None)
        assert g["precision"] == (correct / len(taken) if taken else None)
