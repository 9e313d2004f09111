"""The pipeline: one explicit, documented loop over the stages.

Stage order (each stage is a function of typed tables to typed tables; data
flows one way; every table is written to the run directory as soon as it exists):

1. ``population`` — the synthetic city → ``residents``
2. ``behaviour``  — what residents really do (truth) → ``events``
3. ``records``    — each department's database → ``records/<department>``
4. ``linkage``    — the platform links records to residents (+ Splink's charts)
5. ``platform``   — the loop (:mod:`creditsim.loop`): policy → services →
   appeals and repayment → behavioural feedback, iterated to its fixed point →
   ``events``, ``records/*``, ``links``, ``ledger``, ``scores``, ``list_spells``,
   ``decisions``, ``demand``, ``appeals`` (+ ``linkage.json``, ``loop.json``)

Tables named ``_name`` live in memory only: the behaviour stage draws
*candidate* events (feedback later thins them), records and links are made for
every candidate, and the platform stage writes the ones that happened. The
platform's own steps (linkage, policy, service decisions) never see a
``truth_*`` column (:func:`platform_view`); the evaluation modules that label
sanctions as wrongful do, by design. ``creditsim run`` prints the plan and each stage's
time; the manifest keeps both.
"""

from __future__ import annotations

import datetime as dt
import platform
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import psutil

from creditsim import __version__
from creditsim.behaviour import BehaviourModel, generate_events
from creditsim.cities import CITIES
from creditsim.config import RunConfig
from creditsim.loop import STREAM_COLUMNS, LoopModels, linked_records, platform_view  # noqa: F401
from creditsim.params import provenance
from creditsim.population.households import HouseholdModel
from creditsim.population.synth import PersonModel, synthesize
from creditsim.records import DEFAULT_DEPARTMENTS, build_records
from creditsim.rundir import RunWriter

Tables = Mapping[str, pl.DataFrame]
Progress = Callable[[str, float], None]


@dataclass
class RunContext:
    """What every stage may use besides its input tables (no hidden state)."""

    config: RunConfig
    workdir: Path
    progress: Progress
    run_dir: Path  # the run's temp directory, for documents besides tables
    #: JSON documents to write (a Future of (document, seconds) if made in the
    #: background; see BACKGROUND_STEPS)
    documents: dict[str, Any] = field(default_factory=dict)
    household_model: HouseholdModel = field(default_factory=HouseholdModel)
    person_model: PersonModel = field(default_factory=PersonModel)
    behaviour_model: BehaviourModel = field(default_factory=BehaviourModel)
    departments: tuple = DEFAULT_DEPARTMENTS
    loop_models: LoopModels = field(default_factory=lambda: LoopModels())
    #: Writes a table to the run's scratch area (RunWriter.write_scratch).
    spill: Callable[[str, pl.DataFrame], Path] | None = None
    #: Full candidate-record tables kept on scratch disk: department → (file, schema).
    spilled: dict[str, tuple[Path, dict[str, pl.DataType]]] = field(
        default_factory=dict)
    #: Writes an output table of the run right away (a stage that makes big tables
    #: one after another hands each over as soon as it exists; RunWriter.write_table).
    emit: Callable[[str, pl.DataFrame], None] | None = None
    #: Seconds per step inside a stage (stage name → {step: seconds}), for the manifest.
    step_seconds: dict[str, dict[str, float]] = field(default_factory=dict)
    #: The register indexed for linkage (:func:`creditsim.linkage.prepare_register`,
    #: a pure function of the residents table), built in a background thread while
    #: the behaviour and records stages run; the linkage stage takes it.
    register_prep: Future | None = None
    #: City-wide service demand per day (services.demand_totals, a function of the
    #: residents and the seed), computed in the background like ``register_prep``.
    demand_totals: Future | None = None
    #: Runs work beside the stages (None: everything on the calling thread).
    background: ThreadPoolExecutor | None = None

    @property
    def city(self):  # noqa: ANN201 - CityProfile
        return CITIES[self.config.preset]

    @property
    def start_date(self) -> dt.date:
        assert self.config.start_date is not None
        return self.config.start_date


@dataclass(frozen=True)
class Stage:
    """One pipeline stage: a name, the tables it reads and writes, its function."""

    name: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    fn: Callable[[RunContext, Tables], dict[str, pl.DataFrame]]
    doc: str


def _population(ctx: RunContext, _t: Tables) -> dict[str, pl.DataFrame]:
    c = ctx.config
    df = synthesize(ctx.city, c.residents, c.seed, ctx.start_date, ctx.household_model,
                    ctx.person_model, progress=lambda _m, f: ctx.progress("population", f))
    if ctx.background is not None:
        from creditsim.linkage import prepare_register
        from creditsim.services import demand_totals

        # Linkage's index of the register and the city-wide demand depend on the
        # residents alone: built beside the next two stages, which leave part of the
        # machine idle (their work between parallel sections is single-threaded).
        # Each job gets its own frame object (the same column buffers): Polars locks
        # each Python-side frame, and a frame used from two threads at once can
        # deadlock (one thread holds the frame's read lock waiting for the GIL, the
        # other holds the GIL waiting to lock the frame, e.g. in ``to_arrow``).
        ctx.background.submit(_lower_priority)
        ctx.register_prep = ctx.background.submit(_timed, partial(prepare_register, df.clone()))
        ctx.demand_totals = ctx.background.submit(
            demand_totals, df.clone(), seed=c.seed, days=c.days, start_date=ctx.start_date)
    return {"residents": df}


def _lower_priority() -> None:
    """Lower the calling thread's scheduling priority (Linux: per thread), so the
    background thread takes the cores the stages leave idle, not theirs."""
    import os
    import threading

    if not sys.platform.startswith("linux"):  # elsewhere the id would name a process
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except OSError:  # not permitted: no harm
        pass


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()`` and the seconds it took (for work done in the background)."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _behaviour(ctx: RunContext, t: Tables) -> dict[str, pl.DataFrame]:
    """Candidate events: every kind at its full rate, plus "boost" candidates for
    kinds people can do more of (see :mod:`creditsim.feedback`)."""
    from creditsim.feedback import BOOSTABLE

    c = ctx.config
    base = generate_events(t["residents"], seed=c.seed, days=c.days, start_date=ctx.start_date,
                           model=ctx.behaviour_model, chunk_residents=c.chunk_residents,
                           progress=lambda f: ctx.progress("behaviour", 0.8 * f))
    cand = [base.with_columns(pl.lit(False).alias("boost"))]
    fb = ctx.loop_models.feedback
    if fb.enabled and fb.max_boost > 1.0:
        kinds = tuple(k for k in ctx.behaviour_model.kinds if k.kind in BOOSTABLE)
        mult = {k.kind: np.full(t["residents"].height, fb.max_boost - 1.0) for k in kinds}
        boost = generate_events(
            t["residents"], seed=c.seed, days=c.days, start_date=ctx.start_date,
            model=BehaviourModel(kinds=kinds, court=ctx.behaviour_model.court),
            chunk_residents=c.chunk_residents, multipliers=mult, stream_tag=".boost",
            event_id_offset=base.height)
        cand.append(boost.with_columns(pl.lit(True).alias("boost")))
    ctx.progress("behaviour", 1.0)
    return {"_candidates": pl.concat(cand)}


def _records(ctx: RunContext, t: Tables) -> dict[str, pl.DataFrame]:
    c = ctx.config
    recs = build_records(t["_candidates"].drop("boost"), t["residents"], seed=c.seed,
                         days=c.days, start_year=ctx.start_date.year,
                         departments=ctx.departments,
                         district_codes=ctx.city.district_codes.value,
                         progress=lambda f: ctx.progress("records", f))
    if ctx.spill is not None:
        # The columns the platform loop does not hold go to scratch disk; in memory
        # stay the columns that linkage and the loop read (the platform drops
        # linkage's identity columns in turn). The final records/<department> tables
        # are the loop's columns of the records that happened beside these files'.
        from creditsim.linkage.schema import RECORD_IDENTITY

        wanted = set(RECORD_IDENTITY) | set(LOOP_RECORD_COLUMNS)
        for d in list(recs):
            if d != "court":  # the loop reads every court column (repayment records)
                df = recs[d]
                rest = [c for c in df.columns if c not in LOOP_RECORD_COLUMNS]
                ctx.spilled[d] = (ctx.spill(f"records/{d}.parquet", df.select(rest)),
                                  dict(df.schema))
                recs[d] = df.select([c for c in df.columns if c in wanted])
    return {f"_records/{d}": df for d, df in recs.items()}


def _linkage(ctx: RunContext, t: Tables) -> dict[str, pl.DataFrame]:
    """Link every candidate record once. A record's link depends only on the record
    and the register, so the loop can select the records that happen without
    linking again, and policies compared on one seed see the same links."""
    from creditsim.linkage import link_records

    c = ctx.config
    records = {k.removeprefix("_records/"): v for k, v in t.items()
               if k.startswith("_records/")}
    # DuckDB's share is capped at 3 GB: the register, candidates and records are
    # alive beside it, and the whole run should stay near 12 GB (measurements.md).
    prep, prep_secs, waited = None, None, 0.0
    if ctx.register_prep is not None:
        t0 = time.perf_counter()
        prep, prep_secs = ctx.register_prep.result()
        ctx.register_prep = None
        waited = time.perf_counter() - t0
    res = link_records(records, t["residents"], seed=c.seed, threshold=c.linkage_threshold,
                       workdir=ctx.workdir / "linkage", charts_dir=ctx.run_dir / "charts",
                       preset=c.preset, memory_limit="3GB", prep=prep,
                       defer_metrics=ctx.background is not None)
    if res.measure is not None:  # deferred: there is a background thread
        # The metrics document (about 4 s of work at city scale) is computed beside
        # the platform stage, whose work leaves part of the machine idle.
        assert ctx.background is not None
        ctx.documents["linkage.json"] = ctx.background.submit(_timed, res.measure)
    else:
        ctx.documents["linkage.json"] = res.metrics
    # "prepare" includes the wait for the background index, whose own seconds are
    # reported beside it.
    res.timings["prepare"] += waited
    if prep_secs is not None:
        res.timings["register_index_background"] = prep_secs
    ctx.step_seconds["linkage"] = res.timings
    ctx.progress("linkage", 1.0)
    return {"_links": res.links}


#: Documents a stage may have made in the background: the stage and the step name
#: its seconds are reported under (in the manifest's stage timings).
BACKGROUND_STEPS = {"linkage.json": ("linkage", "metrics_background")}

#: Columns of the candidate records the platform loop reads (court keeps all).
LOOP_RECORD_COLUMNS = (*STREAM_COLUMNS, "truth_event_id", "truth_resident_id")


def _read_spilled(path: Path, schema: dict[str, pl.DataType], keep: np.ndarray,
                  loop_rows: pl.DataFrame) -> pl.DataFrame:
    """The full rows ``keep`` selects: the loop's columns (``loop_rows``) beside the
    other columns read back from scratch, in the table's column order."""
    from creditsim.rundir import read_scratch

    spilled = read_scratch(path, {c: t for c, t in schema.items() if c not in loop_rows.columns},
                           keep)
    return pl.concat([loop_rows, spilled], how="horizontal").select(list(schema))


def _platform(ctx: RunContext, t: Tables) -> dict[str, pl.DataFrame]:
    """The platform loop (policy → services → appeals/repayment → feedback) to its
    fixed point; writes the final events, records, links and every platform table."""
    from creditsim.loop import run_loop
    from creditsim.policy import load_policy, policy_source

    c = ctx.config
    policy = load_policy(c.policy or c.preset)
    # The loop consumes the records dict (it releases each candidate table once the
    # final one is made); the stage owns these tables (see ``_inputs``).
    records = {k.removeprefix("_records/"): t.pop(k) for k in list(t)
               if k.startswith("_records/")}
    full_records = {}
    for d in list(records):
        if d in ctx.spilled:  # keep only what the loop reads; the rest is on disk
            path, schema = ctx.spilled.pop(d)
            records[d] = records[d].select(
                [c for c in records[d].columns if c in LOOP_RECORD_COLUMNS])
            full_records[d] = partial(_read_spilled, path, schema)
    # Keep the policy's text in the run, so the run stays reportable if the file moves.
    text, _origin = policy_source(c.policy or c.preset)
    (ctx.run_dir / "policy.toml").write_bytes(text.encode("utf-8") if isinstance(text, str)
                                              else text)
    # Handed over, not shared: the loop releases them before its final tables.
    res = run_loop(t.pop("residents"), t.pop("_candidates"), records, t["_links"], policy,
                   seed=c.seed, days=c.days, start_date=ctx.start_date, models=ctx.loop_models,
                   full_records=full_records, emit=ctx.emit,
                   totals=ctx.demand_totals.result() if ctx.demand_totals is not None else None)
    ctx.demand_totals = None
    ctx.documents["loop.json"] = {"rounds": res.rounds, "seconds": res.timings,
                                  "converged": res.rounds[-1]["events_changed_next"] == 0
                                  and not res.rounds[-1]["repayments_changed_next"],
                                  "feedback": ctx.loop_models.feedback.enabled}
    ctx.step_seconds["platform"] = res.timings
    ctx.progress("platform", 1.0)
    return res.tables


#: The plan: stages in the order they run.
PLAN: list[Stage] = [
    Stage("population", (), ("residents",), _population,
          "synthetic residents, households, names and ID numbers"),
    Stage("behaviour", ("residents",), ("_candidates",), _behaviour,
          "candidate events of every kind at full rates (truth)"),
    Stage("records", ("residents", "_candidates"), ("_records/*",), _records,
          "each department's database of candidate events, with lags and faults"),
    Stage("linkage", ("residents", "_records/*"), ("_links",), _linkage,
          "the platform links each record to a resident: by valid ID, else Splink"),
    Stage("platform", ("residents", "_candidates", "_records/*", "_links"),
          ("events", "records/*", "links", "ledger", "scores", "list_spells", "decisions",
           "demand", "appeals"), _platform,
          "loop to a fixed point: policy → services → appeals/repayment → feedback"),
]


@dataclass
class RunResult:
    out: Path
    manifest: dict[str, Any]
    tables: dict[str, pl.DataFrame]


def package_versions() -> dict[str, str]:
    names = ["numpy", "polars", "pyarrow", "duckdb", "pydantic", "splink", "typer", "rich"]
    out = {"python": sys.version.split()[0], "creditsim": __version__}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "not installed"
    return out


def run(config: RunConfig, out: Path, *, overwrite: bool = False,
        progress: Progress | None = None,
        on_stage: Callable[[str, float], None] | None = None,
        keep_tables: bool = False, background: bool = True) -> RunResult:
    """Run the plan and publish the run directory ``out`` atomically.

    ``background``: build linkage's index of the register and the city-wide service
    demand in a background thread while the behaviour and records stages run (the
    same result either way)."""
    writer = RunWriter(out, overwrite=overwrite)
    from creditsim.feedback import FeedbackModel

    ctx = RunContext(config=config, workdir=writer.workdir, run_dir=writer.tmp,
                     spill=None if keep_tables else writer.write_scratch,
                     emit=None if keep_tables else (
                         lambda name, df: writer.write_table(f"{name}.parquet", df)),
                     progress=progress or (lambda s, f: None),
                     loop_models=LoopModels(feedback=FeedbackModel(enabled=config.feedback)),
                     background=ThreadPoolExecutor(max_workers=1,
                                                   thread_name_prefix="creditsim-bg")
                     if background else None)
    tables: dict[str, pl.DataFrame] = {}
    timings: list[dict[str, Any]] = []
    try:
        for stage in PLAN:
            t0 = time.perf_counter()
            inputs = _inputs(stage, tables, keep_tables)
            produced = stage.fn(ctx, inputs)
            del inputs
            for name, df in produced.items():
                if not name.startswith("_"):  # "_name": in-memory only
                    writer.write_table(f"{name}.parquet", df)
            tables.update(produced)
            # Free tables no later stage reads (they stay on disk in the run).
            if not keep_tables:
                later = PLAN[PLAN.index(stage) + 1:]
                for name in [n for n in tables if not any(_reads(st, n) for st in later)]:
                    del tables[name]
            secs = time.perf_counter() - t0
            entry: dict[str, Any] = {"stage": stage.name, "seconds": round(secs, 3)}
            if stage.name in ctx.step_seconds:
                entry["steps"] = {k: round(v, 3) for k, v in
                                  ctx.step_seconds.pop(stage.name).items()}
            timings.append(entry)
            if on_stage:
                on_stage(stage.name, secs)
        for name, doc in ctx.documents.items():
            if isinstance(doc, Future):  # made in the background: (document, seconds)
                doc, secs = doc.result()
                stage, step = BACKGROUND_STEPS[name]
                entry = next(e for e in timings if e["stage"] == stage)
                entry.setdefault("steps", {})[step] = round(secs, 3)
            writer.write_json(name, doc)
        t0 = time.perf_counter()
        writer.flush()
        timings.append({"stage": "write", "seconds": round(time.perf_counter() - t0, 3),
                        "note": "Parquet writing left after the last stage (writes overlap "
                                "the stages in a background thread)"})
        manifest = {
            "creditsim": __version__,
            "config": config.model_dump(mode="json"),
            "seed": config.seed,
            "plan": [{"stage": s.name, "reads": list(s.reads), "writes": list(s.writes),
                      "doc": s.doc} for s in PLAN],
            "stages": timings,
            "packages": package_versions(),
            "machine": {"platform": platform.platform(), "cpus": psutil.cpu_count(),
                        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)},
            "peak_rss_gb": round(_peak_rss_bytes() / 2**30, 3),
            "parameters": _parameters(ctx),
        }
        manifest = writer.publish(manifest)
    except BaseException:
        writer.abort()
        raise
    finally:
        if ctx.background is not None:
            ctx.background.shutdown(wait=True, cancel_futures=True)
    return RunResult(out=writer.out, manifest=manifest, tables=tables if keep_tables else {})


def _reads(stage: Stage, name: str) -> bool:
    return name in stage.reads or f"{name.split('/')[0]}/*" in stage.reads


def _inputs(stage: Stage, tables: dict[str, pl.DataFrame], keep_tables: bool
            ) -> dict[str, pl.DataFrame]:
    """The tables ``stage`` reads, in a dict the stage owns. Tables no later stage
    reads are moved out of ``tables`` (unless ``keep_tables``), so the stage can
    release them as soon as it is done with each one (memory at city scale)."""
    later = PLAN[PLAN.index(stage) + 1:]
    out = {}
    for name in [n for n in tables if _reads(stage, n)]:
        last_use = not any(_reads(st, name) for st in later)
        out[name] = tables.pop(name) if last_use and not keep_tables else tables[name]
    return out


def _peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux: ru_maxrss is in KiB)."""
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb * 1024 if sys.platform != "darwin" else kb


def _parameters(ctx: RunContext) -> dict[str, Any]:
    params: dict[str, Any] = {}
    params.update(provenance(ctx.city, "city."))
    params.update(provenance(ctx.household_model, "households."))
    params.update(provenance(ctx.person_model, "persons."))
    for k in ctx.behaviour_model.kinds:
        params[f"behaviour.{k.kind}.base"] = {"value": k.base.value, "source": k.base.source}
    params.update(provenance(ctx.behaviour_model.court, "behaviour.court."))
    params.update(provenance(ctx.loop_models.feedback, "feedback."))
    params.update(provenance(ctx.loop_models.appeals, "appeals."))
    params.update(provenance(ctx.loop_models.repayment, "repayment."))
    from creditsim.services.demand import DEFAULT_DEMAND

    for d in DEFAULT_DEMAND:
        params[f"services.{d.service}.rate"] = {"value": d.rate.value, "source": d.rate.source}
    for d in ctx.departments:
        params.update(provenance(d, f"records.{d.name}."))
    return params
