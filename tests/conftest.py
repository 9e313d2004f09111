"""Shared fixtures: small synthetic cities built once per session, and the rule that
tests write only inside pytest's temporary directories."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pytest
from hypothesis import settings
from typer.testing import CliRunner

from creditsim.behaviour import generate_events
from creditsim.cities import BEIJING
from creditsim.cli import app
from creditsim.devtools import baseline as bl
from creditsim.population.synth import synthesize
from creditsim.records import build_records

START = dt.date(2021, 1, 1)

# Hypothesis profiles (tests/budget.py): "ci" by default, "thorough" (every budgeted
# test's full example count) with -m fuzz or CREDITSIM_HYPOTHESIS=thorough. No
# per-example deadline: on a shared 2-core machine one example can take ten times its
# usual time, and a timing is not what these tests check.
settings.register_profile("ci", deadline=None)
settings.register_profile("thorough", deadline=None)
settings.load_profile("ci")

#: The suite's time targets on 2 cores (docs/development.md), by ``-m`` expression.
TIME_TARGETS = {"": ("whole suite", 180.0), "not slow": ("fast subset", 60.0)}
_STARTED = pytest.StashKey[float]()


def pytest_configure(config: pytest.Config) -> None:
    thorough = "fuzz" in (config.getoption("-m") or "") \
        or os.environ.get("CREDITSIM_HYPOTHESIS") == "thorough"
    settings.load_profile("thorough" if thorough else "ci")
    config.stash[_STARTED] = time.monotonic()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config  # noqa: ANN001
                            ) -> None:
    """The session's duration, against its target when the whole suite or the fast
    subset ran (printed, never a failure: the machine may be shared)."""
    if _STARTED not in config.stash or config.getoption("collectonly"):
        return
    took = time.monotonic() - config.stash[_STARTED]
    line = f"suite time: {took:.0f} s"
    target = TIME_TARGETS.get((config.getoption("-m") or "").strip())
    whole = config.args_source == pytest.Config.ArgsSource.TESTPATHS \
        and not config.getoption("keyword")
    if target is not None and whole:
        name, limit = target
        line += (f", {'within' if took <= limit else 'OVER'} the {name}'s target of "
                 f"{limit:.0f} s on 2 cores")
    profile = settings.get_current_profile_name()
    terminalreporter.write_line(f"{line} (hypothesis profile {profile!r})")


@pytest.fixture(scope="session", autouse=True)
def _verification_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Digests of verified runs go to a temporary cache, not the user's."""
    os.environ.setdefault("CREDITSIM_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def city_200k() -> pl.DataFrame:
    """About 1:110 Beijing — large enough for tolerance tests on shares."""
    return synthesize(BEIJING, 200_000, 7, START)


@pytest.fixture(scope="session")
def small_run() -> dict:
    """Residents, events and records of a 60k-resident city over a year."""
    r = synthesize(BEIJING, 60_000, 11, START)
    ev = generate_events(r, seed=11, days=365, start_date=START)
    recs = build_records(ev, r, seed=11, days=365, start_year=2021)
    return {"residents": r, "events": ev, "records": recs}


#: A baseline case's run directory and what ``creditsim run`` printed for it.
BaselineRun = Callable[[str], tuple[Path, str]]


def _run_flags(s: dict) -> list[str]:
    """``creditsim run`` options for a baseline case's settings."""
    flags = ["--residents", str(s["residents"]), "--days", str(s["days"]),
             "--seed", str(s["seed"])]
    if "burn_in_days" in s:
        flags += ["--burn-in-days", str(s["burn_in_days"])]
    if "policy" in s:
        flags += ["--policy", s["policy"]]
    if s.get("feedback") is False:
        flags.append("--no-feedback")
    assert set(s) <= {"residents", "days", "burn_in_days", "seed", "policy", "feedback"}, s
    return flags


@pytest.fixture(scope="session")
def baseline_run(tmp_path_factory: pytest.TempPathFactory) -> BaselineRun:
    """The run of a baseline case (creditsim.devtools.baseline.CASES) by name, made
    once per session through the CLI, and its printed summary. The baseline test
    fingerprints it; tests that need a run of the same settings (a warm two-year
    city) read it instead of making their own. Readers must not write into it."""
    made: dict[str, tuple[Path, str]] = {}

    def get(name: str) -> tuple[Path, str]:
        if name not in made:
            case = next(c for c in bl.CASES if c.name == name)
            out = tmp_path_factory.mktemp("baseline") / name
            res = CliRunner().invoke(app, ["run", *_run_flags(case.settings()), "--quiet",
                                           "--out", str(out)], env={"COLUMNS": "200"})
            assert res.exit_code == 0, res.output
            made[name] = (out, res.output)
        return made[name]

    return get


# --- Tests write only inside pytest's temporary directories ---------------------------

ROOT = Path(__file__).resolve().parents[1]
#: What running tests leaves in the repository by design (caches, Hypothesis's database).
_REPO_LEFTOVERS = (".hypothesis", ".pytest_cache", "__pycache__", ".egg-info", ".pyc",
                   ".ruff_cache", ".mypy_cache")


def _repo_status() -> set[str] | None:
    """Every untracked, ignored or changed path of the repository (``git status``), or
    None when this is not a git checkout."""
    try:
        done = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain=v1", "-z",
                               "--ignored", "--untracked-files=normal"],
                              capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return {e for e in done.stdout.split("\0")
            if e and not any(part in e for part in _REPO_LEFTOVERS)}


@pytest.fixture(scope="session", autouse=True)
def _writes_stay_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Temporary files of the code under test (``tempfile``, child processes' ``TMPDIR``)
    go to pytest's base temporary directory, and the session fails if the repository
    has new or changed files at its end. ``tests/test_readme.py`` checks that no test
    names an absolute path of its own."""
    scratch = tmp_path_factory.mktemp("tempfile")
    old_env, old_dir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = str(scratch), str(scratch)
    before = _repo_status()
    try:
        yield
    finally:
        tempfile.tempdir = old_dir
        if old_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old_env
    after = _repo_status()
    if before is not None and after is not None and after - before:
        new = ", ".join(sorted(e[3:] for e in after - before))
        pytest.fail(f"the test session wrote into the repository: {new} (tests write "
                    "only under tmp_path; or was a file edited while the tests ran?)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``fuzz`` tests are opt-in: they run only when ``-m`` names them (``-m fuzz``)."""
    if "fuzz" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="opt-in: run with pytest -m fuzz")
    for item in items:
        if item.get_closest_marker("fuzz"):
            item.add_marker(skip)
