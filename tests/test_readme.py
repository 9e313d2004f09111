"""README.md tells the truth: every command in it works, and its performance figures
are the ones the committed results give.

The fenced ``bash`` blocks run in order in a temporary directory (the README's
``runs/...`` paths land there), small. Substitution rules:

* set-up (``python3 -m venv``, ``.venv/bin/pip install``) is not run: the extras it
  names must exist in ``pyproject.toml``, and the set-up-and-test line must be the one
  ``.ci/run`` runs, verbatim;
* ``.venv/bin/creditsim ARGS`` runs the CLI in-process; ``creditsim run`` gets
  ``--residents 5000 --days 30`` (replacing the README's sizes, or added) when a later
  command reads its run (5,000 so that the README's ``--resident 4762`` exists), else
  ``--residents 500 --days 30``;
* ``.venv/bin/python -m pytest`` is this suite: not run from inside it;
* ``benchmarks/bench.py`` runs in-process with ``--residents 2000 --days 7 --peer
  2000x5 --results <tmp>`` and a stand-in for one pipeline run (``run_one``, which
  ``tests/test_bench_smoke.py`` runs for real): the command line, the configurations it
  names, the peer comparison and the result files are what is tested;
* ``benchmarks/readme_table.py`` runs against a copy of README.md, which must come out
  unchanged;
* ``creditsim sweep SPEC`` gets ``--residents 300 --replicates 1``;
* files a command reads that no README command makes are provided: ``my-policy.toml``
  is the ``spc-list`` preset, ``examples/`` the repository's.

The ``python`` block of the tour (DuckDB) runs after the shell blocks; the Python API
block is run by ``tests/audit/test_api.py``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from creditsim.cli import app
from creditsim.policy import preset_text

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RUN_SIZE = {"--residents": "5000", "--days": "30"}
SWEEP_SIZE = {"--residents": "300", "--replicates": "1"}
#: The size of a run no later README command reads.
UNREAD_RUN_SIZE = {"--residents": "500", "--days": "30"}
BENCH_SIZE = {"--residents": "2000", "--days": "7", "--peer": "2000x5"}


def _module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def readme_commands() -> list[list[str]]:
    """Every simple command of the README's bash blocks, in order (``a && b`` is two)."""
    out: list[list[str]] = []
    for block in _blocks("bash"):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            cmd: list[str] = []
            for w in [*words, "&&"]:
                if w == "&&":
                    if cmd:
                        out.append(cmd)
                    cmd = []
                else:
                    cmd.append(w)
    return out


def sized(args: list[str], size: dict[str, str]) -> list[str]:
    """``args`` with each option of ``size`` set to its value (replaced or added)."""
    out = list(args)
    for opt, value in size.items():
        if opt in out:
            out[out.index(opt) + 1] = value
        else:
            out += [opt, value]
    return out


def test_setup_commands_are_the_ones_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    lines = [ln.split("#")[0].strip() for b in _blocks("bash") for ln in b.splitlines()]
    test_line = next(ln for ln in lines if ln.endswith("-m pytest"))
    assert test_line in ci.splitlines()
    extras = set(re.findall(r'^(\w+) = \[', (ROOT / "pyproject.toml").read_text(), re.M))
    for cmd in readme_commands():
        if cmd[0].endswith("/pip"):
            spec = next(a for a in cmd[1:] if a.startswith("."))
            wanted = set(re.fullmatch(r"\.(?:\[(.*)\])?", spec).group(1).split(","))
            assert wanted <= extras, cmd


def test_readme_performance_figures_are_generated_from_the_results() -> None:
    table = _module(ROOT / "benchmarks" / "readme_table.py")
    text = README.read_text(encoding="utf-8")
    assert table.apply(text, table.render()) == text, (
        "README.md's performance figures differ from benchmarks/results: "
        "run benchmarks/readme_table.py")


def test_readme_table_follows_a_new_result(tmp_path: Path) -> None:
    """The check above can fail: a changed result changes the generated block."""
    table = _module(ROOT / "benchmarks" / "readme_table.py")
    results = tmp_path / "results"
    shutil.copytree(ROOT / "benchmarks" / "results", results)
    doc = json.loads((results / "b1m.json").read_text())
    doc["wall_seconds"] = 99.5
    (results / "b1m.json").write_text(json.dumps(doc))
    text = README.read_text(encoding="utf-8")
    new = table.apply(text, table.render(results))
    assert new != text and "| 99.5 s |" in new
    copy = tmp_path / "README.md"
    copy.write_text(text, encoding="utf-8")
    assert table.main(["--check", "--results", str(results), "--readme", str(copy)]) == 1
    assert table.main(["--results", str(results), "--readme", str(copy)]) == 0
    assert copy.read_text(encoding="utf-8") == new


class _Bench:
    """``benchmarks/bench.py`` in-process, with a stand-in for one pipeline run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.mod = _module(ROOT / "benchmarks" / "bench.py")
        self.asked: list[tuple[str, dict]] = []

        def run_one(name: str, cfg: dict, workdir: Path) -> dict:
            self.asked.append((name, cfg))
            return {"name": name, "config": cfg, "wall_seconds": 1.0, "peak_rss_gb": 0.5,
                    "stages": [{"stage": "population", "seconds": 0.5}],
                    "resident_days_per_second": cfg["residents"] * cfg["days"]}

        monkeypatch.setattr(self.mod, "run_one", run_one)
        self.monkeypatch = monkeypatch

    def __call__(self, args: list[str], results: Path) -> None:
        self.monkeypatch.setattr(sys, "argv", ["bench.py", *sized(args, BENCH_SIZE),
                                               "--results", str(results)])
        self.mod.main()


@pytest.mark.slow
def test_every_readme_command_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-policy.toml").write_text(preset_text("spc-list"), encoding="utf-8")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    runner, bench = CliRunner(), _Bench(monkeypatch)
    readme_copy = tmp_path / "README.md"
    shutil.copy(README, readme_copy)
    ran = []
    commands = readme_commands()
    for at, cmd in enumerate(commands):
        prog, args = cmd[0], cmd[1:]
        if prog == "python3" and args[:2] == ["-m", "venv"] or prog.endswith("/pip"):
            continue  # set-up: test_setup_commands_are_the_ones_ci_runs
        if prog.endswith("/creditsim"):
            args = sized(args, RUN_SIZE) if args[0] == "run" else args
            if args[0] == "sweep" and args[1] != "summary":
                args = sized(args, SWEEP_SIZE)
            if args[0] == "run":
                out = args[args.index("--out") + 1]
                read = any(out in later for later in commands[at + 1:])
                args = sized(args, RUN_SIZE if read else UNREAD_RUN_SIZE)
            res = runner.invoke(app, args)
            assert res.exit_code == 0, f"{shlex.join(cmd)}\n{res.output}"
        elif prog.endswith("/python") and args[:2] == ["-m", "pytest"]:
            continue  # this suite
        elif prog.endswith("/python") and args[0] == "benchmarks/bench.py":
            bench(args[1:], tmp_path / "results")
        elif prog.endswith("/python") and args[0] == "benchmarks/readme_table.py":
            table = _module(ROOT / args[0])
            assert table.main([*args[1:], "--readme", str(readme_copy)]) == 0
            assert readme_copy.read_text(encoding="utf-8") == README.read_text(encoding="utf-8")
        else:
            pytest.fail(f"README command not covered by this test: {shlex.join(cmd)}")
        ran.append(cmd)
    for code in _blocks("python")[:-1]:  # the last is the Python API (test_api.py)
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102
    for run in ("beijing", "full", "spc", "nofb", "errors", "nofb-small"):
        assert json.loads((tmp_path / "runs" / run / "manifest.json").read_text())[
            "status"] == "complete", run
    assert (tmp_path / "report.html").stat().st_size > 100_000
    # bench.py: every configuration but smoke, then b1m, then full three times
    assert [n for n, _ in bench.asked] == ["b100k", "b1m", "b5m", "full", "b1m",
                                           "full", "full", "full"]
    assert all((c["residents"], c["days"]) == (2000, 7) for _, c in bench.asked)
    for name in ("b100k", "b1m", "b5m", "full", "peer"):
        doc = json.loads((tmp_path / "results" / f"{name}.json").read_text())
        assert doc["date"] and doc["commit"], name
    assert len(ran) >= 15


def test_no_test_names_an_absolute_temporary_path() -> None:
    """Tests write under ``tmp_path`` only; a literal ``/tmp`` (or another absolute
    scratch path) in a test would write beside other people's files."""
    pattern = re.compile(r"""["'](/tmp|/var/tmp|/dev/shm)\b""")
    bad = [f"{p.relative_to(ROOT)}:{i}" for p in sorted((ROOT / "tests").rglob("*.py"))
           for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
           if pattern.search(line)]
    assert not bad, f"absolute temporary paths in tests: {bad}"
