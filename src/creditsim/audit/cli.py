"""Typer commands ``audit``, ``explain``, ``compare`` and ``report``.

Plain functions; :func:`mount` registers them on the main app (``creditsim.cli``),
wrapped in its error handler so bad input prints one line and exits 2.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

out_console = Console()

RunArg = Annotated[Path, typer.Argument(help="A run directory made by `creditsim run`.",
                                        show_default=False)]
ByOpt = Annotated[str, typer.Option(
    "--by", help="Comma-separated groupings: district, hukou, income_decile, age_band, sex, "
                 "education, relation, name_commonness.")]


VerifyOpt = Annotated[bool, typer.Option(
    "--verify/--no-verify",
    help="Check every file's sha256 against the run's manifest (cached after the first "
         "time); --no-verify skips it (sizes, row counts and column types are still "
         "checked).")]


def _dump(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def audit_command(
    run_dirs: Annotated[list[Path], typer.Argument(
        help="A run directory; or a sweep directory, or several runs of one scenario "
             "(group rates pooled over the replicates).", show_default=False)],
    by: Annotated[str | None, typer.Option(
        "--by", help="Comma-separated groupings: district, hukou, income_decile, age_band, "
                     "sex, education, relation, name_commonness (default: the first five; "
                     "a sweep: the groupings its audits have).", show_default=False)] = None,
    reference: Annotated[list[str] | None, typer.Option(
        "--reference", help="Reference group GROUPING=GROUP (repeatable); default: the "
                            "largest group.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (schema in "
                                                         "docs/audit.md).")] = False,
    min_residents: Annotated[int | None, typer.Option(
        help="Groups smaller than this are 'insufficient data' (default 100; a sweep: "
             "its audits' setting).", min=1, show_default=False)] = None,
    min_events: Annotated[int | None, typer.Option(
        help="Comparisons with fewer events are 'insufficient data' (default 5; a sweep: "
             "its audits' setting).", min=1, show_default=False)] = None,
    metric: Annotated[list[str] | None, typer.Option(
        help="Pooled: the group metrics to show (repeatable; default sanctioned, "
             "wrongly_sanctioned).")] = None,
    verify: VerifyOpt = True,
) -> None:
    """What the system did to people: sanctions, wrongful sanctions by cause, disparate
    impact with intervals, cascade, time on list, services, linkage accuracy. Given a
    sweep or several runs of one scenario: group rates and ratios pooled over them."""
    from creditsim.audit import RunData, Thresholds, audit_run
    from creditsim.audit.render import print_audit

    th = None if min_residents is None and min_events is None else Thresholds(
        min_residents or Thresholds.min_residents, min_events or Thresholds.min_events)
    if len(run_dirs) > 1 or _is_sweep(run_dirs[0]):
        doc = pooled_audit(run_dirs, by, reference, th, verify)
        if as_json:
            _dump(doc)
        else:
            from creditsim.audit.pooled import pooled_rows

            print_pooled(pooled_rows(doc["cells"]), doc.get("runs"), metric, None)
        return
    res = audit_run(RunData(run_dirs[0], verify=verify), by=by, reference=reference,
                    thresholds=th or Thresholds())
    if as_json:
        _dump(res)
    else:
        print_audit(res, out_console)


def _is_sweep(path: Path) -> bool:
    return (path / "sweep.json").is_file()


def pooled_audit(paths: list[Path], by: str | None, reference: list[str] | None,
                 th: Any, verify: bool) -> dict[str, Any]:
    """The pooled audit of a sweep directory (per arm and design point) or of several
    runs of one scenario (one cell); every problem with the runs at once."""
    from creditsim.audit import RunData, audit_run
    from creditsim.audit.core import parse_reference
    from creditsim.audit.groups import parse_by
    from creditsim.audit.pooled import SCHEMA, pool_audits, same_scenario_problems
    from creditsim.audit.run import AuditError

    refs = parse_reference(reference)
    if len(paths) == 1:
        from creditsim.sweep.api import open_sweep

        doc = open_sweep(paths[0]).pooled(th, refs)
        if by is not None:
            keep = parse_by(by)
            have = {g for c in doc["cells"] for g in c["groups"]}
            if set(keep) - have:
                raise AuditError(f"{paths[0]}: its audits have no grouping "
                                 f"{', '.join(sorted(set(keep) - have))} (they have "
                                 f"{', '.join(sorted(have))})")
            for c in doc["cells"]:
                c["groups"] = {g: t for g, t in c["groups"].items() if g in keep}
        return doc
    sweeps = [str(p) for p in paths if _is_sweep(p)]
    if sweeps:
        raise AuditError(f"{', '.join(sweeps)}: a sweep directory is audited alone "
                         "(its arms are pooled separately)")
    runs = [RunData(p, verify=verify) for p in paths]
    problems = same_scenario_problems([(str(r.path), r.config, r.seed) for r in runs])
    if problems:
        raise AuditError(problems)
    pooled = pool_audits((audit_run(r, by=by, reference=reference, thresholds=th)
                          for r in runs), th, refs)
    return {"schema": SCHEMA, "runs": [str(p) for p in paths],
            "seeds": [r.seed for r in runs],
            "cells": [{"arm": None, "point": None, "replicates": pooled["replicates"],
                       "groups": pooled["groups"]}],
            "settings": {"pooled_over": "runs (counts and denominators summed)",
                         "rate_interval": "wilson", "ratio_interval": "katz_log",
                         **pooled["thresholds"]}}


def print_pooled(frame: Any, runs: list[str] | None, metrics: list[str] | None,
                 groupings: list[str] | None) -> None:
    """The pooled group rates as a table: rate and ratio with their 95 % intervals."""
    import polars as pl
    from rich.table import Table

    if frame.height == 0:
        out_console.print("no finished jobs")
        return
    f = frame.filter(pl.col("metric").is_in(metrics or ["sanctioned", "wrongly_sanctioned"]))
    if groupings:
        f = f.filter(pl.col("grouping").is_in(groupings))
    over = f"{len(runs)} runs" if runs else "replicates"
    t = Table(title=f"pooled over {over} (Wilson / Katz 95 %)", show_edge=False)
    cols = ("grouping", "group", "metric", "residents", "count", "rate [95 %]",
            "ratio [95 %]", "comparison")
    for c in ("arm", *cols) if not runs else cols:
        t.add_column(c, justify="right" if c in ("residents", "count") else "left")
    for r in f.iter_rows(named=True):
        flag = " ⚑" if r["four_fifths_flag"] else ""
        cells = [r["grouping"], str(r["group"]), r["metric"], f"{r['residents']:,}",
                 f"{r['count']:,.0f}",
                 f"{_f(r['rate'])} [{_f(r['ci95_lo'])}, {_f(r['ci95_hi'])}]",
                 f"{_f(r['ratio'])} [{_f(r['ratio_ci95_lo'])}, {_f(r['ratio_ci95_hi'])}]",
                 r["comparison"] + flag]
        if not runs:
            cells.insert(0, r["arm"] if r["point"] is None else f"{r['arm']}.p{r['point']:03d}")
        t.add_row(*cells)
    out_console.print(t)


def _f(v: float | None) -> str:
    if v is None or v != v:
        return "–"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def explain_command(
    run_dir: RunArg,
    resident: Annotated[int, typer.Option("--resident", help="resident_id to explain.",
                                          show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    verify: VerifyOpt = True,
) -> None:
    """The provenance chain of one resident, in time order, and other residents'
    records wrongly linked to them."""
    from creditsim.audit import RunData
    from creditsim.audit.explain import explain_resident
    from creditsim.audit.render import print_explanation

    ex = explain_resident(RunData(run_dir, verify=verify), resident)
    if as_json:
        _dump(ex.to_dict())
    else:
        print_explanation(ex, out_console)


def compare_command(
    runs: Annotated[list[Path], typer.Argument(
        help="Two or more run directories (the first is the one the others are compared "
             "with), or one sweep directory (its arms against the first).",
        show_default=False)],
    by: ByOpt = "district,hukou,income_decile,age_band,sex",
    force: Annotated[bool, typer.Option(
        help="Compare even if the runs differ in seed or population.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    metric: Annotated[list[str] | None, typer.Option(
        help="A sweep: only figures matching this glob (repeatable; default: the "
             "headline).")] = None,
    verify: VerifyOpt = True,
) -> None:
    """Headline and group metrics of runs side by side (same seed and residents), each
    against the first; or a sweep's arms, each against the first, paired by replicate."""
    from creditsim.audit import RunData
    from creditsim.audit.compare import compare_many, compare_runs
    from creditsim.audit.render import print_compare
    from creditsim.audit.run import AuditError

    sweeps = [p for p in runs if _is_sweep(p)]
    if sweeps and len(runs) > 1:
        raise AuditError(f"{', '.join(map(str, sweeps))}: a sweep directory is compared "
                         "alone (its arms against the first)")
    if sweeps:
        _compare_sweep(runs[0], metric, as_json)
        return
    if len(runs) < 2:
        raise AuditError(f"{runs[0]}: compare needs two or more runs, or a sweep directory")
    data = [RunData(p, verify=verify) for p in runs]
    if len(data) == 2:
        res = compare_runs(data[0], data[1], by=by, force=force)
        _dump(res) if as_json else print_compare(res, out_console)
        return
    res = compare_many(data, by=by, force=force)
    _dump(res) if as_json else _print_many(res)


def _compare_sweep(path: Path, metric: list[str] | None, as_json: bool) -> None:
    import fnmatch

    from rich.table import Table

    from creditsim.sweep.api import open_sweep

    def keep(m: str) -> bool:
        if metric:
            return any(fnmatch.fnmatchcase(m, p) for p in metric)
        return as_json or not m.startswith("groups.")

    res = open_sweep(path).compare(keep)
    if as_json:
        _dump(res)
        return
    t = Table(title=f"{path}: per arm over replicates, median [p10–p90]", show_edge=False)
    cells = list(dict.fromkeys(_cell(r["arm"], r["point"]) for r in res["figures"]))
    t.add_column("metric")
    for c in cells:
        t.add_column(c, justify="right")
    rows: dict[str, dict[str, str]] = {}
    for r in res["figures"]:
        rows.setdefault(r["metric"], {})[_cell(r["arm"], r["point"])] = \
            f"{_f(r['median'])} [{_f(r['p10'])}–{_f(r['p90'])}]"
    for m, vals in rows.items():
        t.add_row(m, *(vals.get(c, "–") for c in cells))
    out_console.print(t)
    if res["differences"]:
        d = Table(title="paired differences against the first arm (same seeds; t-based "
                        "95 % CI)", show_edge=False)
        for c in ("metric", "arm − first", "n", "mean", "95 % CI"):
            d.add_column(c, justify="left" if c in ("metric", "arm − first") else "right")
        for r in res["differences"]:
            pt = "" if r["point"] is None else f" @p{r['point']:03d}"
            d.add_row(r["metric"], f"{r['b']} − {r['a']}{pt}", str(r["n"]), _f(r["mean"]),
                      f"[{_f(r['ci95_lo'])}, {_f(r['ci95_hi'])}]")
        out_console.print(d)


def _cell(arm: str, point: int | None) -> str:
    return arm if point is None else f"{arm}.p{point:03d}"


def _print_many(res: dict[str, Any]) -> None:
    from rich.table import Table

    for i, r in enumerate(res["runs"]):
        note = "" if r["comparable"] else " [yellow](forced: " + "; ".join(r["problems"]) + ")[/]"
        out_console.print(f"[bold]{i}[/] {r['path']} (seed {r['seed']}, policy "
                          f"{r['policy']}){note}", highlight=False)
    if res["config_diff"]:
        out_console.print("config differs: " + "; ".join(
            f"{k}: {' / '.join(map(str, v))}" for k, v in res["config_diff"].items()))
    n = len(res["runs"])
    t = Table(title="headline (each run, and its difference from run 0)", show_edge=False)
    t.add_column("metric")
    for i in range(n):
        t.add_column(str(i) if i == 0 else f"{i} (− 0)", justify="right")
    for r in res["headline"]:
        vals = r["values"]
        if not any(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
            continue
        cells = [_f(vals[0]) if isinstance(vals[0], int | float) else str(vals[0])]
        for v, d in zip(vals[1:], r["diff"][1:], strict=True):
            shown = _f(v) if isinstance(v, int | float) else str(v)
            cells.append(shown if d is None else f"{shown} ({'+' if d >= 0 else '−'}"
                                                 f"{_f(abs(d))})")
        t.add_row(r["metric"].replace("_", " "), *cells)
    out_console.print(t)
    for i, p in enumerate(res["paired"]):
        if p:
            out_console.print(f"paired 0 vs {i}: " + " · ".join(
                f"{m.replace('_', ' ')}: both {v['both']:,}, only 0 {v['only_first']:,}, "
                f"only {i} {v['only_this']:,}" for m, v in p.items()))


def report_command(
    run_dir: RunArg,
    out: Annotated[Path | None, typer.Option(
        help="HTML file to write (default DIR/report.html).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing file at --out.")] = False,
    verify: VerifyOpt = True,
) -> None:
    """One self-contained offline HTML report of the run; of a sweep directory, each
    headline figure's median and 10–90 % band per arm and the pooled group rates."""
    from creditsim.audit import RunData
    from creditsim.report import build_report, check_report_out
    from creditsim.signals import interruptible

    target = out or run_dir / "report.html"
    check_report_out(target, overwrite)  # before any work
    if _is_sweep(run_dir):
        from creditsim.report import build_sweep_report
        from creditsim.sweep.api import open_sweep

        sw = open_sweep(run_dir)
        path = build_sweep_report(run_dir.name, sw.summary().to_dicts(), sw.pooled(), target,
                                  overwrite=overwrite)
        out_console.print(f"[green]report[/]: {path}", highlight=False)
        return
    run = RunData(run_dir, verify=verify)
    with interruptible() as guard:
        try:
            path = build_report(run, target, overwrite=overwrite)
        except KeyboardInterrupt:
            import signal

            sig = guard.signal or signal.SIGINT
            typer.echo(f"error: interrupted ({signal.Signals(sig).name}), no report written",
                       err=True)
            raise typer.Exit(128 + sig) from None
    out_console.print(f"[green]report[/]: {path}", highlight=False)


COMMANDS: dict[str, Callable[..., None]] = {
    "audit": audit_command, "explain": explain_command, "compare": compare_command,
    "report": report_command,
}


def _table_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A run whose files passed the checks but still cannot be read as the audit
    expects (a manifest edited to match changed tables): one line, not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import polars as pl
        import pyarrow as pa

        from creditsim.audit.run import AuditError

        try:
            return fn(*args, **kwargs)
        except (pl.exceptions.PolarsError, pa.ArrowException) as e:
            runs = ", ".join(str(x) for k, v in kwargs.items() if k.startswith("run")
                             for x in (v if isinstance(v, list) else [v]))
            first = (str(e).strip().splitlines() or [""])[0][:160]
            raise AuditError(f"{runs}: cannot read the run's tables as creditsim writes them "
                             f"({type(e).__name__}: {first})") from None

    return wrapper


def mount(app: typer.Typer, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Register the four commands on ``app``, each wrapped by ``wrap`` (the error handler)."""
    for name, fn in COMMANDS.items():
        app.command(name, help=fn.__doc__)(wrap(_table_errors(fn)))
