"""The pipeline: one explicit, documented loop over the stages.

Stage order (each stage is a function of typed tables to typed tables; data
flows one way; every table is written to the run directory as soon as it exists):

1. ``population`` — the synthetic city → ``residents``
2. ``behaviour``  — what residents really do (truth) → ``events``
3. ``records``    — each department's database → ``records/<department>``
4. ``linkage``    — the platform links records to residents → ``links``
   (+ ``linkage.json`` and Splink's charts under ``charts/``)
5. ``policy``     — the platform scores its linked profiles → ``ledger``,
   ``scores``, ``list_spells``

Stages 4 and 5 are the *platform*: they receive only the register and records
with every ``truth_*`` column dropped (:func:`platform_view`). Later stages
(services, appeals, audit, report) append to :data:`PLAN` in the same form. ``creditsim run`` prints the plan and each stage's
time; the manifest keeps both.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl
import psutil

from creditsim import __version__
from creditsim.behaviour import BehaviourModel, generate_events
from creditsim.cities import CITIES
from creditsim.config import RunConfig
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
    household_model: HouseholdModel = field(default_factory=HouseholdModel)
    person_model: PersonModel = field(default_factory=PersonModel)
    behaviour_model: BehaviourModel = field(default_factory=BehaviourModel)
    departments: tuple = DEFAULT_DEPARTMENTS

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
    return {"residents": df}


def _behaviour(ctx: RunContext, t: Tables) -> dict[str, pl.DataFrame]:
    c = ctx.config
    ev = generate_events(t["residents"], seed=c.seed, days=c.days, start_date=ctx.start_date,
                         model=ctx.behaviour_model, chunk_residents=c.chunk_residents,
                         progress=lambda f: ctx.progress("behaviour", f))
    return {"events": ev}


def _records(ctx: RunContext, t: Tables) -> dict[str, pl.DataFrame]:
    c = ctx.config
    recs = build_records(t["events"], t["residents"], seed=c.seed, days=c.days,
                         start_year=ctx.start_date.year, departments=ctx.departments,
                         district_codes=ctx.city.district_codes.value,
                         progress=lambda f: ctx.progress("records", f))
    return {f"records/{d}": df for d, df in recs.items()}


def platform_view(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` without its truth columns: what the platform may see."""
    return df.select([c for c in df.columns if not c.startswith("truth_")])


def _linkage(ctx: RunContext, t: Tables) -> dict[str, pl.DataFrame]:
    from creditsim.linkage import link_records

    c = ctx.config
    records = {k.removeprefix("records/"): v for k, v in t.items() if k.startswith("records/")}
    res = link_records(records, t["residents"], seed=c.seed, threshold=c.linkage_threshold,
                       workdir=ctx.workdir / "linkage", charts_dir=ctx.run_dir / "charts",
                       preset=c.preset)
    (ctx.run_dir / "linkage.json").write_text(
        json.dumps(res.metrics, indent=2, ensure_ascii=False, default=str) + "\n",
        encoding="utf-8")
    ctx.progress("linkage", 1.0)
    return {"links": res.links}


def linked_records(records: Mapping[str, pl.DataFrame], links: pl.DataFrame) -> pl.DataFrame:
    """The platform's consolidated stream: every record with the resident the
    platform assigned it to (null when unlinked). No truth columns."""
    cols = ["record_id", "department", "kind", "day_event", "day_recorded", "amount"]
    parts = []
    for df in records.values():
        sel = df.select(*cols, (pl.col("case_number") if "case_number" in df.columns
                                else pl.lit(None, dtype=pl.String)).alias("case_number"))
        parts.append(sel)
    stream = pl.concat(parts)
    assigned = links.select("record_id", "resident_id")
    return stream.join(assigned, on="record_id", how="left", maintain_order="left")


def _policy(ctx: RunContext, t: Tables) -> dict[str, pl.DataFrame]:
    from creditsim.policy import apply_policy, load_policy

    c = ctx.config
    policy = load_policy(c.policy or c.preset)
    records = {k.removeprefix("records/"): platform_view(v) for k, v in t.items()
               if k.startswith("records/")}
    linked = linked_records(records, platform_view(t["links"]))
    res = apply_policy(policy, platform_view(t["residents"]), linked, days=c.days,
                       start_date=ctx.start_date)
    ctx.progress("policy", 1.0)
    return {"ledger": res.ledger, "scores": res.scores, "list_spells": res.list_spells}


#: The plan: stages in the order they run.
PLAN: list[Stage] = [
    Stage("population", (), ("residents",), _population,
          "synthetic residents, households, names and ID numbers"),
    Stage("behaviour", ("residents",), ("events",), _behaviour,
          "ground-truth events of every kind (truth)"),
    Stage("records", ("residents", "events"), ("records/*",), _records,
          "each department's database with its reporting lag and faults"),
    Stage("linkage", ("residents", "records/*"), ("links",), _linkage,
          "the platform links each record to a resident: by valid ID, else Splink"),
    Stage("policy", ("residents", "records/*", "links"), ("ledger", "scores", "list_spells"),
          _policy, "the platform applies the policy: points, tiers, list spells"),
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
        keep_tables: bool = False) -> RunResult:
    """Run the plan and publish the run directory ``out`` atomically."""
    writer = RunWriter(out, overwrite=overwrite)
    ctx = RunContext(config=config, workdir=writer.workdir, run_dir=writer.tmp,
                     progress=progress or (lambda s, f: None))
    tables: dict[str, pl.DataFrame] = {}
    timings: list[dict[str, Any]] = []
    try:
        for stage in PLAN:
            t0 = time.perf_counter()
            produced = stage.fn(ctx, tables)
            for name, df in produced.items():
                writer.write_table(f"{name}.parquet", df)
            tables.update(produced)
            # Free tables no later stage reads (they stay on disk in the run).
            if not keep_tables:
                later = {r for st in PLAN[PLAN.index(stage) + 1:] for r in st.reads}
                for name in [n for n in tables if n not in later
                             and not (n.startswith("records/") and "records/*" in later)]:
                    del tables[name]
            secs = time.perf_counter() - t0
            timings.append({"stage": stage.name, "seconds": round(secs, 3)})
            if on_stage:
                on_stage(stage.name, secs)
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
    return RunResult(out=writer.out, manifest=manifest, tables=tables if keep_tables else {})


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
    for d in ctx.departments:
        params.update(provenance(d, f"records.{d.name}."))
    return params
