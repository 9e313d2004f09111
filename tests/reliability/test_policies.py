"""Policies that pass ``policy check`` run.

Every reference resolves, every number is range-checked at load (the engine
cannot overflow), and accepted random policies — including ones pushed to the
edges of every range — run through the real platform loop on a small real run.
A few dozen policies by default; ``pytest -m fuzz`` runs 10,000.
"""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from creditsim.cli import app as app_main
from creditsim.policy import PolicyError, apply_policy, policy_from_data, preset_names, preset_text
from creditsim.policy.cli import policy_app
from creditsim.policy.model import MAX_ENTRY_POINTS, MAX_RECORD_AMOUNT, Policy

from policy import helpers as h  # tests/policy (pytest puts tests/ on the path)
from policy.strategies import policies
from policy.tomlwrite import dumps

CITE = {"source": "test", "status": "assumption"}


def _base() -> dict[str, Any]:
    """A small valid scored policy: a flat rule, a per-unit rule, a cap, a list."""
    return {
        "meta": {"name": "edge", "title": "t", "description": "d", "city": "c"},
        "scale": {"baseline": 100, "min": 0, "max": 200, **CITE},
        "tiers": [{"name": "A", "min": 100, "max": 200, **CITE},
                  {"name": "B", "min": 0, "max": 99, **CITE}],
        "caps": [{"id": "c", "max_points": 50, "period": "year", **CITE}],
        "rules": [
            {"id": "flat", "kinds": ["traffic_violation"], "points": -5, "expires_days": 365,
             "cap": "c", **CITE},
            {"id": "hours", "kinds": ["volunteer_hours"], "expires_days": 365, **CITE,
             "per_unit": {"accumulate": "record",
                          "brackets": [{"upto": 10.0, "points": 1, "per": 1.0},
                                       {"points": 1, "per": 2.0}]}},
        ],
        "lists": [{"id": "black", "title": "b", **CITE,
                   "triggers": [{"kinds": ["refuse_to_perform"], "term_days": 365}]}],
    }


def _set(path: tuple, value: Any):  # noqa: ANN202
    def f(d: dict) -> None:
        node = d
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value
    return f


def _del(name: str):  # noqa: ANN202
    return lambda d: d.pop(name)


def _many_tiers(k: int):  # noqa: ANN202
    def f(d: dict) -> None:
        d["scale"] = {"baseline": 0, "min": 0, "max": k - 1, **CITE}
        d["tiers"] = [{"name": f"T{i}", "min": i, "max": i, **CITE} for i in reversed(range(k))]
    return f


def _consequence_on(list_id: str):  # noqa: ANN202
    def f(d: dict) -> None:
        d.pop("lists")
        d["consequences"] = [{"id": "deny", "on_list": list_id, "service": "flight",
                              "effect": "deny", **CITE}]
    return f


BRACKET = ("rules", 1, "per_unit", "brackets", 1)

# (name, change to the base policy, location of the problem, words of its message)
REJECTED = [
    ("empty tiers with a scale", _set(("tiers",), []), "tiers", "at least one tier"),
    ("per = 1e-09", _set((*BRACKET, "per"), 1e-9), "rules[1]", "more than a ledger entry"),
    ("per = 1e-300", _set((*BRACKET, "per"), 1e-300), "rules[1]", "more than a ledger entry"),
    ("steep and unbounded", _set((*BRACKET, "points"), 100), "rules[1]", "raise 'per'"),
    ("brackets all 0", lambda d: [b.update(points=0) for b in d["rules"][1]["per_unit"]
                                  ["brackets"]], "rules[1]", "never scores"),
    ("cap without [[caps]]", _del("caps"), "rules[0].cap", "unknown cap 'c'"),
    ("on_list without [[lists]]", _consequence_on("black"), "consequences[0].on_list",
     "unknown list 'black'"),
    ("cap_tier without [[tiers]]",
     lambda d: (d.pop("tiers"), d.setdefault("overrides", [
         {"id": "o", "kinds": ["drunk_driving"], "duration_days": 9, "cap_tier": "A", **CITE}])),
     "overrides[0].cap_tier", "unknown tier 'A'"),
    ("128 tiers", _many_tiers(128), "tiers", "at most 127"),
    ("rules = [] and no lists", lambda d: (d.pop("lists"), d.update(rules=[])), "",
     "does nothing"),
]


@pytest.mark.parametrize(("name", "change", "where", "words"), REJECTED,
                         ids=[r[0] for r in REJECTED])
def test_policy_check_rejects_what_the_engine_cannot_run(
    tmp_path: Path, name: str, change: Any, where: str, words: str
) -> None:
    data = _base()
    change(data)
    f = tmp_path / "p.toml"
    f.write_text(dumps(data), encoding="utf-8")
    res = CliRunner().invoke(policy_app, ["check", str(f)])
    assert res.exit_code == 2, res.output
    lines = [ln.strip() for ln in res.output.splitlines()[1:]]
    hit = [ln for ln in lines if words in ln]
    assert hit, res.output
    loc = hit[0].split(": ", 1)[0]
    assert loc.startswith(f"{f}:") or loc == str(f), loc  # file and line
    assert loc.endswith(f" {where}") if where else True, loc
    assert "Traceback" not in res.output


def test_127_tiers_and_the_steepest_rule_allowed_are_accepted() -> None:
    data = _base()
    _many_tiers(127)(data)
    data["rules"][0].pop("cap")
    data.pop("caps")
    steepest = MAX_ENTRY_POINTS // MAX_RECORD_AMOUNT - 1  # points per unit, unbounded
    data["rules"][1]["per_unit"]["brackets"][1].update(points=int(steepest), per=1.0)
    policy = policy_from_data(data)
    assert len(policy.tiers) == 127
    assert policy.rules[1].max_entry_points() <= MAX_ENTRY_POINTS


def test_huge_amounts_cannot_wrap_a_rewards_points() -> None:
    """The steepest accepted rule on records far beyond the largest amount scored:
    every entry stays positive and within the bound the loader checked."""
    data = _base()
    data["rules"][1]["per_unit"]["brackets"] = [{"points": 20, "per": 1.0}]
    policy = policy_from_data(data)
    reg = h.register([{"resident_id": i} for i in range(4)])
    amounts = [5.0, MAX_RECORD_AMOUNT, 1e12, math.inf]
    recs = h.linked([(i, i, "volunteer_hours", 3, 3, a) for i, a in enumerate(amounts)])
    led = apply_policy(policy, reg, recs, days=30).ledger.sort("record_id")
    assert led["points"].to_list()[0] == 100
    assert (led["points"] > 0).all()
    assert led["points"].max() <= policy.rules[1].max_entry_points()


# ----------------------------------------------------------------------------- random runs

PRESETS = {n: tomllib.loads(preset_text(n)) for n in preset_names()}


def _paths(node: Any, prefix: tuple = ()):  # noqa: ANN202
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*prefix, k), v
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*prefix, i), v
            yield from _paths(v, (*prefix, i))


#: Values at and beyond the edges of the language's ranges, per key.
EDGES: dict[str, list[Any]] = {
    "per": [1e-300, 1e-9, 1e-6, 1e-3, 0.01, 0.05, 1e6, 1e12],
    "points": [-100_000, -1, 1, 7, 100_000, 0],
    "upto": [1e-3, 0.5, 1e6, 1e15],
    "amount_min": [0.0, 1e-3, 1e8, 1e15],
    "amount_max": [1e-3, 1.0, 1e8, 1e15],
    "expires_days": [1, 2, 32767],
    "duration_days": [1, 32767],
    "term_days": [1, 32767, "indefinite"],
    "grace_days": [0, 32767],
    "extend_days": [1, 32767],
    "max_extension_days": [32767],
    "exit_after_working_days": [0, 1000],
    "max_points": [1, 1_000_000],
    "baseline": [-1_000_000, 0, 1_000_000],
    "min": [-1_000_000, 0],
    "max": [0, 1_000_000],
    "cap_score": [-1_000_000, 0, 1_000_000],
    "score_below": [-1_000_000, 0, 1_000_000],
    "score_min": [-1_000_000, 1_000_000],
    "rate": [1e-9, 1.0],
    "min_age": [0, 120],
    "min_years_in_city": [0.0, 120.0],
    "cap": ["c0", "nope"],
    "on_list": ["l0", "blacklist", "nope"],
    "cap_tier": ["T0", "nope"],
}
SECTIONS = ["caps", "lists", "tiers", "overrides", "consequences", "coverage", "rules"]


@st.composite
def edge_policies(draw) -> dict[str, Any]:  # noqa: ANN001
    """Policy data (preset or random) with a few values moved to the edges of their
    ranges, sections dropped or emptied, or tiers multiplied; many are rejected."""
    if draw(st.booleans()):
        data = copy.deepcopy(PRESETS[draw(st.sampled_from(sorted(PRESETS)))])
    else:
        data = draw(policies()).model_dump(mode="json", exclude_none=True)
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["edge", "edge", "edge", "drop", "empty", "tiers"]))
        if op == "edge":
            spots = [p for p, v in _paths(data) if isinstance(p[-1], str) and p[-1] in EDGES
                     and not isinstance(v, (dict, list))]
            if spots:
                path = draw(st.sampled_from(spots))
                _set(path, draw(st.sampled_from(EDGES[str(path[-1])])))(data)
        elif op in ("drop", "empty"):
            name = draw(st.sampled_from(SECTIONS))
            if name in data:
                if op == "drop":
                    del data[name]
                else:
                    data[name] = [] if isinstance(data[name], list) else {}
        elif "scale" in data:
            k = draw(st.sampled_from([1, 2, 126, 127, 128]))
            lo, hi = data["scale"]["min"], data["scale"]["max"]
            cuts = np.linspace(lo, hi + 1, k + 1).astype(np.int64)
            if len(set(cuts.tolist())) == k + 1:
                data["tiers"] = [{"name": f"T{i}", "min": int(cuts[i]),
                                  "max": int(cuts[i + 1]) - 1, **CITE}
                                 for i in reversed(range(k))]
    return data


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The platform loop's inputs from a small real run (1,000 residents, a year)."""
    from creditsim.config import make_config
    from creditsim.pipeline import run

    cfg = make_config(residents=1000, days=365, burn_in_days=0, seed=3, policy="rongcheng")
    res = run(cfg, tmp_path_factory.mktemp("real") / "r", keep_tables=True, background=False)
    assert cfg.start_date is not None
    return {"tables": res.tables, "days": cfg.days, "start": cfg.start_date, "seed": cfg.seed}


def _run_loop(policy: Policy, real: dict[str, Any]) -> dict[str, pl.DataFrame]:
    from creditsim.platform import LoopInputs, LoopModels, RunSpec, run_loop

    t = real["tables"]
    records = {k.removeprefix("_records/"): v for k, v in t.items()
               if k.startswith("_records/")}
    return run_loop(LoopInputs(t["residents"], t["_candidates"], records, t["_links"], policy),
                    RunSpec(real["seed"], real["days"], real["start"]), LoopModels()).tables


def _check_outputs(policy: Policy, tables: dict[str, pl.DataFrame]) -> None:
    led = tables["ledger"]
    for r in policy.rules:
        pts = led.filter(pl.col("rule_id").cast(pl.String) == r.id)["points"].to_numpy()
        assert (np.sign(pts) == r.sign).all(), (r.id, pts[np.sign(pts) != r.sign][:5])
        assert (np.abs(pts) <= r.max_entry_points()).all(), r.id
    sc = tables["scores"]
    if policy.scale is not None and sc.height:
        assert sc["score"].min() >= policy.scale.min and sc["score"].max() <= policy.scale.max
        assert set(sc["tier"].cast(pl.String).unique()) <= set(policy.tier_names)


def _accepted_runs(data: dict[str, Any], real: dict[str, Any]) -> None:
    try:
        policy = policy_from_data(data, "edge.toml")
    except PolicyError as e:  # refused: every problem located, nothing run
        assert e.problems and all(p.location for p in e.problems)
        return
    _check_outputs(policy, _run_loop(policy, real))


_FAST = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
_LONG = settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))


def test_accepted_edge_policies_run_through_the_platform_loop(real_run: dict) -> None:
    _FAST(given(edge_policies())(lambda data: _accepted_runs(data, real_run)))()


@pytest.mark.fuzz
def test_fuzz_long_accepted_policies_run(request: pytest.FixtureRequest, real_run: dict) -> None:
    if "fuzz" not in (request.config.getoption("-m") or ""):
        pytest.skip("opt-in: run with pytest -m fuzz")
    _LONG(given(edge_policies())(lambda data: _accepted_runs(data, real_run)))()


def test_edge_policies_are_often_accepted() -> None:
    """The strategy is not vacuous: a good share of its policies pass the loader."""
    accepted = []

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)
    @given(edge_policies())
    def draw(data: dict[str, Any]) -> None:
        try:
            policy_from_data(data)
            accepted.append(True)
        except PolicyError:
            accepted.append(False)

    draw()
    assert 0.2 < sum(accepted) / len(accepted) < 0.95, sum(accepted)


# ----------------------------------------------------------------------------- loaded once


def test_run_reads_the_policy_once_and_uses_what_it_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is replaced right after its first read: the run must still score
    with the policy it checked, and keep that policy's text."""
    f = tmp_path / "p.toml"
    f.write_text(preset_text("spc-list"), encoding="utf-8")
    reads: list[Path] = []
    real = Path.read_bytes

    def read_then_swap(self: Path) -> bytes:
        data = real(self)
        if self.absolute() == f.absolute():
            reads.append(self)
            f.write_text(preset_text("rongcheng"), encoding="utf-8")
        return data

    monkeypatch.setattr(Path, "read_bytes", read_then_swap)
    out = tmp_path / "r"
    res = CliRunner().invoke(app_main, ["run", "--residents", "300", "--days", "60",
                                        "--burn-in-days", "0", "--quiet",
                                        "--policy", str(f), "--out", str(out)])
    assert res.exit_code == 0, (res.output, res.exception)
    assert len(reads) == 1
    assert (out / "policy.toml").read_text(encoding="utf-8") == preset_text("spc-list")
    spells = pl.read_parquet(out / "list_spells.parquet")
    spc = policy_from_data(tomllib.loads(preset_text("spc-list")))
    assert spells["list"].dtype == pl.Enum(spc.list_ids)
