"""The two passes on hand-made registers and records."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from creditsim import catalogue as cat
from creditsim import idnumber
from creditsim.linkage import link_records
from creditsim.linkage.deterministic import RegisterIndex, link_by_id


def _register(n: int = 400) -> pl.DataFrame:
    """n residents with distinct, rare-ish names, plus two identical namesakes."""
    rng = np.random.default_rng(0)
    body = idnumber.body17(np.full(n, 110105), 19800101 + np.arange(n) % 28, np.arange(n) * 2 + 1)
    given = [chr(0x4E00 + 37 * i % 20000) + chr(0x4E00 + (53 * i + 7) % 20000) for i in range(n)]
    names = [("欧阳" if i % 2 else "司马") + g for i, g in enumerate(given)]
    names[-1] = names[-2] = "王伟"
    return pl.DataFrame(
        {
            "resident_id": pl.Series(np.arange(n), dtype=pl.Int32),
            "name": names,
            "id_number": idnumber.format_ids(body),
            "birth_date": pl.Series([dt.date(1980, 1, 1)] * n),
            "sex": pl.Series(["M"] * n).cast(cat.SexT),
            "district": pl.Series([cat.DISTRICTS[2]] * n).cast(cat.DistrictT),
            "hukou": pl.Series(np.where(rng.random(n) < 0.3, "migrant", "local")).cast(cat.HukouT),
        }
    )


def _records(reg: pl.DataFrame, rows: list[dict]) -> dict[str, pl.DataFrame]:
    df = pl.DataFrame(rows).with_columns(
        pl.col("record_id").cast(pl.Int64),
        pl.lit("civil").cast(cat.DepartmentT).alias("department"),
        pl.col("sex").cast(cat.SexT),
        pl.lit(cat.DISTRICTS[2]).cast(cat.DistrictT).alias("district"),
        pl.col("birth_date").cast(pl.Date),
        pl.col("id_number").cast(pl.String),
        pl.col("truth_resident_id").cast(pl.Int32),
    )
    return {"civil": df}


def test_id_pass_links_valid_ids_including_a_relatives() -> None:
    reg = _register()
    ids = reg["id_number"]
    bad = ids[5][:-2] + ids[5][-1] + ids[5][-2]  # two characters swapped: check fails
    recs = pl.DataFrame(
        {
            "department": pl.Series(["court"] * 5).cast(cat.DepartmentT),
            "record_id": pl.Series([1, 2, 3, 4, 5], dtype=pl.Int64),
            "id_number": [ids[3], ids[4], bad, None, "11010519800101999X"],
        }
    )
    out = link_by_id(recs, RegisterIndex.build(reg))
    assert out["resident_id"].to_list()[:2] == [3, 4]
    assert out["resident_id"].to_list()[2:] == [None, None, None]
    assert out["id_status"].cast(pl.String).to_list()[:4] == [
        "known",
        "known",
        "invalid",
        "missing",
    ]


def test_chunked_id_pass_is_identical() -> None:
    reg = _register()
    recs = pl.DataFrame(
        {
            "department": pl.Series(["court"] * 400).cast(cat.DepartmentT),
            "record_id": pl.Series(range(400), dtype=pl.Int64),
            "id_number": reg["id_number"].reverse(),
        }
    )
    idx = RegisterIndex.build(reg)
    assert link_by_id(recs, idx).equals(link_by_id(recs, idx, chunk_rows=7))


@pytest.mark.slow
def test_probabilistic_pass_links_unique_and_refuses_ambiguous(tmp_path: Path) -> None:
    reg = _register()
    ids = reg["id_number"]
    mistyped = ids[7][:3] + str((int(ids[7][3]) + 1) % 10) + ids[7][4:]
    rows = [
        # no ID, a name only one resident has → linked
        {
            "record_id": 1,
            "name": reg["name"][10],
            "id_number": None,
            "birth_date": None,
            "sex": "M",
            "truth_resident_id": 10,
        },
        # a mistyped ID and the right name → linked
        {
            "record_id": 2,
            "name": reg["name"][7],
            "id_number": mistyped,
            "birth_date": dt.date(1980, 1, 1),
            "sex": "M",
            "truth_resident_id": 7,
        },
        # 王伟 without ID: two identical candidates → posterior < 0.5, unlinked
        {
            "record_id": 3,
            "name": "王伟",
            "id_number": None,
            "birth_date": None,
            "sex": "M",
            "truth_resident_id": 399,
        },
        # a name nobody has → no candidate
        {
            "record_id": 4,
            "name": "张三丰",
            "id_number": None,
            "birth_date": None,
            "sex": "M",
            "truth_resident_id": 0,
        },
    ]
    res = link_records(_records(reg, rows), reg, seed=1, workdir=tmp_path / "w")
    got = {r["record_id"]: r for r in res.links.to_dicts()}
    assert got[1]["resident_id"] == 10 and got[1]["method"] == "probabilistic"
    assert got[2]["resident_id"] == 7 and got[2]["match_probability"] > 0.99
    assert got[3]["method"] == "unlinked"
    assert got[3]["match_probability"] == pytest.approx(0.5, abs=0.02)
    assert got[4]["method"] == "unlinked" and got[4]["match_probability"] is None
    # a lower threshold accepts one of the two namesakes
    low = link_records(_records(reg, rows), reg, seed=1, threshold=0.3, workdir=tmp_path / "x")
    assert low.links.filter(pl.col("record_id") == 3)["resident_id"][0] in (398, 399)
