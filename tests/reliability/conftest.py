"""Fixtures of the reliability suite: tiny real runs made once, copied per test."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from .helpers import TINY, cli


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "run"
    res = cli("run", *TINY, "--out", out)
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="session")
def other_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same size as ``tiny_run``, another seed."""
    out = tmp_path_factory.mktemp("tiny") / "other"
    res = cli("run", *TINY, "--seed", "2", "--out", out)
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture
def copy_run(tiny_run: Path, tmp_path: Path) -> Callable[[str], Path]:
    def make(name: str = "run") -> Path:
        dst = tmp_path / name
        shutil.copytree(tiny_run, dst)
        return dst
    return make
