"""Signals, locks, overwrites and kills: an interrupted run removes what it wrote and
says so; two runs never write to one place; ``--overwrite`` never leaves the
destination without a run; what a killed run left is tidied by the next one."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from creditsim import rundir

try:
    from creditsim import fsops
except ImportError:  # run against code without it, to see these tests fail there
    fsops = None  # type: ignore[assignment]
from creditsim.errors import RunDirError
from .helpers import (SLOW, TINY, cli, error_lines, leftovers, spawn,
                                        wait_for)


#: Real runs, child processes and signals: the full suite, not the fast subset.
pytestmark = pytest.mark.slow


def partials(parent: Path) -> list[Path]:
    return sorted(parent.glob(".r.partial-*"))


def stage_reached(parent: Path, rel: str) -> bool:
    return any((p / rel).exists() for p in partials(parent))


def seed_of(run: Path) -> int:
    return json.loads((run / "manifest.json").read_text(encoding="utf-8"))["seed"]


# Moments inside a run: the first table written, Splink's DuckDB database in use,
# the platform stage's tables being written.
MOMENTS = {"population": "residents.parquet", "duckdb": "_work/linkage/splink.duckdb",
           "platform": "ledger.parquet"}


@pytest.mark.parametrize("sig, moment", [
    (signal.SIGTERM, "population"), (signal.SIGHUP, "population"),
    (signal.SIGINT, "duckdb"), (signal.SIGTERM, "duckdb"), (signal.SIGHUP, "platform")])
def test_signal_cleans_up_and_says_so(tmp_path: Path, sig: int, moment: str) -> None:
    p = spawn(["run", *SLOW, "--out", tmp_path / "r"], cwd=tmp_path)
    try:
        wait_for(lambda: stage_reached(tmp_path, MOMENTS[moment]) or p.poll() is not None,
                 what=moment)
        p.send_signal(sig)
        _out, err = p.communicate(timeout=120)
    finally:
        p.kill()
    assert p.returncode == 128 + sig, err
    assert "interrupted, nothing published" in err and signal.Signals(sig).name in err, err
    assert "Traceback" not in err, err
    assert leftovers(tmp_path) == []


def test_ignored_sighup_stays_ignored(tmp_path: Path) -> None:
    code = ("import signal; signal.signal(signal.SIGHUP, signal.SIG_IGN); "
            "from creditsim.cli import main; main()")
    p = spawn(["run", *SLOW, "--out", tmp_path / "r"], cwd=tmp_path, code=code)
    wait_for(lambda: stage_reached(tmp_path, "residents.parquet") or p.poll() is not None,
             what="population")
    p.send_signal(signal.SIGHUP)  # as under nohup: the run carries on
    _out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert leftovers(tmp_path) == ["r"]


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_stale_temporary_directories_of_dead_runs_are_removed(tmp_path: Path) -> None:
    dead = _dead_pid()
    live = subprocess.Popen(["sleep", "60"])
    try:
        time.sleep(0.05)
        stale = [tmp_path / f".r.partial-{dead}-0a1b2c3d", tmp_path / f".r.partial-{dead}"]
        kept = tmp_path / f".r.partial-{live.pid}-0a1b2c3d"
        other = tmp_path / f".q.partial-{dead}-0a1b2c3d"  # another destination's
        for d in (*stale, kept, other):
            (d / "records").mkdir(parents=True)
            (d / "records" / "big.parquet").write_bytes(b"x" * 1000)
        res = cli("run", *TINY, "--out", tmp_path / "r")
        assert res.exit_code == 0, res.output
        assert res.output.count("left by an interrupted run") == 2, res.output
        assert not any(d.exists() for d in stale) and kept.is_dir() and other.is_dir()
    finally:
        live.kill()
        live.wait()


def test_pid_reuse_is_not_mistaken_for_the_original_process() -> None:
    assert fsops.pid_alive(os.getpid(), made_before=time.time())
    # A directory last changed long before this process started was not made by it.
    assert not fsops.pid_alive(os.getpid(), made_before=time.time() - 10 * 86400)
    assert not fsops.pid_alive(_dead_pid())


def test_second_run_into_the_same_place_is_refused_at_once(tmp_path: Path) -> None:
    first = spawn(["run", *SLOW, "--seed", "3", "--out", tmp_path / "r"], cwd=tmp_path)
    try:
        wait_for(lambda: bool(partials(tmp_path)) or first.poll() is not None,
                 what="the first run's temporary directory")
        t0 = time.perf_counter()
        for extra in ([], ["--overwrite"]):
            lines = error_lines(cli("run", *TINY, "--out", tmp_path / "r", *extra))
            assert "another creditsim run" in lines[0] and str(first.pid) in lines[0], lines
        assert time.perf_counter() - t0 < 3.0
        _out, err = first.communicate(timeout=120)
    finally:
        first.kill()
    assert first.returncode == 0, err
    assert seed_of(tmp_path / "r") == 3
    assert leftovers(tmp_path) == ["r"]


def test_lock_is_exclusive_even_when_the_early_check_cannot_see_it(tmp_path: Path) -> None:
    lock = fsops.take_lock(tmp_path / ".r.lock")
    try:
        os.ftruncate(lock.fd, 0)  # no PID to read: only the flock itself can refuse
        with pytest.raises(RunDirError, match="another creditsim run"):
            rundir.RunWriter(tmp_path / "r")
        assert leftovers(tmp_path) == [".r.lock"]
    finally:
        lock.release()
    w = rundir.RunWriter(tmp_path / "r")
    w.abort()
    assert leftovers(tmp_path) == []


def test_overwrite_always_leaves_a_run_in_place(tiny_run: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "r"
    shutil.copytree(tiny_run, out)
    seen: list[bool] = []

    def watch(fn):  # noqa: ANN001, ANN202
        def wrapped(*a, **k):  # noqa: ANN002, ANN003, ANN202
            res = fn(*a, **k)
            seen.append((out / "manifest.json").is_file())
            return res
        return wrapped
    for name in ("rename", "replace"):
        monkeypatch.setattr(os, name, watch(getattr(os, name)))
    if fsops is not None:
        monkeypatch.setattr(fsops, "exchange", watch(fsops.exchange))
    res = cli("run", *TINY, "--seed", "9", "--out", out, "--overwrite")
    monkeypatch.undo()
    assert res.exit_code == 0, res.output
    assert seen and all(seen), seen
    assert seed_of(out) == 9 and leftovers(tmp_path) == ["r"]


def test_overwrite_without_rename_exchange(tiny_run: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "r"
    shutil.copytree(tiny_run, out)
    monkeypatch.setattr(fsops, "RENAMEAT2", None)
    res = cli("run", *TINY, "--seed", "9", "--out", out, "--overwrite")
    assert res.exit_code == 0, res.output
    assert seed_of(out) == 9 and leftovers(tmp_path) == ["r"]


def _killed_at(tmp_path: Path, after: str, seed: str = "9") -> subprocess.Popen[str]:
    """A ``--overwrite`` run without rename-exchange, killed right after the rename
    whose source or target has ``after`` in its name."""
    code = ("import os\nfrom creditsim import fsops\nfsops.RENAMEAT2 = None\n"
            "real = os.rename\n"
            "def rename(a, b, *k, **kw):\n"
            "    real(a, b, *k, **kw)\n"
            f"    if {after!r} in os.fspath(a) + ' ' + os.fspath(b): os._exit(9)\n"
            "os.rename = rename\n"
            "from creditsim.cli import main; main()\n")
    p = spawn(["run", *TINY, "--seed", seed, "--out", tmp_path / "r", "--overwrite"],
              cwd=tmp_path, code=code)
    p.communicate(timeout=120)
    return p


def test_overwrite_killed_between_renames_is_restored(tiny_run: Path, tmp_path: Path) -> None:
    shutil.copytree(tiny_run, tmp_path / "r")
    p = _killed_at(tmp_path, ".old-")
    assert p.returncode == 9
    assert not (tmp_path / "r").exists()  # the window: the old run is parked
    assert len(list(tmp_path.glob(".r.old-*"))) == 1
    lines = error_lines(cli("audit", tmp_path / "r"))
    assert "no such directory" in lines[0]
    res = cli("run", *TINY, "--out", tmp_path / "r")
    assert res.exit_code == 2 and "already holds a run" in res.output, res.output
    assert "restored" in res.output, res.output
    assert seed_of(tmp_path / "r") == 1 and cli("audit", tmp_path / "r").exit_code == 0
    assert leftovers(tmp_path) == ["r"]


def test_overwrite_killed_after_the_swap_removes_the_old_run(tiny_run: Path,
                                                             tmp_path: Path) -> None:
    shutil.copytree(tiny_run, tmp_path / "r")
    p = _killed_at(tmp_path, ".partial-")
    assert p.returncode == 9
    assert seed_of(tmp_path / "r") == 9 and len(list(tmp_path.glob(".r.old-*"))) == 1
    res = cli("run", *TINY, "--out", tmp_path / "r")
    assert res.exit_code == 2 and "removed" in res.output, res.output
    assert seed_of(tmp_path / "r") == 9 and cli("audit", tmp_path / "r").exit_code == 0
    assert leftovers(tmp_path) == ["r"]


def test_run_killed_before_publishing_is_never_read_as_complete(tmp_path: Path) -> None:
    code = ("import os\nfrom creditsim import rundir\n"
            "rundir.RunWriter._put_in_place = lambda self: os._exit(9)\n"
            "from creditsim.cli import main; main()\n")
    p = spawn(["run", *TINY, "--out", tmp_path / "r"], cwd=tmp_path, code=code)
    p.communicate(timeout=120)
    assert p.returncode == 9
    [tmp] = partials(tmp_path)
    m = json.loads((tmp / "manifest.json").read_text(encoding="utf-8"))
    assert m["status"] == "complete"  # all written, only the rename is missing
    for reader in (["audit", tmp], ["report", tmp, "--out", tmp_path / "x.html"]):
        lines = error_lines(cli(*reader))
        assert "unfinished" in lines[0], lines
    res = cli("run", *TINY, "--out", tmp_path / "r")
    assert res.exit_code == 0, res.output
    assert leftovers(tmp_path) == ["r"]


@pytest.mark.fuzz
def test_kill_campaign(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """60 runs, each stopped by a random signal (SIGKILL included) at a random moment:
    a run is either published complete or leaves nothing that the next run into the
    same place does not clear; no traceback once the CLI has started."""
    if "fuzz" not in (request.config.getoption("-m") or ""):
        pytest.skip("opt-in: run with pytest -m fuzz")
    rng = random.Random(21)
    sigs = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL]
    for i in range(60):
        sig, delay = rng.choice(sigs), rng.uniform(0.3, 6.0)
        work = tmp_path / f"k{i}"
        work.mkdir()
        p = spawn(["run", *SLOW, "--out", work / "r"], cwd=work)
        time.sleep(delay)
        p.send_signal(sig)
        out, err = p.communicate(timeout=120)
        where = f"run {i}: {signal.Signals(sig).name} after {delay:.2f} s, rc {p.returncode}"
        print(where, err.strip().splitlines()[-1:])
        if "plan:" not in out:  # stopped before the run began: nothing was made
            assert p.returncode in (-sig, 128 + sig) and leftovers(work) == [], (where, err)
        elif (work / "r").exists():
            assert p.returncode in (0, 128 + sig, -sig), where
            assert cli("audit", work / "r").exit_code == 0, where
        elif sig != signal.SIGKILL and p.returncode == 128 + sig:
            assert "nothing published" in err and leftovers(work) == [], (where, err)
        else:
            assert sig == signal.SIGKILL and p.returncode == -sig, (where, err)
        if sig != signal.SIGKILL and "plan:" in out:
            assert "Traceback" not in err, (where, err)
        res = cli("run", *TINY, "--out", work / "r")
        assert res.exit_code in (0, 2), (where, res.output)
        assert leftovers(work) == ["r"], (where, leftovers(work))
        shutil.rmtree(work)


def test_signal_inside_a_held_section_arrives_after_it() -> None:
    from creditsim import signals

    done = []
    with signals.interruptible() as guard:
        with pytest.raises(signals.Interrupted) as caught:
            with signals.held():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)  # the handler runs here, and only notes the signal
                done.append("finished")
    assert done == ["finished"] and caught.value.signum == signal.SIGTERM
    assert guard.signal == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored


def test_a_swallowed_signal_still_stops_publication(tmp_path: Path) -> None:
    from creditsim import signals

    with signals.interruptible():
        w = rundir.RunWriter(tmp_path / "r")
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
        except signals.Interrupted:
            pass  # as a library that turns it into an error of its own and goes on
        with pytest.raises(signals.Interrupted):
            try:
                w.publish({})
            except BaseException:
                w.abort()
                raise
    assert leftovers(tmp_path) == []


def test_signal_after_publishing_says_the_run_is_complete(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    import creditsim.cli as cli_module

    def summary(_manifest: dict, _out: Path) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)
    monkeypatch.setattr(cli_module, "_summary", summary)
    res = cli("run", *TINY, "--out", tmp_path / "r")
    assert res.exit_code == 128 + signal.SIGTERM, res.output
    assert "already complete" in res.output and "nothing published" not in res.output
    assert cli("audit", tmp_path / "r").exit_code == 0
    assert leftovers(tmp_path) == ["r"]
