"""``creditsim.sweep(spec, out)`` and ``creditsim.open_sweep(DIR)``.

::

    import creditsim
    sw = creditsim.sweep("examples/sweeps/court-id-errors.toml", out="sweeps/court")
    sw.index                  # polars.DataFrame: one row per job (docs/sweep.md)
    sw.values                 # long frame: job, arm, point, replicate, metric, value
    sw.summary()              # per arm: n, mean, sd, median, p10, p90, mcse
    sw.differences()          # paired B − A with t-based 95 % intervals
    sw.pooled_groups()        # the audit's group rates pooled over replicates
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from creditsim import signals
from creditsim.audit.stats import Thresholds
from creditsim.errors import Problem
from creditsim.sweep import store
from creditsim.sweep.runner import TASKS_PER_WORKER, Outcome, PoolOptions, Task, run_tasks
from creditsim.sweep.spec import Job, Spec, read_spec
from creditsim.sweep.summary import arm_summary, differences, values_frame


@dataclass(frozen=True)
class Options:
    """How to run a sweep (not what it computes)."""

    workers: int = 1
    resume: bool = False
    expand: bool = False
    tasks_per_worker: int = TASKS_PER_WORKER


@dataclass(frozen=True)
class Plan:
    """What a start of the sweep will do: the spec, and the jobs still to run."""

    spec: Spec
    todo: tuple[Job, ...]
    done: int


class Sweep:
    """A sweep directory: its index and figures as Polars frames."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.doc = store.read_sweep_doc(self.path)
        self._values: pl.DataFrame | None = None

    def __repr__(self) -> str:
        st = self.index["status"].value_counts(sort=True)
        counts = ", ".join(f"{s} {n}" for s, n in st.iter_rows())
        return f"Sweep({str(self.path)!r}: {self.index.height} jobs, {counts})"

    @property
    def index(self) -> pl.DataFrame:
        try:
            return pl.read_parquet(self.path / store.INDEX)
        except FileNotFoundError:
            raise store.SweepError(Problem(
                "no index yet (the sweep was killed before its first index): run it "
                "again with --resume", str(self.path))) from None

    @property
    def values(self) -> pl.DataFrame:
        if self._values is None:
            self._values = values_frame(self.path, self.index)
        return self._values

    def summary(self) -> pl.DataFrame:
        return arm_summary(self.values)

    def differences(self) -> pl.DataFrame:
        return differences(self.values)

    def pooled(self, thresholds: Thresholds | None = None,
               reference: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The audit's group tables pooled over replicates (:mod:`creditsim.sweep.pooled`),
        with the audits' thresholds and reference groups unless these are given."""
        from creditsim.sweep.pooled import pooled

        return pooled(self.path, self.index, thresholds, reference)

    def pooled_groups(self) -> pl.DataFrame:
        """:meth:`pooled` as one row per arm, point, grouping, group and metric."""
        from creditsim.sweep.pooled import pooled_frame

        return pooled_frame(self.pooled())

    def compare(self, metrics: Callable[[str], bool] = lambda m: True) -> dict[str, Any]:
        """Each figure per arm (and design point) over the replicates, and the paired
        differences of every other arm against the first (``creditsim compare DIR``)."""
        d = self.differences()
        return {"schema": "creditsim.compare.sweep/1", "sweep": str(self.path),
                "arms": [a for a in self.index["arm"].unique(maintain_order=True)],
                "figures": select(self.summary(), metrics).to_dicts(),
                "differences": select(d.filter(pl.col("a_index") == 0), metrics).to_dicts()}

    def to_json(self, metrics: Callable[[str], bool] = lambda m: True) -> dict[str, Any]:
        """Index, per-arm summary and paired differences as JSON-ready rows."""
        idx = self.index
        return {"schema": "creditsim.sweep.summary/1", "sweep": str(self.path),
                "jobs": {s: n for s, n in idx["status"].value_counts().sort("status")
                         .iter_rows()},
                "arms": select(self.summary(), metrics).to_dicts(),
                "differences": select(self.differences(), metrics).to_dicts()}


def select(frame: pl.DataFrame, metrics: Callable[[str], bool]) -> pl.DataFrame:
    """The rows of ``frame`` whose metric passes ``metrics``."""
    names = [m for m in frame["metric"].unique(maintain_order=True).to_list() if metrics(m)]
    return frame.filter(pl.col("metric").is_in(names))


def open_sweep(path: str | Path) -> Sweep:
    """Open a sweep directory made by ``creditsim sweep`` (finished or not)."""
    return Sweep(path)


def plan(spec: Spec, root: Path) -> Plan:
    todo = tuple(j for j in spec.jobs if store.status(root, j) != "done")
    return Plan(spec, todo, len(spec.jobs) - len(todo))


def run_sweep(spec: str | Path | Mapping[str, Any] | Spec, out: str | Path,
              options: Options = Options(),
              on_start: Callable[[Plan], None] = lambda p: None,
              on_done: Callable[[Outcome], None] = lambda o: None) -> Sweep:
    """Validate ``spec``, then run every job not yet done into ``out`` (see
    :mod:`creditsim.sweep.store` for what ``resume`` and ``expand`` allow). The index
    is rewritten at the end, also when the sweep is interrupted."""
    sp = spec if isinstance(spec, Spec) else read_spec(spec)
    root = Path(out)
    lock = store.prepare(root, sp, options.resume, options.expand)
    try:
        store.remove_stale(root)
        store.write_sweep_doc(root, sp)
        p = plan(sp, root)
        store.clear_failed(root, p.todo)
        on_start(p)
        tasks = [_task(root, sp, j) for j in p.todo]
        try:
            run_tasks(tasks, PoolOptions(options.workers, options.tasks_per_worker), on_done,
                      lambda pids: store.remove_stale(root, gone=pids))
        finally:
            with signals.held():
                store.write_index(root, sp)
    finally:
        lock.release()
    return Sweep(root)


def _task(root: Path, spec: Spec, j: Job) -> Task:
    meta = {"arm": j.arm, "point": j.point, "replicate": j.replicate, "seed": j.seed,
            "values": j.values}
    return Task(str(root), j.rel, j.key, json.loads(json.dumps(meta)),
                j.config.model_dump(mode="json"), spec.keep == "tables", spec.by)
