"""The parameter registry, overrides (``--set``), and what they reach in a run."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from creditsim import pipeline
from creditsim.cli import app
from creditsim.config import make_config
from creditsim.errors import ConfigError
from creditsim.modelset import build_models, default_models, groups, override, registry
from creditsim.params import Cited
from creditsim.params_cli import parse_sets
from creditsim.paramspace import Param, _coerce, matching, parse_value
from creditsim.rundir import read_manifest

runner = CliRunner()
CFG = make_config(residents=1)
DEFAULTS = registry(default_models(CFG))
#: The override the common-random-numbers test makes: one department's fault rate.
BANK_KEY = "records.bank.p_name_typo"


def _scalars() -> list[Param]:
    """Parameters holding one number (the property test draws among them)."""
    return [p for p in DEFAULTS.values()
            if isinstance(p.value, int | float) and not isinstance(p.value, bool)]


# --- the registry -----------------------------------------------------------------------------


def test_the_registry_covers_every_stage_and_the_issue_examples() -> None:
    prefixes = {k.split(".")[0] for k in DEFAULTS}
    assert prefixes == {"city", "households", "persons", "behaviour", "feedback", "appeals",
                        "repayment", "services", "records", "linkage", "loop"}
    for key in ("behaviour.drunk_driving.base", "behaviour.drunk_driving.male_factor",
                "behaviour.court.p_refuse", "records.bank.lag_mean_days", BANK_KEY,
                "services.flight.rate", "services.flight.decile_slope", "feedback.max_boost",
                "repayment.monthly_hazard", "appeals.base", "persons.edu_local",
                "persons.origin_counties", "behaviour.court.refuse_min_decile",
                "linkage.crowd_cap", "linkage.outside_blocks"):
        assert key in DEFAULTS, key
    assert DEFAULTS["behaviour.drunk_driving.male_factor"].value == 6.0
    assert DEFAULTS["behaviour.drunk_driving.male_factor"].status == "cited"
    assert DEFAULTS["records.bank.p_name_typo"].status == "assumption"


def test_every_default_is_of_its_own_type_and_in_its_own_range() -> None:
    bad = {k: why for k, p in DEFAULTS.items()
           if (why := _coerce(p.value, p.value, p.bounds, p.real)[1])}
    assert not bad, bad


def test_every_parameter_has_a_source_and_a_status() -> None:
    assert all(len(p.source) >= 8 for p in DEFAULTS.values())
    assert {p.status for p in DEFAULTS.values()} == {"cited", "assumption"}
    assert DEFAULTS["records.bank.p_name_typo"].unit == "probability"
    assert DEFAULTS["records.bank.lag_mean_days"].unit == "days"
    assert DEFAULTS["records.bank.p_name_typo"].range_text == "[0, 1]"


def test_matching_takes_globs_and_substrings() -> None:
    recs = matching(DEFAULTS, "records.*")
    assert recs and all(p.key.startswith("records.") for p in recs)
    assert {p.key for p in matching(DEFAULTS, "male_factor")} == {
        k for k in DEFAULTS if "male_factor" in k}
    assert matching(DEFAULTS, None) == list(DEFAULTS.values())


# --- no number that shapes results lives only in code -----------------------------------------


def _numbers(obj: Any, path: tuple, found: set[tuple], where: dict[int, tuple]) -> None:
    """Every Cited value and PARAM_SOURCES number inside ``obj`` (a dataclass or a
    tuple of them) by its attribute path; ``where``: each object's first path."""
    where.setdefault(id(obj), path)
    if isinstance(obj, tuple):
        for i, el in enumerate(obj):
            _numbers(el, (*path, i), found, where)
        return
    if not dataclasses.is_dataclass(obj):
        return
    plain = getattr(type(obj), "PARAM_SOURCES", {})
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, Cited) or f.name in plain:
            found.add((*path, f.name))
        elif dataclasses.is_dataclass(v) or (isinstance(v, tuple) and v
                                             and dataclasses.is_dataclass(v[0])):
            _numbers(v, (*path, f.name), found, where)


def test_every_cited_number_of_every_model_is_a_key() -> None:
    """Walks the run's models themselves (not the registry's groups): a Cited field
    added to a model that no group reaches fails here."""
    models = default_models(CFG)
    found: set[tuple] = set()
    where: dict[int, tuple] = {}
    _numbers(models, (), found, where)
    g = groups(models)
    keyed = {(*where[id(g[p.path[0]])], *p.path[1:]) for p in DEFAULTS.values()}
    assert found - keyed == set(), "model numbers without a key"
    assert keyed <= found
    for key in ("loop.max_rounds", "services.flight.max_per_resident", "linkage.u_pairs_min",
                "linkage.min_match_weight", "linkage.m_floor", "households.head_band_edges",
                "persons.school_ages", "records.bank.id_slip_mix"):
        assert key in DEFAULTS, key


#: The stage packages scanned for module-level numbers.
STAGES = ("population", "behaviour", "records", "linkage", "platform", "services")
#: Module-level numbers the stage packages may hold, each with why it is not a
#: parameter (a code, a work size that changes no output, a parameter's default, ...).
ALLOWED_CONSTANTS = {
    "population/households.py:HEAD": "role code (the relation enum's order)",
    "population/households.py:SPOUSE": "role code",
    "population/households.py:CHILD": "role code",
    "population/households.py:PARENT": "role code",
    "population/households.py:PAD": "padding code of the household-type table",
    "population/names.py:_ICDF_CELLS": "lookup-table size of an exact inverse CDF: "
                                       "changes speed only",
    "population/names.py:SINGLE_CHAR_COHORTS": "default of persons.single_name_cohorts",
    "population/names.py:SINGLE_CHAR_SHARES": "default of persons.single_name_shares",
    "records/departments.py:NAME_TYPO": "fault bit flag (truth_faults encoding)",
    "records/departments.py:ID_MISSING": "fault bit flag",
    "records/departments.py:ID_MISTYPED": "fault bit flag",
    "records/departments.py:ID_OTHER": "fault bit flag",
    "records/departments.py:DUPLICATE": "fault bit flag",
    "records/departments.py:BIRTH_WRONG": "fault bit flag",
    "records/extras.py:_BLOCK": "rows per hashing block: bounds memory only",
    "records/generate.py:_UBLOCK": "rows per uniform block: bounds memory only",
    "linkage/evaluate.py:SWEEP_THRESHOLDS": "the thresholds linkage.json's sweep reports: "
                                            "a reporting grid no link depends on",
    "linkage/evaluate.py:EVAL_BLOCK": "rows per evaluation block: bounds memory only",
    "linkage/features.py:_SEED": "hash seed of the name index (dense numbering only)",
    "linkage/features.py:_DATE_BITS": "bit width of a packed blocking code",
    "linkage/features.py:_DATE_SHIFT": "offset of a packed blocking code",
    "linkage/model.py:CROWD_CAP": "default of linkage.crowd_cap",
    "linkage/model.py:OUTSIDE_BLOCKS": "default of linkage.outside_blocks",
    "linkage/schema.py:DEFAULT_THRESHOLD": "default of the run option --linkage-threshold",
    "services/evaluate.py:DELETION_WORKING_DAYS": "the published deletion deadline (SPC "
                                                  "provisions Art. 10) by which the audit "
                                                  "judges a late deletion: a definition of "
                                                  "the labels, not a model assumption",
}


def _is_number(node: ast.AST) -> bool:
    """A numeric literal, an expression or tuple of them, or ``np.*(...)`` of them."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int | float) and not isinstance(node.value, bool)
    if isinstance(node, ast.UnaryOp):
        return _is_number(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_number(node.left) and _is_number(node.right)
    if isinstance(node, ast.Tuple | ast.List):
        return bool(node.elts) and all(map(_is_number, node.elts))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and isinstance(node.func.value, ast.Name) and node.func.value.id in ("np", "numpy"):
        return any(map(_is_number, node.args))
    return False


def module_numbers(source: str) -> list[str]:
    """Names bound to numbers at module level in ``source``."""
    out = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if _is_number(value):
            for t in targets:
                out += [e.id for e in (t.elts if isinstance(t, ast.Tuple) else [t])
                        if isinstance(e, ast.Name)]
    return out


def test_stage_packages_hold_no_unlisted_module_level_numbers() -> None:
    src = Path(__file__).resolve().parents[1] / "src" / "creditsim"
    found = {f"{f.relative_to(src).as_posix()}:{name}"
             for stage in STAGES for f in sorted((src / stage).rglob("*.py"))
             for name in module_numbers(f.read_text(encoding="utf-8"))}
    new = sorted(found - set(ALLOWED_CONSTANTS))
    assert not new, ("module-level numbers in stage code: make each a model field with a "
                     f"source (creditsim.params.Cited), or allow-list it with a reason: {new}")
    assert not set(ALLOWED_CONSTANTS) - found, "allow-listed names that no longer exist"


def test_numbers_made_parameters_reach_their_code() -> None:
    import datetime as dt

    import numpy as np

    from creditsim.cities import BEIJING
    from creditsim.population.synth import synthesize
    from creditsim.records import strings
    from creditsim.services import individual_demand

    m = override(default_models(CFG), {"loop.max_rounds": 2,
                                       "services.hospital.max_per_resident": 1})
    assert m.loop.max_rounds == 2
    start = dt.date(2021, 1, 1)
    people = synthesize(BEIJING, 300, 1, start)
    who = np.arange(300)
    kw = {"seed": 1, "days": 365, "start_date": start, "services": {"hospital"}}
    many = individual_demand(people, who, model=default_models(CFG).loop.demand, **kw)
    capped = individual_demand(people, who, model=m.loop.demand, **kw)
    assert many.group_by("resident_id").len()["len"].max() > 1
    assert capped.group_by("resident_id").len()["len"].max() == 1
    # The ID slip mix: all one-digit slips, or all two-digit ones.
    ids = np.frombuffer(b"110101199001011234" * 200, dtype=np.uint8).reshape(200, 18)
    u = np.random.default_rng(0).random((200, 5))
    one, two = ids.copy(), ids.copy()
    strings.mistype_u8(one, u, (1.0, 1.0))
    strings.mistype_u8(two, u, (0.0, 0.0))
    assert ((one != ids).sum(axis=1) == 1).all()
    assert ((two != ids).sum(axis=1) == 2).all()


def test_the_scan_sees_numbers_and_ignores_the_rest() -> None:
    text = ("A = 3\nB: float = -0.5\nC = (1, 2.5)\nD = 1 << 20\nE = np.array([1, 2])\n"
            "F = Cited(3, 'x')\nG = 'text'\nH = True\nI, J = 1, 2\nK = dt.date(1970, 1, 1)\n"
            "def f():\n    L = 4\n")
    assert module_numbers(text) == ["A", "B", "C", "D", "E", "I", "J"]


# --- overrides --------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(_scalars()), st.floats(0.0, 1.0))
def test_an_override_replaces_exactly_its_value(p: Param, frac: float) -> None:
    lo, hi = p.bounds
    lo = 0.0 if lo is None else lo
    hi = lo + 10.0 if hi is None else hi
    value: float | int = lo + frac * (hi - lo)
    if isinstance(p.value, int) and not p.real:
        value = math.floor(value)
    # The feedback model's own check: gaming_factor (default 1.5) <= max_boost
    # (tested below with the other refusals).
    if p.key == "feedback.gaming_factor":
        value = min(value, 1.5)
    if p.key == "feedback.max_boost":
        value = max(value, 1.5)
    # The linkage model's own check: u_pairs_min (default 1 M) <= u_pairs_max (3 M).
    if p.key == "linkage.u_pairs_max":
        value = max(value, 1_000_000)
    if p.key == "linkage.u_pairs_min":
        value = min(value, 3_000_000)
    got = registry(override(default_models(CFG), {p.key: value}))
    assert got[p.key].value == value
    assert {k: q.value for k, q in got.items() if k != p.key} == \
        {k: q.value for k, q in DEFAULTS.items() if k != p.key}


def test_bad_overrides_are_all_reported_at_once_and_located() -> None:
    with pytest.raises(ConfigError) as e:
        override(default_models(CFG), {
            "records.bank.p_name_typ": 0.1,  # unknown, near a known key
            "zzz": 1,  # unknown, near nothing
            "records.court.p_id_missing": "high",  # wrong type
            "appeals.base": 1.5,  # out of range
            "behaviour.court.enforcement_delay": [30],  # wrong length
            "persons.origin_counties": 2.5,  # not a whole number
            "feedback.gaming_factor": 3.0,  # the model's own check (> max_boost)
        })
    msgs = [str(p) for p in e.value.problems]
    assert len(msgs) == 7, msgs
    assert msgs[0] == ("--set records.bank.p_name_typ: unknown parameter; did you mean "
                       "'records.bank.p_name_typo'?")
    assert msgs[1].startswith("--set zzz: unknown parameter (creditsim params")
    assert msgs[2] == "--set records.court.p_id_missing: expected a number, got 'high'"
    assert msgs[3] == "--set appeals.base: 1.5 is outside the allowed range [0, 1]"
    assert "expected a list of 2 values" in msgs[4]
    assert "whole number" in msgs[5] and "max_boost" in msgs[6]
    with pytest.raises(ConfigError, match="u_pairs_min .* exceeds linkage.u_pairs_max"):
        override(default_models(CFG), {"linkage.u_pairs_max": 10})


def test_overrides_leave_the_defaults_alone_and_keep_models_frozen() -> None:
    m = override(default_models(CFG), {BANK_KEY: 0.5, "behaviour.drunk_driving.male_factor": 4})
    bank = next(d for d in m.departments if d.name == "bank")
    assert bank.p_name_typo.value == 0.5 and bank.p_name_typo.source
    assert m.behaviour.kinds[4].kind == "drunk_driving" and m.behaviour.kinds[4].male_factor == 4
    assert registry(default_models(CFG))[BANK_KEY].value == 0.002
    with pytest.raises(AttributeError):
        bank.p_name_typo = bank.p_name_typo  # type: ignore[misc]


def test_a_run_option_is_not_a_settable_parameter() -> None:
    with pytest.raises(ConfigError) as e:
        override(default_models(CFG), {"city.start_date": "2022-01-01", "appeals.base": 9})
    assert str(e.value.problems[0]).startswith("--set city.start_date: not settable here")
    assert len(e.value.problems) == 2  # reported beside the other problems


def test_set_values_parse_as_toml_then_json_then_text() -> None:
    assert parse_value("0.02") == 0.02 and parse_value("3") == 3
    assert parse_value("[30, 60]") == [30, 60] and parse_value("true") is True
    assert parse_value('{"a": 1}') == {"a": 1} and parse_value("2021-01-01") is not None
    assert parse_value("word") == "word"
    with pytest.raises(ConfigError) as e:
        parse_sets(["novalue", f"{BANK_KEY}=0.1", f"{BANK_KEY}=0.2", "appeals.bas=1"])
    assert [str(p) for p in e.value.problems] == [
        "--set novalue: expected key=value", f"--set {BANK_KEY}: given twice",
        "--set appeals.bas: unknown parameter; did you mean 'appeals.base'?"]


# --- the CLI ----------------------------------------------------------------------------------


def test_params_json_parses_and_lists_the_pattern() -> None:
    res = runner.invoke(app, ["params", "records.*", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert set(doc) == {k for k in DEFAULTS if k.startswith("records.")}
    assert doc[BANK_KEY] == {"value": 0.002, "unit": "probability", "range": [0.0, 1.0],
                             "status": "assumption", "source": DEFAULTS[BANK_KEY].source,
                             "origin": "default"}


def test_params_table_and_bad_pattern() -> None:
    res = runner.invoke(app, ["params", "drunk_driving.male"])
    assert res.exit_code == 0 and "behaviour.drunk_driving.male_factor" in res.output
    res = runner.invoke(app, ["params", "no.such.*"])
    assert res.exit_code == 2 and "no parameter key matches" in res.output


def test_a_bad_set_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = runner.invoke(app, ["run", "--residents", "50", "--days", "5", "--burn-in-days", "0",
                              "--quiet", "--out", str(out), "--set", "appeals.base=2",
                              "--set", "records.bank.p_name_typ=0.1", "--set", "oops"])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 3, res.output
    assert "Traceback" not in res.output and not out.exists()


def test_set_reaches_the_manifest_with_its_origin(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = runner.invoke(app, ["run", "--residents", "300", "--days", "10", "--burn-in-days", "0",
                              "--quiet", "--out", str(out), "--set", "services.flight.rate=1.5",
                              "--set", "linkage.crowd_cap=40"])
    assert res.exit_code == 0, res.output
    m = read_manifest(out)
    assert m["config"]["overrides"] == {"services.flight.rate": 1.5, "linkage.crowd_cap": 40}
    # the linkage stage used the overridden setting
    assert json.loads((out / "linkage.json").read_text())["blocking_crowd_cap"] == 40
    entry = m["parameters"]["services.flight.rate"]
    assert entry["origin"] == "--set" and entry["value"] == 1.5 and entry["default"] == 0.9
    assert m["parameters"][BANK_KEY]["origin"] == "default"


# --- a run with and without an override (common random numbers) -------------------------------


def _digests(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((out / "records").glob("*.parquet"))}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("crn")
    a = pipeline.run(make_config(residents=2000, days=60, burn_in_days=0, seed=3), base / "a").out
    b = pipeline.run(make_config(residents=2000, days=60, burn_in_days=0, seed=3,
                                 overrides={BANK_KEY: 0.3}),
                     base / "b").out
    return a, b


@pytest.mark.slow
def test_the_manifest_and_the_registry_list_the_same_keys(two_runs: tuple[Path, Path]) -> None:
    params = read_manifest(two_runs[0])["parameters"]
    assert set(params) == set(DEFAULTS)
    assert all(v["origin"] == "default" for v in params.values())
    assert params[BANK_KEY]["value"] == DEFAULTS[BANK_KEY].value
    overridden = read_manifest(two_runs[1])["parameters"][BANK_KEY]
    assert overridden["origin"] == "--set" and overridden["value"] == 0.3


@pytest.mark.slow
def test_one_departments_fault_rate_changes_only_its_records(two_runs: tuple[Path, Path]
                                                             ) -> None:
    a, b = (_digests(p) for p in two_runs)
    assert set(a) == set(b) and "bank.parquet" in a
    changed = sorted(k for k in a if a[k] != b[k])
    assert changed == ["bank.parquet"], changed


def test_build_models_without_overrides_is_the_default() -> None:
    assert registry(build_models(CFG)) == DEFAULTS
