"""Scratch tables (the records stage's full candidate records) and the Enum-aware
membership test of the coverage rules: fast paths checked against plain ones."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from creditsim import rundir
from creditsim.policy.engine import _value_in

KIND = pl.Enum(["a", "bb", "ccc"])


def _table(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    names = ["王伟", "李娜", "张敏", None, "欧阳 a long name beyond twelve bytes"]
    return pl.DataFrame({
        "record_id": np.arange(n, dtype=np.int64),
        "kind": pl.Series(np.array(["a", "bb", "ccc"])[rng.integers(0, 3, n)]).cast(KIND),
        "day": rng.integers(0, 365, n).astype(np.int16),
        "name": pl.Series([names[i] for i in rng.integers(0, 5, n)], dtype=pl.String),
        "amount": np.where(rng.random(n) < 0.1, np.nan, rng.random(n)),
    })


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 3000), seed=st.integers(0, 2**31 - 1), p=st.floats(0, 1))
def test_scratch_round_trip_selects_exactly_the_masked_rows(tmp_path_factory, n, seed,
                                                            p) -> None:
    out = tmp_path_factory.mktemp("run") / "run"
    w = rundir.RunWriter(out)
    try:
        rundir_rg = rundir.SCRATCH_ROW_GROUP
        rundir.SCRATCH_ROW_GROUP = 97  # many row groups and read slices at test size
        df = _table(n, seed)
        path = w.write_scratch("records/x.parquet", df)
        keep = np.random.default_rng(seed + 1).random(n) < p
        got = rundir.read_scratch(path, dict(df.schema), keep)
        assert got.schema == df.schema
        assert got.equals(df.filter(pl.Series(keep, dtype=pl.Boolean)))
        assert rundir.read_scratch(path, dict(df.schema)).equals(df)
    finally:
        rundir.SCRATCH_ROW_GROUP = rundir_rg
        w.abort()


def test_scratch_mask_of_wrong_length_is_an_error(tmp_path) -> None:
    w = rundir.RunWriter(tmp_path / "run")
    try:
        path = w.write_scratch("t.parquet", _table(10, 1))
        try:
            rundir.read_scratch(path, dict(_table(10, 1).schema), np.ones(9, dtype=bool))
        except ValueError as e:
            assert "10 rows, mask of 9" in str(e)
        else:
            raise AssertionError("a short mask was accepted")
    finally:
        w.abort()


@given(vals=st.lists(st.sampled_from(["local", "migrant", None]), max_size=50),
       wanted=st.sets(st.sampled_from(["local", "migrant", "other"])))
def test_value_in_on_enum_codes_matches_string_membership(vals, wanted) -> None:
    s = pl.Series(vals, dtype=pl.Enum(["local", "migrant"]))
    plain = np.array([v is not None and v in wanted for v in vals], dtype=bool)
    assert np.array_equal(_value_in(s, tuple(wanted)), plain)
    assert np.array_equal(_value_in(s.cast(pl.String), tuple(wanted)), plain)
