"""The audit on real and contract-shaped runs; group rates cross-checked with Fairlearn."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from creditsim.audit import RunData, audit_run
from creditsim.audit.schema import AUDIT_SCHEMA
from creditsim.cli import app

runner = CliRunner()
BY = ["district", "hukou", "income_decile", "age_band", "sex"]


def validate(obj: Any, schema: dict[str, Any], path: str = "$") -> None:
    """A small JSON Schema subset: type, enum, const, required, properties,
    additionalProperties, items, minItems/maxItems."""
    types = {"object": dict, "array": list, "string": str, "integer": int, "number": (int, float),
             "boolean": bool, "null": type(None)}
    if "const" in schema:
        assert obj == schema["const"], path
    if "enum" in schema:
        assert obj in schema["enum"], f"{path}: {obj!r} not in {schema['enum']}"
    if "type" in schema:
        ts = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = any(isinstance(obj, types[t]) and not (t in ("integer", "number")
                                                      and isinstance(obj, bool)) for t in ts)
        assert ok, f"{path}: {obj!r} is not {ts}"
    if isinstance(obj, dict):
        for k in schema.get("required", []):
            assert k in obj, f"{path}: missing {k}"
        for k, v in obj.items():
            if k in schema.get("properties", {}):
                validate(v, schema["properties"][k], f"{path}.{k}")
            elif isinstance(schema.get("additionalProperties"), dict):
                validate(v, schema["additionalProperties"], f"{path}.{k}")
    if isinstance(obj, list):
        assert len(obj) >= schema.get("minItems", 0), path
        assert len(obj) <= schema.get("maxItems", 10**9), path
        if "items" in schema:
            for i, v in enumerate(obj):
                validate(v, schema["items"], f"{path}[{i}]")


def independent_flags(run: Path) -> pl.DataFrame:
    """Per resident, straight from the tables: sanctioned (on a non-red list or
    denied, in the results window: spells overlapping days [0, days), decisions on
    them) and wrongly sanctioned."""
    from creditsim.policy import load_policy

    m = json.loads((run / "manifest.json").read_text())
    pol = load_policy(m["config"]["policy"] or m["config"]["city"])
    black = [lst.id for lst in pol.lists if lst.kind != "red"]
    reg = pl.read_parquet(run / "residents.parquet")
    days = m["config"]["days"]
    sp = pl.read_parquet(run / "list_spells.parquet").filter(
        pl.col("list").cast(pl.String).is_in(black), pl.col("start_day") < days,
        pl.col("end_day").is_null() | (pl.col("end_day") > 0))
    dec = pl.read_parquet(run / "decisions.parquet").filter(
        pl.col("decision").cast(pl.String) == "denied", pl.col("day").is_between(0, days - 1))
    sanctioned = set(sp["resident_id"].to_list()) | set(dec["resident_id"].to_list())
    wrong = (set(sp.filter(pl.col("wrongful"))["resident_id"].to_list())
             | set(dec.filter(pl.col("wrongful"))["resident_id"].to_list()))
    return reg.with_columns(
        pl.col("resident_id").is_in(sorted(sanctioned)).alias("sanctioned"),
        pl.col("resident_id").is_in(sorted(wrong)).alias("wrong"))


@pytest.fixture(scope="module")
def rich_audit(rich_run: Path) -> dict[str, Any]:
    return audit_run(RunData(rich_run), by=BY)


def test_json_matches_documented_schema(rich_audit: dict[str, Any], bare_run: Path) -> None:
    validate(rich_audit, AUDIT_SCHEMA)
    validate(audit_run(RunData(bare_run)), AUDIT_SCHEMA)
    doc = (Path(__file__).parents[2] / "docs" / "audit.md").read_text(encoding="utf-8")
    for key in AUDIT_SCHEMA["required"]:
        assert f"`{key}`" in doc, f"docs/audit.md does not document {key}"


@pytest.mark.slow  # imports Fairlearn (pandas, scikit-learn)
@pytest.mark.parametrize("col", ["hukou", "district", "age_band"])
def test_group_rates_match_fairlearn(rich_run: Path, rich_audit: dict[str, Any],
                                     col: str) -> None:
    from fairlearn.metrics import MetricFrame, count, selection_rate, true_positive_rate

    people = independent_flags(rich_run)
    if col == "age_band":
        start = np.datetime64("2021-01-01")
        age = ((start - people["birth_date"].to_numpy().astype("datetime64[D]"))
               .astype(np.int64) / 365.2425)
        # banding as documented: whole years at the start date
        years = np.array([(2021 - d.year) - ((d.month, d.day) > (1, 1))
                          for d in people["birth_date"].to_list()])
        assert np.all(np.abs(years - age) < 1.01)
        edges = [0, 18, 30, 45, 60, 75]
        labels = ["0-17", "18-29", "30-44", "45-59", "60-74", "75+"]
        groups = np.array([labels[np.searchsorted(edges, y, side="right") - 1] for y in years])
    else:
        groups = people[col].cast(pl.String).to_numpy()
    s = people["sanctioned"].to_numpy().astype(int)
    w = people["wrong"].to_numpy().astype(int)
    mf = MetricFrame(metrics={"rate": selection_rate, "n": count}, y_true=s, y_pred=s,
                     sensitive_features=groups)
    mw = MetricFrame(metrics=selection_rate, y_true=w, y_pred=w, sensitive_features=groups)
    # wrongful among the sanctioned = P(wrong | sanctioned) = TPR with y_true = sanctioned
    mc = MetricFrame(metrics=true_positive_rate, y_true=s, y_pred=w, sensitive_features=groups)
    rows = {r["group"]: r for r in rich_audit["groups"][col]["rows"]}
    assert set(rows) == set(mf.by_group.index)
    ref = rich_audit["groups"][col]["reference"]
    for g, r in rows.items():
        assert r["residents"] == mf.by_group.loc[g, "n"]
        assert r["sanctioned"]["rate"] == pytest.approx(mf.by_group.loc[g, "rate"], abs=1e-12)
        assert r["wrongly_sanctioned"]["rate"] == pytest.approx(mw.by_group[g], abs=1e-12)
        if r["sanctioned"]["count"]:
            assert r["wrongful_among_sanctioned"]["rate"] == pytest.approx(mc.by_group[g],
                                                                           abs=1e-12)
        ratio = mf.by_group.loc[g, "rate"] / mf.by_group.loc[ref, "rate"]
        assert r["sanctioned"]["ratio"] == pytest.approx(ratio, rel=1e-9)
    # the reference is the largest group
    assert ref == mf.by_group["n"].idxmax()


def test_wrongful_causes_cascade_and_services(rich_run: Path,
                                              rich_audit: dict[str, Any]) -> None:
    h = rich_audit["headline"]
    dec = pl.read_parquet(rich_run / "decisions.parquet")
    assert h["wrongful_source"] == "run"
    for cause, n in h["wrongly_sanctioned_by_cause"].items():
        from_dec = dec.filter((pl.col("decision") == "denied")
                              & (pl.col("wrongful_cause").cast(pl.String) == cause))
        assert n >= from_dec["resident_id"].n_unique() > 0
    c = rich_audit["cascade"]
    assert c["status"] == "ok"
    spill = dec.filter(pl.col("via_resident_id") != pl.col("resident_id"))
    assert c["household_spillover"]["residents_affected"] == spill["resident_id"].n_unique() > 0
    assert sum(c["services_denied_per_listed_resident"]["histogram"].values()) == \
        c["listed_residents"]
    sv = rich_audit["services"]
    ft = sv["flights_and_trains"]
    trans = dec.filter((pl.col("decision") == "denied") & pl.col("service").cast(pl.String)
                       .is_in(["flight", "g_train", "emu_first_class", "soft_sleeper"]))
    assert ft["denied"] == trans.height and ft["residents"] == trans["resident_id"].n_unique()
    assert any("green_channel" in r for r in rich_audit["groups"]["hukou"]["rows"])
    tl = rich_audit["time_on_list"]["sanctioning_lists"]
    assert tl["spells"] == sum(r["spells"] for r in tl["routes"].values())


def test_linkage_accuracy_by_group_adds_up(rich_audit: dict[str, Any]) -> None:
    lk = rich_audit["linkage"]
    o = lk["overall"]
    for col in BY:
        rows = lk["by_group"][col]
        assert sum(r["recall"]["denominator"] for r in rows) == o["records"]
        assert sum(r["precision"]["denominator"] for r in rows) == o["links"]
        assert sum(r["recall"]["count"] for r in rows) == o["correct"]


def test_missing_tables_are_reported_not_fatal(bare_run: Path) -> None:
    a = audit_run(RunData(bare_run))
    assert set(a["inputs"]["missing"]) >= {"decisions", "demand", "appeals"}
    assert any("list spells only" in n for n in a["inputs"]["notes"])
    assert a["headline"]["wrongful_source"] == "derived"
    assert a["cascade"]["status"] == "missing" and a["services"]["status"] == "missing"
    assert "denied" not in a["groups"]["hukou"]["rows"][0]
    res = runner.invoke(app, ["audit", str(bare_run), "--by", "hukou"])
    assert res.exit_code == 0, res.output
    assert "not available" in res.output and "missing decisions" in res.output


def test_cli_table_json_and_reference(rich_run: Path) -> None:
    res = runner.invoke(app, ["audit", str(rich_run), "--by", "hukou,sex", "--json",
                              "--reference", "hukou=migrant"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.output)
    assert obj["groups"]["hukou"]["reference"] == "migrant"
    assert obj["groups"]["hukou"]["reference_rule"] == "given"
    res = runner.invoke(app, ["audit", str(rich_run), "--by", "income_decile"])
    assert res.exit_code == 0, res.output
    assert "by income_decile" in res.output and "reference" in res.output
