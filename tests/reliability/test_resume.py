"""`creditsim run --checkpoint / --resume`: a run that fails or is killed after any
stage, or in the middle of one, resumes from its last completed stage, and what it
publishes is byte for byte what an uninterrupted run publishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from creditsim import checkpoint as ckpt
from creditsim import pipeline
from creditsim.cli import app
from creditsim.config import make_config
from creditsim.errors import RunDirError
from creditsim.rundir import sha256_file

CFG = make_config(city="beijing", residents=2000, days=30, burn_in_days=0, seed=3)
CLI = ["run", "--residents", "2000", "--days", "30", "--burn-in-days", "0", "--seed", "3",
       "--quiet"]
STAGES = [s.name for s in pipeline.PLAN]
runner = CliRunner()

#: Run in a child process: the pipeline with checkpointing, SIGKILLed where argv says.
CHILD = """
import os, signal, sys
from dataclasses import replace
from pathlib import Path
from creditsim import checkpoint as ckpt, pipeline
from creditsim.config import make_config

out, where, arg = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
def die(*_a, **_k):
    os.kill(os.getpid(), signal.SIGKILL)
if where == "before":  # at the boundary: as the stage named arg starts
    i = [s.name for s in pipeline.PLAN].index(arg)
    pipeline.PLAN[i] = replace(pipeline.PLAN[i], fn=die)
elif where == "linkage":  # inside linkage: its work done, charts written, not returned
    real = pipeline.link_records
    pipeline.link_records = lambda *a, **k: (real(*a, **k), die())
elif where == "emit":  # inside the platform: after it published arg tables
    real_loop, seen = pipeline.run_loop, []
    def emit_then_die(emit, name, df):
        emit(name, df)
        seen.append(name)
        if len(seen) == int(arg):
            pipeline_writer_flush()
            die()
    def loop(inputs, spec, models, sink):
        return real_loop(inputs, spec, models, replace(
            sink, emit=lambda n, df: emit_then_die(sink.emit, n, df)))
    pipeline.run_loop = loop
    real_writer = pipeline.RunWriter
    writers = []
    def writer(*a, **k):
        writers.append(real_writer(*a, **k))
        return writers[-1]
    pipeline.RunWriter = writer
    def pipeline_writer_flush():
        writers[-1].flush()
cfg = make_config(city="beijing", residents=2000, days=30, burn_in_days=0, seed=3)
pipeline.run(cfg, out, checkpoint=ckpt.Options())
"""


#: Real runs, child processes and signals: the full suite, not the fast subset.
pytestmark = pytest.mark.slow


def published(run: Path) -> dict[str, str]:
    """sha256 of every file of a run but its timings (the manifest, loop.json's
    seconds), which differ between any two runs."""
    out = {}
    for p in sorted(run.rglob("*")):
        rel = p.relative_to(run).as_posix()
        if p.is_file() and rel != "manifest.json":
            if rel == "loop.json":
                doc = json.loads(p.read_text(encoding="utf-8"))
                doc.pop("seconds")
                for r in doc["rounds"]:
                    r.pop("seconds", None)
                out[rel] = json.dumps(doc, sort_keys=True)
            else:
                out[rel] = sha256_file(p)
    tables = json.loads((run / "manifest.json").read_text(encoding="utf-8"))["tables"]
    assert {k: v["sha256"] for k, v in tables.items()} == \
        {k: v for k, v in out.items() if k.endswith(".parquet")}
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("ref") / "run"
    pipeline.run(CFG, out)
    return published(out)


def _fail_before(monkeypatch: pytest.MonkeyPatch, stage: str, exc: Exception) -> None:
    i = STAGES.index(stage)

    def boom(_ctx: object, _given: object) -> None:
        raise exc

    plan = list(pipeline.PLAN)
    plan[i] = replace(plan[i], fn=boom)
    monkeypatch.setattr(pipeline, "PLAN", plan)


def _partials(out: Path) -> list[Path]:
    # the lock file of a killed run stays (flock is released by the kernel): not a run
    return sorted(p for p in out.parent.glob(f".{out.name}.*") if p.suffix != ".lock")


def _resume(out: Path, notes: list[str]) -> pipeline.RunResult:
    return pipeline.run(CFG, out, checkpoint=ckpt.Options(resume=True, note=notes.append))


def _assert_resumed(out: Path, res: pipeline.RunResult, reference: dict[str, str],
                    done: int) -> None:
    assert published(out) == reference
    restored = [s["stage"] for s in res.manifest["stages"] if s.get("from_checkpoint")]
    assert restored == STAGES[:done]
    assert not (out / "_work").exists() and not any(out.rglob("*checkpoint*"))
    assert _partials(out) == []


@pytest.mark.parametrize("stage", STAGES[1:])
def test_failure_before_each_stage_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           reference: dict[str, str], stage: str) -> None:
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        _fail_before(m, stage, RuntimeError("injected"))
        with pytest.raises(RuntimeError, match="injected"):
            pipeline.run(CFG, out, checkpoint=ckpt.Options())
    assert not out.exists() and ckpt.kept(out) is not None
    notes: list[str] = []
    res = _resume(out, notes)
    done = STAGES.index(stage)
    assert notes == [f"resuming {out} after stage {STAGES[done - 1]}"]
    _assert_resumed(out, res, reference, done)


def test_failure_without_checkpoint_keeps_nothing(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "run"
    _fail_before(monkeypatch, "linkage", RuntimeError("injected"))
    with pytest.raises(RuntimeError):
        pipeline.run(CFG, out)
    assert list(tmp_path.iterdir()) == []


def _child(out: Path, where: str, arg: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(out), where, arg], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    [partial] = _partials(out)
    assert partial.name.startswith(f".{out.name}.partial-") and not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["behaviour", "linkage", "platform"])
def test_kill_at_stage_boundary_resumes(tmp_path: Path, reference: dict[str, str],
                                        stage: str) -> None:
    out = tmp_path / "run"
    _child(out, "before", stage)
    notes: list[str] = []
    res = _resume(out, notes)
    done = STAGES.index(stage)
    assert notes == [f"resuming {out} after stage {STAGES[done - 1]}"]
    _assert_resumed(out, res, reference, done)


@pytest.mark.slow
@pytest.mark.parametrize(("where", "arg", "done"), [("linkage", "-", 3), ("emit", "3", 4)])
def test_kill_mid_stage_resumes_from_last_completed(tmp_path: Path, reference: dict[str, str],
                                                    where: str, arg: str, done: int) -> None:
    """Killed with linkage's charts written (linkage), or with some of the platform's
    tables published into the temp directory (emit): those are dropped and made again."""
    out = tmp_path / "run"
    _child(out, where, arg)
    if where == "emit":
        [partial] = _partials(out)
        stale = [p for p in partial.rglob("*.parquet") if "_work" not in p.parts]
        assert len(stale) >= 4  # residents and three of the platform's tables
    notes: list[str] = []
    res = _resume(out, notes)
    assert notes == [f"resuming {out} after stage {STAGES[done - 1]}"]
    _assert_resumed(out, res, reference, done)


def test_resume_with_other_config_is_refused(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        _fail_before(m, "records", RuntimeError("injected"))
        with pytest.raises(RuntimeError):
            pipeline.run(CFG, out, checkpoint=ckpt.Options())
    [partial] = _partials(out)
    before = {p: sha256_file(p) for p in partial.rglob("*") if p.is_file()}
    res = runner.invoke(app, [*CLI, "--days", "31", "--out", str(out), "--resume"])
    assert res.exit_code == 2
    assert "different configuration (days 30 (this run: 31))" in res.output
    assert "Traceback" not in res.output
    assert _partials(out) == [partial] and not out.exists()
    assert {p: sha256_file(p) for p in partial.rglob("*") if p.is_file()} == before


def test_resume_with_other_policy_text_is_refused(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from creditsim.policy import policy_source

    pol = tmp_path / "p.toml"
    pol.write_bytes(policy_source("beijing")[0].encode())
    cfg = make_config(city="beijing", residents=2000, days=30, burn_in_days=0, seed=3,
                      policy=str(pol))
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        _fail_before(m, "behaviour", RuntimeError("injected"))
        with pytest.raises(RuntimeError):
            pipeline.run(cfg, out, checkpoint=ckpt.Options())
    pol.write_bytes(pol.read_bytes() + b"\n# edited\n")
    with pytest.raises(RunDirError, match="the policy's text"):
        pipeline.run(cfg, out, checkpoint=ckpt.Options(resume=True))


def test_corrupt_checkpoint_is_recomputed_not_used(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   reference: dict[str, str]) -> None:
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        _fail_before(m, "linkage", RuntimeError("injected"))
        with pytest.raises(RuntimeError):
            pipeline.run(CFG, out, checkpoint=ckpt.Options())
    [partial] = _partials(out)
    cand = partial / ckpt.HOME / "behaviour" / "tables" / "_candidates.parquet"
    data = bytearray(cand.read_bytes())
    data[len(data) // 2] ^= 0xFF
    cand.write_bytes(bytes(data))
    notes: list[str] = []
    res = _resume(out, notes)
    assert notes[0].startswith("checkpoint of stage behaviour not used (_candidates: ")
    assert "does not match its sha256" in notes[0]
    assert notes[1] == f"resuming {out} after stage population"
    _assert_resumed(out, res, reference, 1)


def test_unreadable_state_is_not_resumed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         reference: dict[str, str]) -> None:
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        _fail_before(m, "behaviour", RuntimeError("injected"))
        with pytest.raises(RuntimeError):
            pipeline.run(CFG, out, checkpoint=ckpt.Options())
    [partial] = _partials(out)
    (partial / ckpt.HOME / ckpt.STATE).write_text("{not json", encoding="utf-8")
    notes: list[str] = []
    res = _resume(out, notes)
    assert notes == [f"no interrupted run of {out} to resume; starting from the first stage"]
    assert published(out) == reference
    assert not any(s.get("from_checkpoint") for s in res.manifest["stages"])


def test_cli_says_where_the_partial_run_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           reference: dict[str, str]) -> None:
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        _fail_before(m, "behaviour", RunDirError("disk trouble"))
        res = runner.invoke(app, [*CLI, "--out", str(out), "--checkpoint"])
    assert res.exit_code == 2
    [partial] = _partials(out)
    text = " ".join(res.output.split())
    assert f"the partial run is kept in {partial.resolve()}" in text
    assert "with --resume" in text and "error: disk trouble" in text
    res = runner.invoke(app, [*CLI, "--out", str(out), "--resume"])
    assert res.exit_code == 0, res.output
    assert "resuming" in res.output and "after stage population" in res.output
    assert published(out) == reference


def test_live_or_refused_runs_are_left_alone(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A partial directory whose PID is alive is not claimed; a resume that cannot
    write ``--out`` fails before it claims the dead run's directory."""
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        _fail_before(m, "behaviour", RuntimeError("injected"))
        with pytest.raises(RuntimeError):
            pipeline.run(CFG, out, checkpoint=ckpt.Options())
    [partial] = _partials(out)
    assert [p for p, _s in ckpt.dead_partials(out)] == [partial]
    live = partial.with_name(f".{out.name}.partial-{os.getppid()}")
    partial.rename(live)
    assert ckpt.dead_partials(out) == []
    live.rename(partial)
    out.mkdir()
    (out / "stray").write_text("x", encoding="utf-8")
    with pytest.raises(RunDirError, match="not empty"):
        pipeline.run(CFG, out, checkpoint=ckpt.Options(resume=True))
    assert _partials(out) == [partial]
