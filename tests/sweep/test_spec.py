"""The sweep spec: validation (every problem, located), jobs, seeds, designs, the
resume/expand checks. No pipeline runs here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from creditsim.cli import app
from creditsim.errors import ConfigError
from creditsim.sweep import store
from creditsim.sweep.spec import read_spec, replicate_seed, resized

ROOT = Path(__file__).resolve().parents[2]
SMALLEST = """\
replicates = 3
[base]
residents = 5000
days = 120
[[arms]]
name = "beijing"
policy = "beijing"
[[arms]]
name = "spc"
policy = "spc-list"
"""


def _spec(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_smallest_spec_gives_paired_jobs(tmp_path: Path) -> None:
    sp = read_spec(_spec(tmp_path, SMALLEST))
    assert [j.rel for j in sp.jobs] == ["beijing/0000", "beijing/0001", "beijing/0002",
                                        "spc/0000", "spc/0001", "spc/0002"]
    by_rep = {}
    for j in sp.jobs:
        assert j.config.residents == 5000 and j.config.days == 120
        assert j.config.seed == j.seed == replicate_seed(1, j.replicate)
        by_rep.setdefault(j.replicate, set()).add(j.seed)
    # common random numbers: one seed per replicate, the same in every arm; distinct
    # across replicates
    assert all(len(s) == 1 for s in by_rep.values())
    assert len({next(iter(s)) for s in by_rep.values()}) == 3
    assert {j.config.policy for j in sp.jobs} == {"beijing", "spc-list"}
    assert len({j.key for j in sp.jobs}) == 6


def test_replicate_seed_is_stable_and_documented() -> None:
    # docs/sweep.md gives this derivation: changing it changes every sweep's results
    import hashlib

    d = hashlib.sha256(b"creditsim.sweep/1/0").digest()
    assert replicate_seed(1, 0) == int.from_bytes(d[:8], "big") >> 1


@given(st.integers(0, 2**63 - 1), st.integers(0, 9999))
def test_replicate_seeds_fit_a_run_config(base: int, r: int) -> None:
    s = replicate_seed(base, r)
    assert 0 <= s < 2**63
    assert s != replicate_seed(base, r + 1)


BAD = """\
replicats = 3
seed = -1
keep = "all"
[base]
residents = -5
dayz = 10
seed = 4
[base.parameters]
records.court.p_id_othr = 0.1
"records.bank.p_id_missing" = 7
[[arms]]
name = "a"
policy = "nonesuch"
[[arms]]
name = "a"
"""


def test_every_problem_at_once_located(tmp_path: Path) -> None:
    path = _spec(tmp_path, BAD)
    with pytest.raises(ConfigError) as e:
        read_spec(path)
    got = [str(p) for p in e.value.problems]
    want = [
        (f"{path}:1 replicats", "did you mean 'replicates'?"),
        (f"{path}:2 seed", "must be in [0,"),
        (f"{path}:3 keep", "must be one of"),
        (f"{path}:5 base.residents", "must be positive"),
        (f"{path}:6 base.dayz", "did you mean 'days'?"),
        (f"{path}:7 base.seed", "replicate's seed"),
        (f"{path}:9 records.court.p_id_othr", "did you mean 'records.court.p_id_other'?"),
        (f"{path}:10 records.bank.p_id_missing", "outside the allowed range"),
        (f"{path}:13 arms[0].policy", "not a preset"),
        (f"{path}:15 arms[1].name", "given twice"),
    ]
    for where, what in want:
        assert any(g.startswith(where) and what in g for g in got), (where, got)


def test_cli_bad_spec_exit_2_nothing_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["sweep", str(_spec(tmp_path, BAD)), "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert "did you mean 'replicates'" in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_design_errors_located(tmp_path: Path) -> None:
    text = SMALLEST + """
[design]
method = "sobol"
points = 6
[design.parameters]
"records.court.p_id_other" = { low = 0.5, high = 0.1 }
"""
    with pytest.raises(ConfigError) as e:
        read_spec(_spec(tmp_path, text))
    msgs = [str(p) for p in e.value.problems]
    assert any(":14 design.points" in m and "power of two" in m for m in msgs), msgs
    assert any(":16 design.parameters" in m and "low < high" in m for m in msgs), msgs


def test_grid_design_points_and_cells(tmp_path: Path) -> None:
    text = SMALLEST.replace("replicates = 3", "replicates = 2") + """
[design]
[design.parameters]
records.court.p_id_other = [0.003, 0.03]
"records.bank.p_id_missing" = [0.0, 0.01, 0.02]
"""
    sp = read_spec(_spec(tmp_path, text))
    assert sp.design is not None and sp.parameter_keys == ("records.court.p_id_other",
                                                           "records.bank.p_id_missing")
    assert len(sp.design.points) == 6 and len(sp.jobs) == 2 * 6 * 2
    j = sp.jobs[2]
    assert (j.cell, j.point, j.replicate) == ("beijing.p001", 1, 0)
    assert j.values == {"records.court.p_id_other": 0.003, "records.bank.p_id_missing": 0.01}
    assert j.config.overrides == j.values
    # the same design point in two arms shares its seeds
    assert {x.seed for x in sp.jobs if x.point == 1 and x.replicate == 0} == {j.seed}


@pytest.mark.parametrize("method,n", [("lhs", 5), ("sobol", 8)])
def test_sampled_designs_stay_in_range_and_are_reproducible(tmp_path: Path, method: str,
                                                            n: int) -> None:
    text = SMALLEST + f"""
[design]
method = "{method}"
points = {n}
seed = 3
[design.parameters]
"records.court.p_id_other" = {{ low = 0.001, high = 0.05 }}
"records.court.lag_mean_days" = {{ low = 5, high = 40 }}
"""
    a = read_spec(_spec(tmp_path, text)).design
    b = read_spec(_spec(tmp_path, text, "t.toml")).design
    assert a is not None and b is not None and a.points == b.points and len(a.points) == n
    x = np.array([p["records.court.p_id_other"] for p in a.points])
    assert ((x >= 0.001) & (x <= 0.05)).all()
    if method == "lhs":  # one point in each of the n strata of every dimension
        strata = np.floor((x - 0.001) / (0.049 / n)).astype(int)
        assert sorted(strata.tolist()) == list(range(n))


def test_resized_changes_only_size(tmp_path: Path) -> None:
    sp = read_spec(_spec(tmp_path, SMALLEST))
    small = resized(sp, residents=300, replicates=1)
    assert [j.rel for j in small.jobs] == ["beijing/0000", "spc/0000"]
    assert all(j.config.residents == 300 for j in small.jobs)
    assert small.jobs[0].seed == sp.jobs[0].seed


def test_resume_and_expand_checks(tmp_path: Path) -> None:
    sp = read_spec(_spec(tmp_path, SMALLEST))
    root = tmp_path / "sw"
    store.prepare(root, sp, False, False).release()
    store.write_sweep_doc(root, sp)
    with pytest.raises(store.SweepError, match="already holds a sweep"):
        store.prepare(root, sp, False, False)
    store.prepare(root, sp, True, False).release()  # same spec: resume is fine
    more = read_spec(_spec(tmp_path, SMALLEST.replace("replicates = 3", "replicates = 5")))
    with pytest.raises(store.SweepError, match="use --expand"):
        store.prepare(root, more, True, False)
    store.prepare(root, more, False, True).release()  # adding replicates: an expansion
    changed = read_spec(_spec(tmp_path, SMALLEST.replace("days = 120", "days = 90")))
    with pytest.raises(store.SweepError, match="configuration differs"):
        store.prepare(root, changed, False, True)
    fewer = read_spec(_spec(tmp_path, SMALLEST.replace("replicates = 3", "replicates = 2")))
    with pytest.raises(store.SweepError, match="only adds"):
        store.prepare(root, fewer, False, True)
    doc = json.loads((root / "sweep.json").read_text())
    assert doc["jobs"] == {j.rel: j.key for j in sp.jobs}


def test_not_a_sweep_directory(tmp_path: Path) -> None:
    sp = read_spec(_spec(tmp_path, SMALLEST))
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(store.SweepError, match="not a sweep directory"):
        store.prepare(tmp_path / "busy", sp, False, False)


def test_example_specs_are_valid() -> None:
    specs = sorted((ROOT / "examples" / "sweeps").glob("*.toml"))
    assert specs
    for p in specs:
        sp = read_spec(p)
        assert sp.jobs


def test_the_documented_spec_is_valid(tmp_path: Path) -> None:
    import re

    doc = (ROOT / "docs" / "sweep.md").read_text(encoding="utf-8")
    text = re.findall(r"```toml\n(.*?)```", doc, re.S)[0]
    sp = read_spec(_spec(tmp_path, text))
    assert [a.name for a in sp.arms] == ["beijing", "spc"] and len(sp.jobs) == 2 * 3 * 3
    spc = next(j for j in sp.jobs if j.arm == "spc")
    assert spc.config.feedback is False and spc.config.overrides == {
        "records.bank.p_id_missing": 0.02, "feedback.deterrence": 0.5,
        "records.court.p_id_other": 0.003}


def test_the_package_is_the_function() -> None:
    import creditsim
    import creditsim.sweep.summary  # noqa: F401 - importing a submodule sets the attribute

    assert callable(creditsim.sweep) and creditsim.sweep.__name__ == "creditsim.sweep"
    assert creditsim.open_sweep is creditsim.sweep.open_sweep


def test_summary_of_something_else_exit_2(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["sweep", "summary", str(tmp_path)])
    assert res.exit_code == 2 and "not a sweep directory" in res.output, res.output
    res = CliRunner().invoke(app, ["sweep", "audit", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "not a sweep directory" in res.output, res.output
