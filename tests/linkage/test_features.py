"""Register-index shortcuts against their plain string forms."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from creditsim.cities import BEIJING
from creditsim.linkage import features, prepare
from creditsim.population.synth import synthesize


@pytest.fixture(scope="module")
def indexed():
    reg = prepare.register_view(synthesize(BEIJING, 20_000, 3, dt.date(2021, 1, 1)))
    return reg, features.register_features(reg)


@pytest.mark.parametrize("col,code", [("name", "name_idx"), ("name_py", "py_idx")])
def test_term_frequencies_by_index_equal_those_by_string(indexed, col, code) -> None:
    reg, f = indexed
    keys = reg.sample(800, seed=1).select("name", "id_number", "birth_date", "sex", "district")
    # names the register does not know must be left out by both forms
    keys = pl.concat([keys, keys.head(20).with_columns(pl.lit("查无此人").alias("name"))])
    kf = features.key_features(keys, f)
    cand = features.candidate_register(f, kf, 100)
    plain = features.tf_table(f, col, pl.concat([kf[col], cand[col]]))
    fast = features.tf_table_of(f, col, np.concatenate([kf[code].to_numpy(),
                                                        cand[code].to_numpy()]))
    assert fast.equals(plain)
    # exactly the wanted values the register knows, each once
    known = set(reg.with_columns(features.with_pinyin(reg)["name_py"])[col].to_list())
    wanted = set(kf[col].to_list()) | set(cand[col].to_list())
    assert fast[col].n_unique() == fast.height
    assert set(fast[col].to_list()) == wanted & known
    assert "查无此人" not in fast[col].to_list()
    # each frequency is the share of registered residents with that value
    counts = reg.with_columns(features.with_pinyin(reg)["name_py"]).group_by(col).len()
    got = fast.join(counts, on=col)
    assert got.height == fast.height
    assert np.allclose(got[f"tf_{col}"].to_numpy(), got["len"].to_numpy() / reg.height)
