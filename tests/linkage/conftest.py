"""Linkage fixtures: one linkage run of the shared 60k-resident city."""

from __future__ import annotations

import polars as pl
import pytest

from creditsim.linkage import LinkageResult, link_records


def register_of(residents: pl.DataFrame) -> pl.DataFrame:
    """What the platform is given: the residents table minus ground truth."""
    return residents.select([c for c in residents.columns if not c.startswith("truth")])


@pytest.fixture(scope="session")
def register(small_run: dict) -> pl.DataFrame:
    return register_of(small_run["residents"])


@pytest.fixture(scope="session")
def linked(small_run: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("linkage")
    res: LinkageResult = link_records(
        small_run["records"],
        register_of(small_run["residents"]),
        seed=3,
        workdir=base / "work",
        charts_dir=base / "charts",
    )
    return {"result": res, "base": base, "workdir": base / "work", "charts_dir": base / "charts"}
