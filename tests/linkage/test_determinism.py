"""Same seed → same links, whatever the chunking; u sampling is seeded.

The links compared here are made with a u sample of 200,000 pairs
(:data:`QUICK`) rather than the 3 M a 60,000-resident register gets: what is
tested — that a record's link depends on the record, the register and the seed
only — holds for any sample size, and four linkages of 60,000 residents then
spend seconds, not tens of seconds, estimating u."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from creditsim.linkage import link_records, prepare
from creditsim.linkage import model as mdl
from creditsim.linkage.features import register_features
from creditsim.linkage.probabilistic import SplinkOptions, _connect, estimate_u
from creditsim.params import Cited

pytestmark = pytest.mark.slow

#: The linkage settings of this module's runs: a u sample of 200,000 pairs.
QUICK = mdl.LinkageModel(u_pairs_min=Cited(200_000, "test"), u_pairs_max=Cited(200_000, "test"))


@pytest.fixture(scope="module")
def linked(small_run: dict, register: pl.DataFrame,
           tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The shared city linked once with :data:`QUICK` (read only)."""
    res = link_records(small_run["records"], register, seed=3, settings=QUICK,
                       workdir=tmp_path_factory.mktemp("quick") / "work")
    return {"result": res}


def test_rerun_and_chunking_give_identical_links(
    linked: dict, small_run: dict, register: pl.DataFrame, tmp_path: Path
) -> None:
    reg = register
    again = link_records(
        small_run["records"],
        reg,
        seed=3,
        workdir=tmp_path / "a",
        chunk_rows=7_777,
        predict_chunks=3,
        memory_limit="1GB",
        threads=1,
        settings=QUICK,
    )
    assert_frame_equal(again.links, linked["result"].links)
    assert again.metrics == linked["result"].metrics


def test_linking_departments_separately_gives_the_same_links(
    linked: dict, small_run: dict, register: pl.DataFrame, tmp_path: Path
) -> None:
    """Each record's link depends on the record, the register and the seed only."""
    reg = register
    recs = small_run["records"]
    groups = [
        ("civil",),
        ("court", "traffic", "transit"),
        ("bank", "tax", "market", "utility", "health"),
    ]
    parts = []
    for i, g in enumerate(groups):
        res = link_records({d: recs[d] for d in g}, reg, seed=3, workdir=tmp_path / str(i),
                           settings=QUICK)
        parts.append(res.links)
    together = pl.concat(parts).sort("department", "record_id")
    assert_frame_equal(together, linked["result"].links)


def test_u_sampling_is_seeded(small_run: dict, register: pl.DataFrame, tmp_path: Path) -> None:
    reg = register_features(prepare.register_view(register))
    con = _connect(tmp_path, SplinkOptions(memory_limit="1GB"))
    try:
        s = mdl.base_settings()
        a = estimate_u(con, s, reg, seed=5, pairs=200_000)
        b = estimate_u(con, s, reg, seed=5, pairs=200_000)
        c = estimate_u(con, s, reg, seed=6, pairs=200_000)
    finally:
        con.close()
    assert a == b
    assert a != c
    for comp in {k[0] for k in a}:
        total = sum(v for k, v in a.items() if k[0] == comp)
        assert total == pytest.approx(1.0, abs=1e-5)


def _u_materialised(con, settings: dict, reg, seed: int, pairs: int) -> dict:
    """The slow obvious u: every sampled pair's two sides gathered into one table,
    each comparison's levels counted over it (pseudo-count ½ for a level unseen)."""
    import numpy as np

    from creditsim.linkage.probabilistic import _u_pairs, gamma_sql

    i, j = _u_pairs(reg.height, pairs, seed)
    cols = ["name", "name_py", "id_number", "birth_date", "sex", "district"]

    def side(rows: np.ndarray, sfx: str) -> pl.DataFrame:
        df = reg.frame.select("name", "id_number", "birth_date", "sex", "district")[rows]
        df = df.with_columns(reg.name_py(rows), pl.col("sex", "district").cast(pl.String))
        return df.select(cols).rename({c: f"{c}_{sfx}" for c in cols})

    con.register("ref_pairs", pl.concat([side(i, "l"), side(j, "r")],
                                        how="horizontal").to_arrow())
    g = pl.from_arrow(con.sql(f"SELECT {', '.join(gamma_sql(settings))} FROM ref_pairs")
                      .to_arrow_table())
    con.unregister("ref_pairs")
    out = {}
    for c in settings["comparisons"]:
        col = g[f"g_{c['output_column_name']}"]
        seen = col.filter(col >= 0)
        nonnull = [lv for lv in c["comparison_levels"] if not lv.get("is_null_level")]
        for k, lv in enumerate(nonnull):
            cnt = int((seen == len(nonnull) - 1 - k).sum())
            out[(c["output_column_name"], lv["label_for_charts"])] = \
                (cnt if cnt else 0.5) / max(seen.len(), 1)
    return out


@pytest.mark.parametrize("rows, pairs", [(3_000, 100_000), (300, 300 * 299), (2, 2)])
def test_u_equals_the_materialised_count(register: pl.DataFrame, tmp_path: Path, rows: int,
                                         pairs: int) -> None:
    """Differential: u counted by level combination in one DuckDB pass = u counted
    level by level over the pairs gathered in Polars; exactly, for a sample and for
    a register compared in full."""
    reg = register_features(prepare.register_view(register.head(rows)))
    con = _connect(tmp_path, SplinkOptions(memory_limit="1GB"))
    try:
        s = mdl.base_settings()
        got = estimate_u(con, s, reg, seed=7, pairs=pairs)
        want = _u_materialised(con, s, reg, seed=7, pairs=pairs)
    finally:
        con.close()
    assert got == want and len(got) > 5


def test_different_seed_changes_only_u_and_ties(
    linked: dict, small_run: dict, register: pl.DataFrame, tmp_path: Path
) -> None:
    reg = register
    other = link_records(small_run["records"], reg, seed=4, workdir=tmp_path / "s",
                         settings=QUICK)
    a, b = linked["result"].links, other.links
    assert_frame_equal(a.filter(pl.col("method") == "id"), b.filter(pl.col("method") == "id"))
    same = a["resident_id"].eq_missing(b["resident_id"]).mean()
    assert same is not None and same > 0.99


def test_a_small_register_is_compared_in_full(register: pl.DataFrame, tmp_path: Path) -> None:
    """With no more ordered pairs than the sample size, u is every pair's share: the
    same for any seed and any larger sample, and "same sex" is exactly the share of
    ordered pairs of one sex (a count made here from the register)."""
    small = register.head(40)
    reg = register_features(prepare.register_view(small))
    n = small.height
    con = _connect(tmp_path, SplinkOptions(memory_limit="1GB"))
    try:
        s = mdl.base_settings()
        a = estimate_u(con, s, reg, seed=5, pairs=n * (n - 1))
        b = estimate_u(con, s, reg, seed=6, pairs=10 * n * n)
        sampled = estimate_u(con, s, reg, seed=5, pairs=n * (n - 1) - 1)
    finally:
        con.close()
    assert a == b and sampled != a
    men = int((small["sex"].cast(pl.String) == "M").sum())
    same = men * (men - 1) + (n - men) * (n - men - 1)
    assert a[("sex", "same sex")] == pytest.approx(same / (n * (n - 1)), rel=1e-12)


def test_the_u_sample_grows_with_the_register_within_its_bounds() -> None:
    m = mdl.LinkageModel()
    lo, hi, k = m.u_pairs_min.value, m.u_pairs_max.value, m.u_pairs_per_resident.value
    sizes = [1, 2_000, int(lo / k), int(lo / k) + 1, 20_000, int(hi / k), 21_893_095]
    got = [m.u_pairs(n) for n in sizes]
    assert got == sorted(got) and got[0] == lo and got[-1] == hi
    assert got[4] == round(20_000 * k) and lo < got[4] < hi
    with pytest.raises(ValueError, match="u_pairs_min"):
        mdl.LinkageModel(u_pairs_min=Cited(hi + 1, "x"))
