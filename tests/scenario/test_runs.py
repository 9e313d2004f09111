"""Scenario runs: every example in examples/ runs (small), a resolved scenario gives
the same run, the manifest says where every setting came from, and the example
notebook executes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from creditsim.cli import app
from creditsim.rundir import read_manifest

pytestmark = pytest.mark.slow  # pipeline runs

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SMALL = ["--residents", "2000", "--days", "60", "--burn-in-days", "0", "--quiet"]
SET = "records.civil.p_id_other=0.05"
runner = CliRunner()


def scenarios() -> list[Path]:
    return sorted(p for p in EXAMPLES.glob("*.toml") if not p.stem.endswith("-policy"))


def test_the_examples_are_there() -> None:
    names = {p.stem for p in scenarios()}
    assert {"high-data-errors", "no-feedback", "spc-list-national", "strict-deletion"} <= names
    for p in scenarios():
        assert p.read_text(encoding="utf-8").startswith("# Question:"), p


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("examples")
    out = {}
    for p in scenarios():
        extra = ["--set", SET] if p.stem == "high-data-errors" else []
        res = runner.invoke(app, ["run", "--scenario", str(p), *SMALL, *extra,
                                  "--out", str(base / p.stem)])
        assert res.exit_code == 0, f"{p.name}\n{res.output}"
        out[p.stem] = base / p.stem
    return out


@pytest.mark.parametrize("name", [p.stem for p in scenarios()])
def test_each_example_runs(runs: dict[str, Path], name: str) -> None:
    m = read_manifest(runs[name])
    assert m["status"] == "complete"
    assert m["config"]["residents"] == 2000 and m["config"]["days"] == 60
    assert m["scenario"]["file"] == str(EXAMPLES / f"{name}.toml")
    assert m["scenario"]["options"]["residents"] == "--residents"
    assert m["scenario"]["options"]["seed"].startswith(f"{EXAMPLES / name}.toml:")


def test_what_the_examples_change(runs: dict[str, Path]) -> None:
    config = {k: read_manifest(v)["config"] for k, v in runs.items()}
    assert config["no-feedback"]["feedback"] is False
    assert config["spc-list-national"]["policy"] == "spc-list"
    assert config["strict-deletion"]["policy"] == str(EXAMPLES / "strict-deletion-policy.toml")
    strict = (runs["strict-deletion"] / "policy.toml").read_bytes()
    assert strict == (EXAMPLES / "strict-deletion-policy.toml").read_bytes()


def test_the_manifest_names_each_parameters_origin(runs: dict[str, Path]) -> None:
    params = read_manifest(runs["high-data-errors"])["parameters"]
    text = (EXAMPLES / "high-data-errors.toml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, t in enumerate(text, 1) if t.startswith("[parameters.records.bank]"))
    bank = params["records.bank.p_id_other"]
    assert bank["origin"] == f"{EXAMPLES / 'high-data-errors.toml'}:{line + 1}"
    assert bank["value"] == 0.005 and bank["default"] == 0.001
    assert params["records.civil.p_id_other"]["origin"] == "--set"
    assert params["records.civil.p_id_other"]["value"] == 0.05
    assert params["records.health.p_id_other"]["origin"] == "default"


def test_the_resolved_scenario_gives_the_same_run(runs: dict[str, Path], tmp_path: Path
                                                   ) -> None:
    src = EXAMPLES / "high-data-errors.toml"
    res = runner.invoke(app, ["scenario", "show", str(src), *SMALL, "--set", SET])
    assert res.exit_code == 0, res.output
    shown = tmp_path / "shown.toml"
    shown.write_text(res.output, encoding="utf-8")
    res = runner.invoke(app, ["run", "--scenario", str(shown), "--quiet",
                              "--out", str(tmp_path / "again")])
    assert res.exit_code == 0, res.output
    a, b = read_manifest(runs["high-data-errors"]), read_manifest(tmp_path / "again")
    assert {k: v["sha256"] for k, v in a["tables"].items()} == \
        {k: v["sha256"] for k, v in b["tables"].items()}
    assert a["config"] == b["config"]
    assert b["scenario"]["file"] == str(shown)
    assert {v["origin"].split(":")[0] for v in b["parameters"].values()} == \
        {"default", str(shown)}


def test_the_example_notebook_executes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                       ) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb_file = EXAMPLES / "first-run.ipynb"
    nb = nbformat.read(nb_file, as_version=4)
    assert all(not c.get("outputs") and not c.get("execution_count")
               for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    for p in EXAMPLES.glob("*.toml"):
        shutil.copy(p, tmp_path / p.name)
    src = str(ROOT / "src")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [src, *filter(None, [os.environ.get("PYTHONPATH")])]))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "\n".join(o.get("text", "") or str(o.get("data", {}).get("text/plain", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                if o.output_type == "error"]
    assert "5,000 residents × 365 days" in text and "high-data-errors.toml:" in text
    assert "sanctioned.rate" in text
    assert read_manifest(tmp_path / "runs" / "first-run")["status"] == "complete"
