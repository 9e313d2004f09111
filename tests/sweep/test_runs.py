"""Sweeps that run: the same results for 1, 2 and 4 workers, expansion without
redoing, a sweep killed (SIGTERM, then SIGKILL) and resumed equal to an
uninterrupted one, the example spec at small scale, and the summary command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import psutil
import pytest
from typer.testing import CliRunner

import creditsim
from creditsim.cli import app
from creditsim.sweep import store

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SPEC = """\
replicates = 2
seed = 5
[base]
residents = 300
days = 30
burn_in_days = 0
[[arms]]
name = "beijing"
policy = "beijing"
[[arms]]
name = "spc"
policy = "spc-list"
"""


def _write(tmp: Path, text: str, name: str = "spec.toml") -> Path:
    p = tmp / name
    p.write_text(text, encoding="utf-8")
    return p


def _results(root: Path) -> tuple[pl.DataFrame, dict[str, bytes]]:
    """The index without its timing columns, and every job's result files' bytes."""
    idx = pl.read_parquet(root / store.INDEX).drop(*store.TIMING_COLUMNS)
    files = {str(p.relative_to(root)): p.read_bytes()
             for p in sorted((root / "jobs").rglob("*.json")) if p.name != "job.json"}
    return idx, files


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("ref")
    sw = creditsim.sweep(_write(tmp, SPEC), out=tmp / "sw", workers=1)
    assert sw.index["status"].to_list() == ["done"] * 4
    return tmp / "sw"


def test_uninterrupted_sweep(reference: Path) -> None:
    idx = pl.read_parquet(reference / store.INDEX)
    assert idx["job"].to_list() == ["beijing/0000", "beijing/0001", "spc/0000", "spc/0001"]
    assert idx["seed"][0] == idx["seed"][2] != idx["seed"][1] == idx["seed"][3]
    assert (idx["seconds"] > 0).all() and (idx["peak_rss_mb"] > 50).all()
    for j in idx["job"]:
        d = reference / "jobs" / j
        assert sorted(p.name for p in d.iterdir()) == ["audit.json", "done", "job.json",
                                                       "summary.json"]  # tables not kept
        audit = json.loads((d / "audit.json").read_text())
        assert audit["run"]["path"] == "run" and audit["headline"]["residents"] == 300
    # the spc arm runs another policy on the same residents (same register digest)
    a = json.loads((reference / "jobs/beijing/0000/audit.json").read_text())
    b = json.loads((reference / "jobs/spc/0000/audit.json").read_text())
    assert a["run"]["residents_sha256"] == b["run"]["residents_sha256"]
    assert a["headline"]["policy"] != b["headline"]["policy"]
    sw = creditsim.open_sweep(reference)
    s = sw.summary().filter(pl.col("metric") == "residents")
    assert s["n"].to_list() == [2, 2] and s["median"].to_list() == [300.0, 300.0]
    d = sw.differences().filter(pl.col("metric") == "residents").row(0, named=True)
    assert (d["a"], d["b"], d["mean"]) == ("beijing", "spc", 0.0)


@pytest.mark.parametrize("workers", [2, 4])
def test_results_do_not_depend_on_the_number_of_workers(reference: Path, tmp_path: Path,
                                                        workers: int) -> None:
    creditsim.sweep(_write(tmp_path, SPEC), out=tmp_path / "sw", workers=workers)
    idx, files = _results(tmp_path / "sw")
    ref_idx, ref_files = _results(reference)
    assert idx.equals(ref_idx)
    assert files.keys() == ref_files.keys() and len(files) == 8
    assert [k for k in files if files[k] != ref_files[k]] == []


def test_expand_adds_without_redoing(reference: Path, tmp_path: Path) -> None:
    root = tmp_path / "sw"
    shutil.copytree(reference, root)
    before = {p: p.read_bytes() for p in root.glob("jobs/*/*/job.json")}
    bigger = SPEC.replace("replicates = 2", "replicates = 3") + (
        '[[arms]]\nname = "nofb"\npolicy = "beijing"\nfeedback = false\n')
    res = CliRunner().invoke(app, ["sweep", str(_write(tmp_path, bigger)), "--out", str(root),
                                   "--resume", "--quiet"])
    assert res.exit_code == 2 and "--expand" in res.output, res.output
    res = CliRunner().invoke(app, ["sweep", str(_write(tmp_path, bigger)), "--out", str(root),
                                   "--expand", "--quiet"])
    assert res.exit_code == 0, res.output
    idx = pl.read_parquet(root / store.INDEX)
    assert idx["job"].to_list() == ["beijing/0000", "beijing/0001", "beijing/0002",
                                    "spc/0000", "spc/0001", "spc/0002",
                                    "nofb/0000", "nofb/0001", "nofb/0002"]
    assert idx["status"].unique().to_list() == ["done"]
    # the jobs done before were not run again (their job.json, with its timing, is as it was)
    assert all(p.read_bytes() == b for p, b in before.items())
    # the new arm shares the replicates' seeds
    assert idx.filter(pl.col("replicate") == 2)["seed"].n_unique() == 1


def _spawn(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen([sys.executable, "-c", "from creditsim.cli import main; main()",
                             *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _done(root: Path) -> int:
    return len(list(root.glob("jobs/*/*/done")))


def _wait(cond, timeout: float = 240.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_killed_and_resumed_equals_uninterrupted(reference: Path, tmp_path: Path) -> None:
    spec, root = _write(tmp_path, SPEC), tmp_path / "sw"
    args = ["sweep", str(spec), "--out", str(root), "--quiet"]
    # 1. SIGTERM after the first job: a clean stop, exit 143, the index says what is done
    p = _spawn(args, tmp_path)
    _wait(lambda: _done(root) >= 1)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 128 + signal.SIGTERM, err
    assert "--resume" in err
    st = pl.read_parquet(root / store.INDEX)["status"].to_list()
    assert st.count("done") == _done(root) and 1 <= st.count("done") < 4
    # 2. resume, SIGKILL the sweep's process while a job is in flight
    p = _spawn([*args, "--resume"], tmp_path)
    n = _done(root)
    _wait(lambda: bool(list(root.glob("jobs/*/.*.partial-*"))) or _done(root) > n)
    workers = psutil.Process(p.pid).children(recursive=True)
    p.kill()
    p.communicate(timeout=60)
    psutil.wait_procs(workers, timeout=30)
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)
    # nothing half written is in place: every job directory there is complete
    for d in root.glob("jobs/*/[0-9]*"):
        assert (d / "done").exists() and (d / "summary.json").exists(), d
    # 3. resume to the end: the same index (without timings) and the same files
    res = CliRunner().invoke(app, [*args, "--resume"])
    assert res.exit_code == 0, res.output
    assert not list(root.glob("jobs/*/.*"))  # the killed workers' temp dirs are gone
    idx, files = _results(root)
    ref_idx, ref_files = _results(reference)
    assert idx.equals(ref_idx)
    assert files == ref_files
    a = CliRunner().invoke(app, ["sweep", "summary", str(root), "--json"])
    b = CliRunner().invoke(app, ["sweep", "summary", str(reference), "--json"])
    assert a.exit_code == b.exit_code == 0
    ja, jb = json.loads(a.output), json.loads(b.output)
    assert ja.pop("sweep") != jb.pop("sweep") and ja == jb


def test_example_spec_small(tmp_path: Path) -> None:
    """examples/sweeps/court-id-errors.toml: 2 arms × 3 levels, at 300 residents and
    one replicate."""
    spec = ROOT / "examples" / "sweeps" / "court-id-errors.toml"
    root = tmp_path / "sw"
    res = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(root), "--residents", "300",
                                   "--replicates", "1", "--workers", "2", "--quiet"])
    assert res.exit_code == 0, res.output
    idx = pl.read_parquet(root / store.INDEX)
    assert idx.height == 6 and idx["status"].unique().to_list() == ["done"]
    assert idx["param.records.court.p_id_other"].to_list() == [0.003, 0.01, 0.03] * 2
    assert idx["job"][1] == "beijing.p001/0000"
    cfg = json.loads((root / "jobs/spc.p002/0000/job.json").read_text())["config"]
    assert cfg["overrides"] == {"records.court.p_id_other": 0.03}
    assert cfg["residents"] == 300 and cfg["policy"] == "spc-list"
    res = CliRunner().invoke(app, ["sweep", "summary", str(root)])
    assert res.exit_code == 0 and "spc − beijing @p002" in res.output, res.output
    doc = json.loads((root / "sweep.json").read_text())
    assert doc["resized"] == {"residents": 300, "replicates": 1}


def test_pooled_audit_sums_replicates(reference: Path, tmp_path: Path) -> None:
    sw = creditsim.open_sweep(reference)
    doc = sw.pooled()
    assert [(c["arm"], c["replicates"]) for c in doc["cells"]] == [("beijing", 2), ("spc", 2)]
    audits = [json.loads((reference / f"jobs/beijing/000{r}/audit.json").read_text())
              for r in (0, 1)]
    for grouping, table in doc["cells"][0]["groups"].items():
        for row in table["rows"]:
            src = [next(x for x in a["groups"][grouping]["rows"] if x["group"] == row["group"])
                   for a in audits]
            assert row["residents"] == sum(s["residents"] for s in src)
            for m in ("sanctioned", "wrongly_sanctioned", "listed"):
                assert row[m]["count"] == sum(s[m]["count"] for s in src)
                assert row[m]["denominator"] == sum(s[m]["denominator"] for s in src)
    # pooled over one replicate, a cell's tables are that run's own audit tables
    one = tmp_path / "one"
    shutil.copytree(reference, one)
    idx = pl.read_parquet(one / store.INDEX).with_columns(
        pl.when(pl.col("replicate") == 1).then(pl.lit("missing")).otherwise("status")
        .alias("status"))
    from creditsim.sweep.pooled import pooled

    single = pooled(one, idx)["cells"][0]["groups"]
    assert single == {g: {k: v for k, v in t.items() if k != "exit_routes"} | {
        "rows": [{k: v for k, v in r.items() if k != "exit_routes"} for r in t["rows"]]}
        for g, t in audits[0]["groups"].items()}
    res = CliRunner().invoke(app, ["sweep", "audit", str(reference), "--grouping", "hukou"])
    assert res.exit_code == 0 and "hukou" in res.output, res.output
    frame = sw.pooled_groups()
    assert set(frame["arm"]) == {"beijing", "spc"} and frame.height > 0


def test_a_failed_job_is_recorded_and_rerun_by_resume(tmp_path: Path) -> None:
    from creditsim.policy import preset_text
    from creditsim.sweep.api import Options, run_sweep
    from creditsim.sweep.spec import read_spec

    policy = tmp_path / "mine.toml"
    policy.write_text(preset_text("spc-list"), encoding="utf-8")
    spec = _write(tmp_path, SPEC.replace('policy = "spc-list"', 'policy = "mine.toml"')
                  .replace("replicates = 2", "replicates = 1"))
    sp = read_spec(spec)
    policy.unlink()  # the spec was valid; its policy file is gone when the job runs
    root = tmp_path / "sw"
    sw = run_sweep(sp, root, Options(workers=1))
    idx = sw.index
    assert idx["status"].to_list() == ["done", "failed"]
    assert "mine.toml" in idx["error"][1]
    assert (root / "jobs/spc/0000/failed").exists()
    assert not (root / "jobs/spc/0000/summary.json").exists()
    first = (root / "jobs/beijing/0000/job.json").read_bytes()
    policy.write_text(preset_text("spc-list"), encoding="utf-8")
    sw = run_sweep(read_spec(spec), root, Options(resume=True))
    assert sw.index["status"].to_list() == ["done", "done"]
    assert (root / "jobs/beijing/0000/job.json").read_bytes() == first  # not run again
