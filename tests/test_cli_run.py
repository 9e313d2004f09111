"""`creditsim run`: the run directory contract, determinism, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from creditsim import pipeline
from creditsim.cli import app
from creditsim.rundir import read_manifest

runner = CliRunner()
SMALL = ["--residents", "4000", "--days", "60", "--burn-in-days", "0", "--quiet"]
#: For tests of where a run goes, not of what it holds.
TINY = ["--residents", "200", "--days", "10", "--burn-in-days", "0", "--quiet"]


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def run_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "a"
    res = invoke("run", *SMALL, "--seed", "5", "--out", str(out))
    assert res.exit_code == 0, res.output
    return out


@pytest.mark.slow
def test_run_directory_contract(run_a: Path) -> None:
    m = read_manifest(run_a)
    assert m["status"] == "complete"
    assert m["seed"] == 5 and m["config"]["residents"] == 4000 and m["config"]["days"] == 60
    assert {"numpy", "polars", "pyarrow"} <= set(m["packages"])
    assert [s["stage"] for s in m["stages"]][:3] == ["population", "behaviour", "records"]
    assert m["stages"][-1]["stage"] == "write"
    for rel, meta in m["tables"].items():
        df = pl.read_parquet(run_a / rel)
        assert df.height == meta["rows"]
    res = pl.read_parquet(run_a / "residents.parquet")
    for col in ("resident_id", "household_id", "district", "sex", "birth_date", "hukou",
                "education", "income_decile", "name", "id_number"):
        assert col in res.columns
    ev = pl.read_parquet(run_a / "events.parquet")
    assert {"event_id", "resident_id", "day", "department", "kind", "amount"} <= set(ev.columns)
    rec = pl.read_parquet(run_a / "records" / "court.parquet")
    for col in ("record_id", "department", "kind", "day_recorded", "name", "id_number",
                "birth_date", "sex", "district", "amount", "truth_event_id",
                "truth_resident_id"):
        assert col in rec.columns
    # every parameter in the manifest carries a source
    assert m["parameters"] and all(v["source"] for v in m["parameters"].values())
    # nothing left behind
    assert not [p for p in run_a.parent.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_same_seed_same_checksums_any_chunk_size(run_a: Path, tmp_path: Path) -> None:
    b = tmp_path / "b"
    res = invoke("run", *SMALL, "--seed", "5", "--out", str(b), "--chunk-residents", "1")
    assert res.exit_code == 0, res.output
    ta, tb = read_manifest(run_a)["tables"], read_manifest(b)["tables"]
    assert {k: v["sha256"] for k, v in ta.items()} == {k: v["sha256"] for k, v in tb.items()}
    c = tmp_path / "c"
    assert invoke("run", *SMALL, "--seed", "6", "--out", str(c)).exit_code == 0
    tc = read_manifest(c)["tables"]
    assert ta["residents.parquet"]["sha256"] != tc["residents.parquet"]["sha256"]


@pytest.mark.slow
def test_existing_run_refused_then_overwritten(run_a: Path, tmp_path: Path) -> None:
    before = (run_a / "manifest.json").read_text()
    res = invoke("run", *SMALL, "--seed", "5", "--out", str(run_a))
    assert res.exit_code == 2
    assert "already holds a run" in res.output and "Traceback" not in res.output
    assert (run_a / "manifest.json").read_text() == before
    out = tmp_path / "o"
    assert invoke("run", *TINY, "--out", str(out)).exit_code == 0
    res = invoke("run", *TINY, "--seed", "9", "--out", str(out), "--overwrite")
    assert res.exit_code == 0, res.output
    assert read_manifest(out)["seed"] == 9


@pytest.mark.parametrize("args, message", [
    (["--city", "atlantis"], "unknown city"),
    (["--residents", "-3"], "--residents"),
    (["--days", "0"], "--days"),
    (["--days", "99999"], "horizon"),
])
def test_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "x"
    res = invoke("run", "--quiet", "--out", str(out), *args)
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output
    assert not out.exists() and not list(tmp_path.iterdir())


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    res = invoke("run", "--quiet", "--out", str(tmp_path / "x"), "--preset", "nowhere",
                 "--days", "-1")
    assert res.exit_code == 2
    assert "unknown city" in res.output and "--days" in res.output
    assert "--preset is deprecated; use --city" in res.output


def test_preset_conflicting_with_city_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "x"
    res = invoke("run", "--quiet", "--out", str(out), "--city", "beijing2", "--preset",
                 "beijing")
    assert res.exit_code == 2 and "--preset beijing: conflicts with --city beijing2" in res.output
    assert not out.exists()


@pytest.mark.slow  # as root the locked directory is writable: a whole run
def test_unwritable_path(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        res = invoke("run", *TINY, "--out", str(locked / "run"))
        if os.geteuid() != 0:  # root can write anywhere; the check is moot then
            assert res.exit_code == 2 and "cannot write" in res.output
        res = invoke("run", *TINY, "--out", "/proc/creditsim-test/run")
        assert res.exit_code == 2 and "Traceback" not in res.output
    finally:
        os.chmod(locked, 0o700)


def test_out_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    res = invoke("run", *SMALL, "--out", str(f))
    assert res.exit_code == 2 and "not a directory" in res.output


def test_failed_run_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(ctx, tables):  # noqa: ANN001
        raise KeyboardInterrupt

    broken = [pipeline.PLAN[0], pipeline.Stage("boom", (), (), boom, "fails")]
    monkeypatch.setattr(pipeline, "PLAN", broken)
    out = tmp_path / "r"
    res = invoke("run", *SMALL, "--out", str(out))
    assert res.exit_code == 130
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_manifest_json_is_valid_utf8(run_a: Path) -> None:
    raw = (run_a / "manifest.json").read_text(encoding="utf-8")
    m = json.loads(raw)
    assert "东城区" in raw  # written as UTF-8, not escaped
    assert m["plan"][0]["stage"] == "population"
