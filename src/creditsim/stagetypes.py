"""What a pipeline stage is handed and returns: the run context, the stage
input and output, the typed handoffs between stages, and the stage record itself.
The plan and the loop over it are in :mod:`creditsim.pipeline`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import polars as pl

from creditsim.cities import CityProfile
from creditsim.config import RunConfig
from creditsim.linkage import RegisterPrep
from creditsim.modelset import Models, build_models
from creditsim.platform import Step
from creditsim.policy import LoadedPolicy

Tables = Mapping[str, pl.DataFrame]
Progress = Callable[[str, float], None]
T = TypeVar("T")


@dataclass
class RunContext:
    """What every stage may use besides its input: the configuration, the model
    parameters, where the run is written (its directories and the writer's two
    functions), the background executor and the progress callback. No stage
    leaves anything here for another: that goes in its StageOutput."""

    config: RunConfig
    workdir: Path
    progress: Progress
    run_dir: Path  # the run's temp directory, for documents besides tables
    #: Every stage's model; None: the configuration's (modelset.build_models).
    models: Models | None = None
    #: The policy, read and validated once (read_policy): the platform stage scores
    #: with it and keeps its exact bytes as policy.toml (None: read when needed).
    policy: LoadedPolicy | None = None
    #: Writes a table to the run's scratch area (RunWriter.write_scratch).
    spill: Callable[[str, pl.DataFrame], Path] | None = None
    #: Writes an output table of the run right away (a stage that makes big tables
    #: one after another hands each over as soon as it exists; RunWriter.write_table).
    emit: Callable[[str, pl.DataFrame], None] | None = None
    #: Runs work beside the stages (None: everything on the calling thread).
    background: ThreadPoolExecutor | None = None

    def __post_init__(self) -> None:
        if self.models is None:
            self.models = build_models(self.config)

    @property
    def m(self) -> Models:
        assert self.models is not None
        return self.models

    @property
    def city(self) -> CityProfile:
        return self.m.city

    @property
    def start_date(self) -> dt.date:
        """Day 0 of the stages: the first simulated day, ``burn_in_days`` before the
        configuration's start date. Stages count days from it; the run shifts every
        day column it writes (rundays.DAY_COLUMNS) so that tables count from the
        configuration's start date."""
        return self.config.simulated_start

    @property
    def days(self) -> int:
        """Days the stages simulate: the burn-in and the results window."""
        return self.config.simulated_days


@dataclass(frozen=True)
class Deferred(Generic[T]):
    """A value being made in the background thread: ``result()`` waits for it and
    gives (value, seconds it took). ``step`` names the step its seconds are
    reported under, in the stage that made it (for a document)."""

    future: Future
    step: str | None = None

    def result(self) -> tuple[T, float]:
        return self.future.result()


@dataclass(frozen=True)
class Spilled:
    """A department's candidate-record columns the platform loop does not hold,
    kept on scratch disk: the file and the full table's schema."""

    path: Path
    schema: dict[str, pl.DataType]


@dataclass(frozen=True)
class Handoffs:
    """Values a stage hands later stages besides tables. A stage takes and gives
    the fields its :class:`Stage` names; the run drops each after its last taker."""

    #: linkage's index of the register (linkage.prepare_register of the residents)
    register_index: Deferred[RegisterPrep] | None = None
    #: residents per demand cell (services.resident_cells of the residents)
    demand_cells: Deferred[pl.DataFrame] | None = None
    #: department → its candidate-record columns on scratch disk
    spilled: Mapping[str, Spilled] = field(default_factory=dict)


#: A JSON document a stage made, or is making in the background.
Document = dict[str, Any] | Deferred[dict[str, Any]]


@dataclass(frozen=True)
class StageInput:
    """What a stage is handed: the tables it reads (in a dict it owns) and the
    handoffs it takes."""

    tables: dict[str, pl.DataFrame]
    handoffs: Handoffs = field(default_factory=Handoffs)


@dataclass(frozen=True)
class StageOutput:
    """What a stage returns: its tables, the documents it made (file name →
    document), seconds per step inside it, and the handoffs it gives."""

    tables: dict[str, pl.DataFrame]
    documents: dict[str, Document] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)
    handoffs: Handoffs = field(default_factory=Handoffs)


@dataclass(frozen=True)
class Stage:
    """One pipeline stage: a name, the tables it reads and writes, its function,
    the handoffs it takes and gives, and the named steps inside it (printed with
    the plan)."""

    name: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    fn: Callable[[RunContext, StageInput], StageOutput]
    doc: str
    takes: tuple[str, ...] = ()
    gives: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()
