"""The pipeline: one explicit, documented loop over the stages.

Stage order (each stage is a function of typed tables to typed tables; data
flows one way; every table is written to the run directory as soon as it exists):

1. ``population`` — the synthetic city → ``residents``
2. ``behaviour``  — what residents really do (truth) → ``events``
3. ``records``    — each department's database → ``records/<department>``
4. ``linkage``    — the platform links records to residents (+ Splink's charts)
5. ``platform``   — the loop (:mod:`creditsim.platform`): rounds of score →
   appeal_and_repay → serve → respond, iterated to their fixed point →
   ``events``, ``records/*``, ``links``, ``ledger``, ``scores``, ``list_spells``,
   ``decisions``, ``demand``, ``appeals`` (+ ``linkage.json``, ``loop.json``)

Tables named ``_name`` live in memory only: the behaviour stage draws
*candidate* events (feedback later thins them), records and links are made for
every candidate, and the platform stage writes the ones that happened. The
platform's own steps (linkage, policy, service decisions) never see a
``truth_*`` column (:func:`~creditsim.platform.platform_view`); the evaluation
modules that label sanctions as wrongful do, by design. ``creditsim run`` prints
the plan and each stage's time; the manifest keeps both.

A stage is handed a :class:`StageInput` — the tables it reads and the
:class:`Handoffs` it takes (values besides tables that an earlier stage made,
such as work started in the background) — and returns a :class:`StageOutput`:
its tables, the JSON documents it made, the seconds of its steps, and the
handoffs it gives. Nothing else passes between stages.
"""

from __future__ import annotations

import os
import platform as host
import resource
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import psutil

from creditsim import __version__
from creditsim import checkpoint as ckpt
from creditsim.behaviour import BehaviourModel, generate_events
from creditsim.config import RunConfig
from creditsim.linkage import RECORD_IDENTITY, link_records, prepare_register
from creditsim.modelset import manifest_parameters
from creditsim.platform import (
    BOOSTABLE,
    RECORD_COLUMNS,
    ROUND_STEPS,
    LoopInputs,
    RunSpec,
    Sink,
    run_loop,
)
from creditsim.policy import LoadedPolicy, read_policy
from creditsim.population.synth import synthesize
from creditsim.records import build_records
from creditsim.rundays import to_start
from creditsim.rundir import RunWriter, check_out_dir, read_scratch
from creditsim.scenario import manifest_entry as scenario_manifest
from creditsim.services import deletion_calendar, resident_cells

from creditsim.stagetypes import (  # noqa: F401 - the stage types are part of this API
    Deferred,
    Document,
    Handoffs,
    Progress,
    RunContext,
    Spilled,
    Stage,
    StageInput,
    StageOutput,
    T,
    Tables,
)


def _population(ctx: RunContext, given: StageInput) -> StageOutput:
    c = ctx.config
    df = synthesize(ctx.city, c.residents, c.seed, ctx.start_date, ctx.m.households,
                    ctx.m.persons, progress=lambda _m, f: ctx.progress("population", f))
    return StageOutput({"residents": df}, handoffs=_background_handoffs(ctx, df))


def _background_handoffs(ctx: RunContext, df: pl.DataFrame) -> Handoffs:
    """The register index and the residents per demand cell, started in the background (none
    without a background thread); pure functions of the residents, so a resumed
    run starts them again from the checkpointed table."""
    if ctx.background is None:
        return Handoffs()
    # Linkage's index of the register and the demand cells depend on the
    # residents alone: built beside the next two stages, which leave part of the
    # machine idle (their work between parallel sections is single-threaded).
    # Each job gets its own frame object (the same column buffers): Polars locks
    # each Python-side frame, and a frame used from two threads at once can
    # deadlock (one thread holds the frame's read lock waiting for the GIL, the
    # other holds the GIL waiting to lock the frame, e.g. in ``to_arrow``).
    ctx.background.submit(_lower_priority)
    index = ctx.background.submit(_timed, partial(prepare_register, df.clone()))
    cells = ctx.background.submit(_timed, partial(resident_cells, df.clone(), ctx.start_date))
    return Handoffs(register_index=Deferred(index), demand_cells=Deferred(cells))


def _lower_priority() -> None:
    """Lower the calling thread's scheduling priority (Linux: per thread), so the
    background thread takes the cores the stages leave idle, not theirs."""
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


def _behaviour(ctx: RunContext, given: StageInput) -> StageOutput:
    """Candidate events: every kind at its full rate, plus "boost" candidates for
    kinds people can do more of (see :mod:`creditsim.platform.world.feedback`)."""
    c, residents = ctx.config, given.tables["residents"]
    base = generate_events(residents, seed=c.seed, days=ctx.days, start_date=ctx.start_date,
                           model=ctx.m.behaviour, chunk_residents=c.chunk_residents,
                           progress=lambda f: ctx.progress("behaviour", 0.8 * f))
    cand = [base.with_columns(pl.lit(False).alias("boost"))]
    fb = ctx.m.loop.feedback
    if fb.enabled and fb.max_boost > 1.0:
        kinds = tuple(k for k in ctx.m.behaviour.kinds if k.kind in BOOSTABLE)
        mult = {k.kind: np.full(residents.height, fb.max_boost - 1.0) for k in kinds}
        boost = generate_events(
            residents, seed=c.seed, days=ctx.days, start_date=ctx.start_date,
            model=BehaviourModel(kinds=kinds, court=ctx.m.behaviour.court),
            chunk_residents=c.chunk_residents, multipliers=mult, stream_tag=".boost",
            event_id_offset=base.height)
        cand.append(boost.with_columns(pl.lit(True).alias("boost")))
    ctx.progress("behaviour", 1.0)
    return StageOutput({"_candidates": pl.concat(cand)})


def _records(ctx: RunContext, given: StageInput) -> StageOutput:
    c, t = ctx.config, given.tables
    recs = build_records(t["_candidates"].drop("boost"), t["residents"], seed=c.seed,
                         days=ctx.days, start_year=ctx.start_date.year,
                         departments=ctx.m.departments,
                         district_codes=ctx.city.district_codes.value,
                         progress=lambda f: ctx.progress("records", f))
    spilled = {}
    if ctx.spill is not None:
        # The columns the platform loop does not hold go to scratch disk; in memory
        # stay the columns that linkage and the loop read (the platform drops
        # linkage's identity columns in turn). The final records/<department> tables
        # are the loop's columns of the records that happened beside these files'.
        wanted = set(RECORD_IDENTITY) | set(RECORD_COLUMNS)
        for d in list(recs):
            if d != "court":  # the loop reads every court column (repayment records)
                df = recs[d]
                rest = [c for c in df.columns if c not in RECORD_COLUMNS]
                spilled[d] = Spilled(ctx.spill(f"records/{d}.parquet", df.select(rest)),
                                     dict(df.schema))
                recs[d] = df.select([c for c in df.columns if c in wanted])
    return StageOutput({f"_records/{d}": df for d, df in recs.items()},
                       handoffs=Handoffs(spilled=spilled))


def _linkage(ctx: RunContext, given: StageInput) -> StageOutput:
    """Link every candidate record once. A record's link depends only on the record
    and the register, so the loop can select the records that happen without
    linking again, and policies compared on one seed see the same links."""
    c, t = ctx.config, given.tables
    records = {k.removeprefix("_records/"): v for k, v in t.items()
               if k.startswith("_records/")}
    # DuckDB's share is capped at 3 GB: the register, candidates and records are
    # alive beside it, and the whole run should stay near 12 GB (measurements.md).
    prep, prep_secs, waited = None, None, 0.0
    if given.handoffs.register_index is not None:
        t0 = time.perf_counter()
        prep, prep_secs = given.handoffs.register_index.result()
        waited = time.perf_counter() - t0
    res = link_records(records, t["residents"], seed=c.seed, threshold=c.linkage_threshold,
                       workdir=ctx.workdir / "linkage", charts_dir=ctx.run_dir / "charts",
                       preset=ctx.city.linkage_model, memory_limit="3GB", prep=prep,
                       defer_metrics=ctx.background is not None, settings=ctx.m.linkage)
    if res.measure is not None:  # deferred: there is a background thread
        # The metrics document (about 4 s of work at city scale) is computed beside
        # the platform stage, whose work leaves part of the machine idle.
        assert ctx.background is not None
        doc: Document = Deferred(ctx.background.submit(_timed, res.measure),
                                 step="metrics_background")
    else:
        doc = res.metrics
    # "prepare" includes the wait for the background index, whose own seconds are
    # reported beside it.
    res.timings["prepare"] += waited
    if prep_secs is not None:
        res.timings["register_index_background"] = prep_secs
    ctx.progress("linkage", 1.0)
    return StageOutput({"_links": res.links}, documents={"linkage.json": doc},
                       steps=res.timings)


def _read_spilled(spilled: Spilled, keep: np.ndarray, loop_rows: pl.DataFrame
                  ) -> pl.DataFrame:
    """The full rows ``keep`` selects: the loop's columns (``loop_rows``) beside the
    other columns read back from scratch, in the table's column order."""
    rest = read_scratch(spilled.path, {c: t for c, t in spilled.schema.items()
                                       if c not in loop_rows.columns}, keep)
    return pl.concat([loop_rows, rest], how="horizontal").select(list(spilled.schema))


def _platform(ctx: RunContext, given: StageInput) -> StageOutput:
    """The platform loop (rounds of ROUND_STEPS) to its fixed point; writes the
    final events, records, links and every platform table."""
    c, t, spilled = ctx.config, given.tables, given.handoffs.spilled
    loaded = ctx.policy or read_policy(c.policy_ref)
    policy = loaded.policy
    # The loop consumes the records dict (it releases each candidate table once the
    # final one is made); the stage owns these tables (see ``_inputs``).
    records = {k.removeprefix("_records/"): t.pop(k) for k in list(t)
               if k.startswith("_records/")}
    for d in spilled:  # keep only what the loop reads; the rest is on disk
        records[d] = records[d].select([c for c in records[d].columns if c in RECORD_COLUMNS])
    # Keep the policy's and the city's text in the run, so the run stays reportable
    # if the files move (the city's: the bytes its profile was read from).
    (ctx.run_dir / "policy.toml").write_bytes(loaded.text)
    (ctx.run_dir / "city.toml").write_bytes(ctx.city.text)
    steps: dict[str, float] = {}
    cells = None
    if given.handoffs.demand_cells is not None:
        cells, steps["demand_cells_background"] = given.handoffs.demand_cells.result()
    # Handed over, not shared: the loop releases them before its final tables.
    res = run_loop(LoopInputs(residents=t.pop("residents"), candidates=t.pop("_candidates"),
                              records=records, links=t["_links"], policy=policy,
                              demand_cells=cells),
                   RunSpec(seed=c.seed, days=ctx.days, start_date=ctx.start_date),
                   ctx.m.loop,
                   Sink(emit=ctx.emit, full_records={d: partial(_read_spilled, s)
                                                     for d, s in spilled.items()}))
    rounds = [{**r, "first_changed_day": None if r["first_changed_day"] is None
               else r["first_changed_day"] - c.burn_in_days} for r in res.rounds]
    doc = {"rounds": rounds, "seconds": res.timings, "burn_in_days": c.burn_in_days,
           "converged": res.rounds[-1]["events_changed_next"] == 0
           and not res.rounds[-1]["repayments_changed_next"],
           "feedback": ctx.m.loop.feedback.enabled,
           "calendar": deletion_calendar(ctx.start_date, ctx.days)}
    ctx.progress("platform", 1.0)
    return StageOutput(res.tables, documents={"loop.json": doc},
                       steps={**res.timings, **steps})


#: The plan: stages in the order they run.
PLAN: list[Stage] = [
    Stage("population", (), ("residents",), _population,
          "synthetic residents, households, names and ID numbers",
          gives=("register_index", "demand_cells")),
    Stage("behaviour", ("residents",), ("_candidates",), _behaviour,
          "candidate events of every kind at full rates (truth)"),
    Stage("records", ("residents", "_candidates"), ("_records/*",), _records,
          "each department's database of candidate events, with lags and faults",
          gives=("spilled",)),
    Stage("linkage", ("residents", "_records/*"), ("_links",), _linkage,
          "the platform links each record to a resident: by valid ID, else Splink",
          takes=("register_index",)),
    Stage("platform", ("residents", "_candidates", "_records/*", "_links"),
          ("events", "records/*", "links", "ledger", "scores", "list_spells", "decisions",
           "demand", "appeals"), _platform,
          "rounds to a fixed point: score → appeal and repay → serve → respond",
          takes=("demand_cells", "spilled"), steps=tuple(ROUND_STEPS)),
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
        keep_tables: bool = False, background: bool = True,
        policy: LoadedPolicy | None = None,
        checkpoint: ckpt.Options | None = None) -> RunResult:
    """Run the plan and publish the run directory ``out`` atomically.

    ``background``: build linkage's index of the register and the city-wide service
    demand in a background thread while the behaviour and records stages run (the
    same result either way). ``policy``: the config's policy as already read and
    validated (:func:`~creditsim.policy.read_policy`); read here, once, if not given.
    ``checkpoint``: keep each completed stage's outputs in the temp directory (kept
    if the run fails), and with ``resume`` continue the checkpoint of a dead run of
    ``out`` (:mod:`creditsim.checkpoint`)."""
    policy = policy or read_policy(config.policy_ref)
    key = None if checkpoint is None else ckpt.RunKey.of(
        {**config.model_dump(mode="json"), "city_sha256": config.city_profile.sha256},
        policy.text, package_versions())
    check_out_dir(out, overwrite)  # before a dead run's directory is claimed
    claimed = ckpt.claim(out, key) if key is not None and checkpoint.resume else None
    writer = RunWriter(out, overwrite=overwrite)
    # Before anything is made in the temp directory: a resume makes the dead run's its.
    saver = None if key is None else ckpt.Checkpointer.start(
        writer.out, writer.tmp, key, claimed, ([s.name for s in PLAN], checkpoint))
    ctx = RunContext(config=config, workdir=writer.workdir, run_dir=writer.tmp, policy=policy,
                     spill=None if keep_tables else writer.write_scratch,
                     emit=None if keep_tables else partial(_publish, writer, config),
                     progress=progress or (lambda s, f: None),
                     background=ThreadPoolExecutor(max_workers=1,
                                                   thread_name_prefix="creditsim-bg")
                     if background else None)
    try:
        tables, timings, documents = run_stages(ctx, PLAN, writer=writer,
                                                keep_tables=keep_tables, on_stage=on_stage,
                                                checkpoints=saver)
        _write_documents(writer, documents, timings)
        t0 = time.perf_counter()
        writer.flush()
        timings.append({"stage": "write", "seconds": round(time.perf_counter() - t0, 3),
                        "note": "Parquet writing left after the last stage (writes overlap "
                                "the stages in a background thread)"})
        manifest = writer.publish(_manifest(ctx, timings))
    except BaseException:
        writer.abort(keep=key is not None)  # with its checkpoint, for a resume
        raise
    finally:
        if ctx.background is not None:
            ctx.background.shutdown(wait=True, cancel_futures=True)
    return RunResult(out=writer.out, manifest=manifest, tables={
        n: df if n.startswith("_") else to_start(n, df, config.burn_in_days)
        for n, df in tables.items()} if keep_tables else {})


def _publish(writer: RunWriter, config: RunConfig, name: str, df: pl.DataFrame) -> None:
    """Write the run's table ``name``, its day columns counted from the start date
    (the one place where the stages' days, counted from the first simulated day, are
    shifted: rundays.to_start)."""
    writer.write_table(f"{name}.parquet", to_start(name, df, config.burn_in_days))


def run_stages(ctx: RunContext, stages: list[Stage], *, writer: RunWriter | None = None,
               keep_tables: bool = False, on_stage: Callable[[str, float], None] | None = None,
               checkpoints: ckpt.Checkpointer | None = None
               ) -> tuple[dict[str, pl.DataFrame], list[dict[str, Any]],
                          list[tuple[str, str, Document]]]:
    """Run ``stages`` in order: the tables left (all of them with ``keep_tables``),
    each stage's timing entry, and every document made, as (stage, file name,
    document). ``writer``, if given, takes each table not named ``_name``.
    ``checkpoints``: start after the stages it restored; checkpoint each stage but
    the last."""
    tables, handoffs, timings, documents = _restart(ctx, stages, writer, checkpoints)
    for i, stage in enumerate(stages):
        if i < len(timings):  # restored from the checkpoint
            if on_stage:
                on_stage(stage.name, 0.0)
            continue
        t0 = time.perf_counter()
        done = stage.fn(ctx, StageInput(_inputs(stages, i, tables, keep_tables),
                                        _taken(stage, handoffs)))
        for name, df in done.tables.items():
            if writer is not None and not name.startswith("_"):  # "_name": in-memory only
                _publish(writer, ctx.config, name, df)
        tables.update(done.tables)
        handoffs = _handed_on(handoffs, done.handoffs, stage, stages[i + 1:])
        # Free tables no later stage reads (they stay on disk in the run).
        if not keep_tables:
            for name in [n for n in tables if not any(_reads(st, n) for st in stages[i + 1:])]:
                del tables[name]
        secs = time.perf_counter() - t0
        entry: dict[str, Any] = {"stage": stage.name, "seconds": round(secs, 3)}
        if done.steps:
            entry["steps"] = {k: round(v, 3) for k, v in done.steps.items()}
        timings.append(entry)
        documents += [(stage.name, name, doc) for name, doc in done.documents.items()]
        if checkpoints is not None and i + 1 < len(stages):
            documents = _save(checkpoints, stage, done, tables, handoffs, timings, documents)
        del done
        if on_stage:
            on_stage(stage.name, secs)
    return tables, timings, documents


def _taken(stage: Stage, handoffs: Handoffs) -> Handoffs:
    """The handoffs ``stage`` takes (the others left at their empty defaults)."""
    return Handoffs(**{k: getattr(handoffs, k) for k in stage.takes})


def _handed_on(handoffs: Handoffs, given: Handoffs, stage: Stage, later: list[Stage]
               ) -> Handoffs:
    """``handoffs`` with what ``stage`` gives, less what no later stage takes (so
    a background result is let go after its last taker)."""
    return _kept_for(replace(handoffs, **{k: getattr(given, k) for k in stage.gives}), later)


def _kept_for(handoffs: Handoffs, later: list[Stage]) -> Handoffs:
    """``handoffs`` less what no stage of ``later`` takes."""
    empty = Handoffs()
    return replace(handoffs, **{f.name: getattr(empty, f.name) for f in fields(Handoffs)
                                if not any(f.name in st.takes for st in later)})


def _write_documents(writer: RunWriter, documents: list[tuple[str, str, Document]],
                     timings: list[dict[str, Any]]) -> None:
    """Write every document (see :func:`_resolved`)."""
    for _stage, name, doc in _resolved(documents, timings):
        writer.write_json(name, doc)


def _resolved(documents: list[tuple[str, str, Document]], timings: list[dict[str, Any]]
              ) -> list[tuple[str, str, Document]]:
    """``documents`` with those made in the background waited for; their seconds
    go under their step in the stage that made them."""
    out: list[tuple[str, str, Document]] = []
    for stage, name, doc in documents:
        if isinstance(doc, Deferred):
            step, (doc, secs) = doc.step or name, doc.result()
            entry = next(e for e in timings if e["stage"] == stage)
            entry.setdefault("steps", {})[step] = round(secs, 3)
        out.append((stage, name, doc))
    return out


def _save(checkpoints: ckpt.Checkpointer, stage: Stage, done: StageOutput,
          tables: dict[str, pl.DataFrame], handoffs: Handoffs, timings: list[dict[str, Any]],
          documents: list[tuple[str, str, Document]]) -> list[tuple[str, str, Document]]:
    """Checkpoint ``stage``: its tables a later stage reads or the run publishes,
    the spilled files it handed on, its documents (waited for) and timing entry.
    Returns ``documents`` with this stage's waited for."""
    t0 = time.perf_counter()
    documents = _resolved(documents, timings)
    spilled = handoffs.spilled if "spilled" in stage.gives else {}
    checkpoints.save(ckpt.Completed(
        stage.name,
        tables={n: df for n, df in done.tables.items() if n in tables or not n.startswith("_")},
        schemas={f"spilled/{d}": s.schema for d, s in spilled.items()},
        files={f"spilled/{d}": s.path for d, s in spilled.items()},
        documents={name: doc for st, name, doc in documents if st == stage.name},
        timing=timings[-1]))
    # Besides the stage's own seconds: the cost of checkpointing, seen in the manifest.
    timings[-1]["checkpoint_seconds"] = round(time.perf_counter() - t0, 3)
    return documents


def _restart(ctx: RunContext, stages: list[Stage], writer: RunWriter | None,
             checkpoints: ckpt.Checkpointer | None
             ) -> tuple[dict[str, pl.DataFrame], Handoffs, list[dict[str, Any]],
                        list[tuple[str, str, Document]]]:
    """The tables, handoffs, timings and documents after the restored stages of
    ``checkpoints`` (nothing without them): published tables go to ``writer``
    again, the background handoffs start again from the residents."""
    r = checkpoints.restored if checkpoints is not None else None
    if r is None or not r.stages:
        return {}, Handoffs(), [], []
    later = stages[len(r.stages):]
    tables = {n: r.load(n) for n in r.tables
              if not n.startswith("_") or any(_reads(st, n) for st in later)}
    for name in [n for n in tables if not n.startswith("_")]:
        if writer is not None:
            _publish(writer, ctx.config, name, tables[name])
        if not any(_reads(st, name) for st in later):
            del tables[name]
    spilled = {n.removeprefix("spilled/"): Spilled(p, r.schemas[n])
               for n, p in r.files.items() if n.startswith("spilled/")}
    given = Handoffs(spilled=spilled)
    if any(t in st.takes for st in later for t in ("register_index", "demand_cells")):
        given = replace(_background_handoffs(ctx, tables["residents"]), spilled=spilled)
    return tables, _kept_for(given, later), list(r.timings), list(r.documents)


def _reads(stage: Stage, name: str) -> bool:
    return name in stage.reads or f"{name.split('/')[0]}/*" in stage.reads


def _inputs(stages: list[Stage], i: int, tables: dict[str, pl.DataFrame], keep_tables: bool
            ) -> dict[str, pl.DataFrame]:
    """The tables ``stages[i]`` reads, in a dict the stage owns. Tables no later stage
    reads are moved out of ``tables`` (unless ``keep_tables``), so the stage can
    release them as soon as it is done with each one (memory at city scale)."""
    out = {}
    for name in [n for n in tables if _reads(stages[i], n)]:
        last_use = not any(_reads(st, name) for st in stages[i + 1:])
        out[name] = tables.pop(name) if last_use and not keep_tables else tables[name]
    return out


def _manifest(ctx: RunContext, timings: list[dict[str, Any]]) -> dict[str, Any]:
    config = ctx.config
    return {
        "creditsim": __version__,
        "config": config.model_dump(mode="json"),
        "seed": config.seed,
        "plan": [{"stage": s.name, "reads": list(s.reads), "writes": list(s.writes),
                  "doc": s.doc, **({"steps": [{"step": x.name, "doc": x.doc} for x in s.steps]}
                                   if s.steps else {})} for s in PLAN],
        "stages": timings,
        "packages": package_versions(),
        "machine": {"platform": host.platform(), "cpus": psutil.cpu_count(),
                    "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)},
        "peak_rss_gb": round(_peak_rss_bytes() / 2**30, 3),
        "parameters": manifest_parameters(config, ctx.m),
        "scenario": scenario_manifest(config),
    }


def _peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux: ru_maxrss is in KiB)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb * 1024 if sys.platform != "darwin" else kb
