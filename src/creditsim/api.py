"""The Python API for notebooks: ``creditsim.simulate(...)`` and ``creditsim.open_run(DIR)``.

::

    import creditsim
    run = creditsim.simulate("examples/no-feedback.toml", residents=5000, days=60)
    run = creditsim.open_run("runs/beijing-seed1")
    run.residents                      # polars.DataFrame, typed as in DESIGN.md
    run.list_spells.filter(...)        # every table of the run, read on first use
    audit = run.audit(by="hukou,district")
    audit.group("hukou")               # one row per group: rates, intervals, ratios, flags
    run.explain(4762).timeline         # provenance of one resident
    run.report("report.html")          # the offline HTML report
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from creditsim.errors import CreditsimError

if TYPE_CHECKING:  # imported lazily so that ``import creditsim`` stays light
    import polars as pl

    from creditsim.audit.explain import Explanation


@dataclass(frozen=True)
class AuditResult:
    """The audit of a run: the JSON-ready dict (docs/audit.md) plus tabular views."""

    data: dict[str, Any]

    @property
    def headline(self) -> dict[str, Any]:
        return self.data["headline"]

    def group(self, grouping: str) -> pl.DataFrame:
        """One row per group: residents, status and, per metric, count, rate, ci95_lo,
        ci95_hi, ratio, four_fifths_flag and comparison (columns ``metric.field``)."""
        import polars as pl

        if grouping not in self.data["groups"]:
            raise CreditsimError(f"grouping {grouping!r} not in this audit "
                             f"({', '.join(self.data['groups'])})")
        rows = []
        for r in self.data["groups"][grouping]["rows"]:
            flat: dict[str, Any] = {"group": r["group"], "residents": r["residents"],
                                    "status": r["status"]}
            for m, v in r.items():
                if isinstance(v, dict) and "rate" in v:
                    flat |= {f"{m}.count": v["count"], f"{m}.rate": v["rate"],
                             f"{m}.ci95_lo": v["ci95"][0], f"{m}.ci95_hi": v["ci95"][1],
                             f"{m}.ratio": v["ratio"],
                             f"{m}.four_fifths_flag": v["four_fifths_flag"],
                             f"{m}.comparison": v["comparison"]}
            rows.append(flat)
        return pl.DataFrame(rows, infer_schema_length=None)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.data, indent=indent, ensure_ascii=False)


class Run:
    """A finished run directory with typed Polars access to every table.

    Tables are read on first use and kept; ``scan(name)`` gives a lazy frame instead
    (better for the 22M-resident tables). A table the run does not have raises
    :class:`~creditsim.audit.AuditError` (a :class:`CreditsimError`) saying so;
    ``has(name)`` checks first.

    Opening checks every file against the manifest (sizes, Parquet row counts and
    column types; with ``verify``, the default, also the sha256, cached after the
    first time) and refuses a mismatch with a :class:`~creditsim.errors.RunDirError`
    naming the file.
    """

    def __init__(self, path: str | Path, verify: bool = True):
        from creditsim.audit.run import RunData

        self._verify = verify
        self._d = RunData(path, verify=verify)

    def __repr__(self) -> str:
        return (f"Run({str(self.path)!r}: {self._d.n_residents:,} residents × {self.days} days,"
                f" seed {self.seed}, policy {self._d.policy_name!r})")

    # --- identity -----------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return self._d.path

    @property
    def manifest(self) -> dict[str, Any]:
        return self._d.manifest

    @property
    def config(self) -> dict[str, Any]:
        return self._d.config

    @property
    def seed(self) -> int | None:
        return self._d.seed

    @property
    def days(self) -> int:
        return self._d.days

    @property
    def tables(self) -> list[str]:
        """Names of this run's tables (``records/<department>`` included)."""
        return self._d.tables

    def has(self, name: str) -> bool:
        return self._d.has(name)

    def scan(self, name: str) -> pl.LazyFrame:
        return self._d.scan(name)

    def table(self, name: str) -> pl.DataFrame:
        return self._d.table(name)

    # --- tables (DESIGN.md §5, docs/policy.md, docs/linkage.md) -------------------------
    @property
    def residents(self) -> pl.DataFrame:
        return self._d.table("residents")

    @property
    def events(self) -> pl.DataFrame:
        return self._d.table("events")

    @property
    def links(self) -> pl.DataFrame:
        return self._d.table("links")

    @property
    def ledger(self) -> pl.DataFrame:
        return self._d.table("ledger")

    @property
    def scores(self) -> pl.DataFrame:
        return self._d.table("scores")

    @property
    def list_spells(self) -> pl.DataFrame:
        return self._d.table("list_spells")

    @property
    def decisions(self) -> pl.DataFrame:
        return self._d.table("decisions")

    @property
    def demand(self) -> pl.DataFrame:
        return self._d.table("demand")

    @property
    def appeals(self) -> pl.DataFrame:
        return self._d.table("appeals")

    @property
    def departments(self) -> list[str]:
        return self._d.departments

    def records(self, department: str | None = None) -> pl.DataFrame:
        """One department's records, or every department's (common columns first;
        department-specific columns null elsewhere)."""
        import polars as pl

        if department is not None:
            if department not in self._d.departments:
                raise CreditsimError(f"no department {department!r}; this run has "
                                 f"{', '.join(self._d.departments)}")
            return self._d.table(f"records/{department}")
        return pl.concat([self._d.table(f"records/{d}") for d in self._d.departments],
                         how="diagonal_relaxed")

    # --- the audit side ------------------------------------------------------------------
    def audit(self, by: str | Sequence[str] | None = None,
              reference: str | Sequence[str] | None = None, min_residents: int = 100,
              min_events: int = 5) -> AuditResult:
        """The audit (docs/audit.md): ``by`` groupings (default district, hukou,
        income_decile, age_band, sex), ``reference`` as ``"hukou=local"``."""
        from creditsim.audit.core import audit_run
        from creditsim.audit.stats import Thresholds

        return AuditResult(audit_run(self._d, by=by, reference=reference,
                                     thresholds=Thresholds(min_residents, min_events)))

    def explain(self, resident_id: int) -> Explanation:
        """The provenance chain of one resident (``.timeline``, ``.wrongly_linked_in``)."""
        from creditsim.audit.explain import explain_resident

        return explain_resident(self._d, resident_id)

    def report(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the self-contained HTML report; returns its path. An existing file at
        ``path`` is replaced only with ``overwrite``."""
        from creditsim.report import build_report

        return build_report(self._d, path, overwrite=overwrite)

    def compare(self, other: Run | str | Path, by: str | Sequence[str] | None = None,
                force: bool = False) -> dict[str, Any]:
        """This run (A) against ``other`` (B) on the same residents."""
        from creditsim.audit.compare import compare_runs

        o = other if isinstance(other, Run) else Run(other, verify=self._verify)
        return compare_runs(self._d, o._d, by=by, force=force)


def open_run(path: str | Path, verify: bool = True) -> Run:
    """Open a finished run directory (raises if it is not a complete, published run
    or a file differs from its manifest; ``verify=False`` skips the sha256 check)."""
    return Run(path, verify=verify)


def simulate(scenario: str | Path | Mapping[str, Any] | None = None,
             out: str | Path | None = None, *, overwrite: bool = False, quiet: bool = True,
             force: bool = False, **options: Any) -> Run:
    """Run the pipeline as ``creditsim run`` does and open the result.

    ``scenario``: a scenario file (docs/scenarios.md) or a dict of the same keys;
    ``options``: run settings (``residents=``, ``days=``, ``seed=``, ``policy=``,
    ``feedback=``, … — the fields of :class:`~creditsim.config.RunConfig`) over the
    scenario's, and ``set={key: value}`` (or ``parameters=``) model-parameter
    overrides over its ``[parameters]``. The same validation (every problem at once,
    one :class:`~creditsim.errors.ConfigError`, nothing written), the same resource
    check (``force``: warn and run), the same run directory (default
    ``runs/<city>-seed<seed>``; ``overwrite`` replaces a run there) and the same
    pipeline as the command line. ``quiet=False`` prints notes and each stage's
    seconds to stderr."""
    import sys

    from creditsim.launch import api_request, before_run, prepare
    from creditsim.pipeline import run as run_pipeline

    def tell(kind: str, line: str) -> None:
        if not quiet:
            print(f"{kind}: {line}", file=sys.stderr)

    prep = prepare(api_request(scenario, options))
    out_dir = before_run(prep.config, Path(out) if out is not None else None, overwrite,
                         force, tell)
    res = run_pipeline(prep.config, out_dir, overwrite=overwrite, policy=prep.policy,
                       on_stage=lambda stage, secs: tell("stage", f"{stage} {secs:.2f} s"))
    return Run(res.out)
