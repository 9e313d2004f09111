"""`creditsim audit` on a sweep or on several runs of one scenario (group rates
pooled over the replicates, one implementation), and `creditsim compare` on more
than two runs or on a sweep's arms. One small sweep that keeps its run tables
serves both as a sweep and as runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import creditsim
from creditsim.cli import app

pytestmark = pytest.mark.slow

SPEC = """\
replicates = 3
seed = 9
keep = "tables"
[base]
residents = 2000
days = 30
burn_in_days = 1461   # a warm stock: a few residents sanctioned in each run
[[arms]]
name = "beijing"
policy = "beijing"
[[arms]]
name = "spc"
policy = "spc-list"
"""


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("multi")
    (tmp / "spec.toml").write_text(SPEC, encoding="utf-8")
    sw = creditsim.sweep(tmp / "spec.toml", out=tmp / "sw")
    assert sw.index["status"].to_list() == ["done"] * 6
    return tmp / "sw"


def _runs(sweep: Path, arm: str) -> list[str]:
    return [str(sweep / "jobs" / arm / f"{r:04d}" / "run") for r in range(3)]


def _cli(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.output


def test_audit_of_a_sweep_is_its_pooled_audit(sweep: Path) -> None:
    code, out = _cli("audit", str(sweep), "--json", "--no-verify")
    assert code == 0, out
    doc = json.loads(out)
    assert doc == json.loads(json.dumps(creditsim.open_sweep(sweep).pooled()))
    assert [(c["arm"], c["replicates"]) for c in doc["cells"]] == [("beijing", 3), ("spc", 3)]
    code, out = _cli("audit", str(sweep), "--by", "hukou")
    assert code == 0 and "hukou" in out and "district" not in out, out
    code, out = _cli("audit", str(sweep), "--by", "education")
    assert code == 2 and "no grouping education" in out, out


def test_audit_of_runs_pools_like_the_sweep(sweep: Path) -> None:
    """Differential: the runs audited afresh and pooled = the sweep's stored audits pooled."""
    code, out = _cli("audit", *_runs(sweep, "beijing"), "--json", "--no-verify")
    assert code == 0, out
    doc = json.loads(out)
    cell = doc["cells"][0]
    assert cell["replicates"] == 3 and doc["runs"] == _runs(sweep, "beijing")
    want = json.loads(json.dumps(creditsim.open_sweep(sweep).pooled()))["cells"][0]["groups"]
    assert cell["groups"] == want
    # residents and sanctions add up over the three cities of 2,000
    rows = cell["groups"]["hukou"]["rows"]
    assert sum(r["residents"] for r in rows) == 6000
    sanctioned = sum(r["sanctioned"]["count"] for r in rows)
    each = [json.loads(_cli("audit", run, "--json", "--no-verify")[1])["headline"]
            ["residents_sanctioned"] for run in _runs(sweep, "beijing")]
    assert sanctioned == sum(each) > 0
    code, out = _cli("audit", *_runs(sweep, "beijing"), "--min-events", "1",
                     "--reference", "hukou=local")
    assert code == 0 and "pooled over 3 runs" in out, out


def test_audit_refuses_runs_of_different_scenarios(sweep: Path) -> None:
    a, b = _runs(sweep, "beijing")[0], _runs(sweep, "spc")[1]
    code, out = _cli("audit", a, b, "--no-verify")
    assert code == 2 and "differ in policy" in out and "Traceback" not in out, out
    code, out = _cli("audit", a, a, "--no-verify")
    assert code == 2 and "the same run twice" in out, out
    code, out = _cli("audit", str(sweep), a, "--no-verify")
    assert code == 2 and "audited alone" in out, out


def test_compare_many_runs_against_the_first(sweep: Path) -> None:
    b0 = _runs(sweep, "beijing")[0]
    s0 = _runs(sweep, "spc")[0]
    k0 = str(sweep / "jobs" / "beijing" / "0000" / "run")
    code, out = _cli("compare", b0, s0, k0, "--json", "--no-verify")
    assert code == 0, out
    res = json.loads(out)
    assert res["schema"] == "creditsim.compare.many/1" and len(res["runs"]) == 3
    assert all(r["comparable"] for r in res["runs"])
    two = json.loads(_cli("compare", b0, s0, "--json", "--no-verify")[1])
    for row in res["headline"]:
        pair = next(r for r in two["headline"] if r["metric"] == row["metric"])
        assert row["values"][:2] == [pair["a"], pair["b"]]
        assert row["diff"][1] == pair["diff"]
        if isinstance(row["values"][0], int | float) and not isinstance(row["values"][0],
                                                                        bool):
            assert row["diff"][2] == 0  # the first run against itself
    for m in ("sanctioned", "wrongly_sanctioned"):
        p = res["paired"][1][m]
        q = two["paired"][m]
        assert (p["both"], p["only_first"], p["only_this"]) == (q["both"], q["only_a"],
                                                                q["only_b"])
        assert res["paired"][2][m]["only_first"] == res["paired"][2][m]["only_this"] == 0
    code, out = _cli("compare", b0, s0, k0, "--no-verify")
    assert code == 0 and "(− 0)" in out, out
    code, out = _cli("compare", b0, _runs(sweep, "beijing")[1], s0, "--no-verify")
    assert code == 2 and "different seeds" in out, out


def test_compare_a_sweep_arms_against_the_first(sweep: Path) -> None:
    code, out = _cli("compare", str(sweep), "--json")
    assert code == 0, out
    res = json.loads(out)
    sw = creditsim.open_sweep(sweep)
    d = sw.differences().to_dicts()
    assert res["differences"] == json.loads(json.dumps(d, default=str))
    assert {r["arm"] for r in res["figures"]} == {"beijing", "spc"}
    code, out = _cli("compare", str(sweep), "--metric", "residents_sanctioned*")
    assert code == 0 and "spc − beijing" in out, out
    code, out = _cli("compare", _runs(sweep, "beijing")[0])
    assert code == 2 and "two or more runs" in out, out


def test_report_of_a_sweep_draws_bands(sweep: Path, tmp_path: Path) -> None:
    pytest.importorskip("plotly")
    import re

    out = tmp_path / "sweep.html"
    code, text = _cli("report", str(sweep), "--out", str(out))
    assert code == 0, text
    page = out.read_text(encoding="utf-8")
    blocks = re.findall(r'<script type="application/json" class="chart-data"[^>]*>(.*?)'
                        r"</script>", page, re.S)
    figs = [json.loads(b) for b in blocks]
    titles = [f["layout"]["title"]["text"] for f in figs]
    band = figs[titles.index(next(t for t in titles if t.startswith("residents sanctioned")))]
    trace = band["data"][0]
    summary = creditsim.open_sweep(sweep).summary()
    want = summary.filter(summary["metric"] == "residents_sanctioned").to_dicts()
    assert trace["x"] == [r["arm"] for r in want] == ["beijing", "spc"]
    assert trace["y"] == [r["median"] for r in want]
    assert trace["error_y"]["array"] == [r["p90"] - r["median"] for r in want]
    assert any("pooled over replicates" in t for t in titles)
    assert "connect-src" not in page and "default-src 'none'" in page
    code, text = _cli("report", str(sweep), "--out", str(out))
    assert code == 2 and "already exists" in text, text
