"""The links table and linkage.json contract, errors, clean-up, charts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from creditsim.errors import ConfigError
from creditsim.linkage import CHART_FILES, LINKS_SCHEMA, link_records

SRC = Path(__file__).resolve().parents[2] / "src" / "creditsim" / "linkage"
#: The audit module, the only one allowed to read ground truth.
TRUTH_WHITELIST = {"evaluate.py"}


def test_platform_code_never_reads_truth() -> None:
    offenders = [
        p.name
        for p in SRC.rglob("*.py")
        if p.name not in TRUTH_WHITELIST and "truth_" in p.read_text("utf-8")
    ]
    assert offenders == []


def test_links_schema_and_one_row_per_record(linked: dict, small_run: dict) -> None:
    links = linked["result"].links
    assert links.schema == pl.Schema(LINKS_SCHEMA)
    n_records = sum(df.height for df in small_run["records"].values())
    assert links.height == n_records
    assert links["record_id"].n_unique() == n_records
    assert (
        links.filter((pl.col("method") == "unlinked") != pl.col("resident_id").is_null()).height
        == 0
    )
    # ID links carry no probability; probabilistic ones carry theirs, above the threshold.
    assert (
        links.filter(pl.col("method") == "id")["match_probability"].null_count()
        == links.filter(pl.col("method") == "id").height
    )
    prob = links.filter(pl.col("method") == "probabilistic")["match_probability"]
    assert prob.null_count() == 0 and prob.min() >= linked["result"].metrics["threshold"]
    unl = links.filter(pl.col("method") == "unlinked")["match_probability"].drop_nulls()
    assert unl.len() == 0 or unl.max() < linked["result"].metrics["threshold"]


def test_metrics_are_json_and_complete(linked: dict) -> None:
    m = linked["result"].metrics
    text = json.dumps(m)
    assert json.loads(text) == m
    for key in (
        "overall",
        "by_stage",
        "by_method",
        "by_department",
        "by_group",
        "unlinked",
        "threshold_sweep",
        "id_check",
        "probabilistic_pass",
    ):
        assert key in m
    assert set(m["by_group"]) == {"district", "hukou", "name_commonness"}
    assert m["probabilistic_pass"]["records"] > 0


def test_workdir_removed(linked: dict) -> None:
    assert not linked["workdir"].exists()


def test_charts_written_and_offline(linked: dict) -> None:
    for name, fname in CHART_FILES.items():
        path = linked["charts_dir"] / fname
        assert path.exists(), name
        html = path.read_text("utf-8")
        assert "vegaEmbed" in html
        assert not re.search(r"<script[^>]+src=", html), "chart must not load remote scripts"
        assert "cdn.jsdelivr" not in html


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan")])
def test_threshold_outside_unit_interval_is_an_error(
    bad: float, small_run: dict, register: pl.DataFrame, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="threshold"):
        link_records(small_run["records"], register, seed=1, threshold=bad, workdir=tmp_path / "w")


def test_missing_columns_reported_together(
    small_run: dict, register: pl.DataFrame, tmp_path: Path
) -> None:
    recs = {"court": small_run["records"]["court"].drop("name", "sex")}
    with pytest.raises(ConfigError) as err:
        link_records(recs, register, seed=1, workdir=tmp_path)
    assert len(err.value.problems) == 2


def test_no_records_for_the_probabilistic_pass(
    small_run: dict, register: pl.DataFrame, tmp_path: Path
) -> None:
    """Only records with a registered ID: the Splink pass is skipped and reported."""
    from creditsim import idnumber

    bank = small_run["records"]["bank"]
    ok = bank.filter(idnumber.is_valid_expr().fill_null(False))
    res = link_records(
        {"bank": ok}, register, seed=1, workdir=tmp_path / "w", charts_dir=tmp_path / "c"
    )
    assert res.metrics["probabilistic_pass"] == {"records": 0}
    assert (res.links["method"] == "id").all()
    assert res.charts == {}


def test_empty_records(small_run: dict, register: pl.DataFrame, tmp_path: Path) -> None:
    res = link_records({}, register, seed=1, workdir=tmp_path)
    assert res.links.height == 0
    assert res.metrics["overall"]["records"] == 0
