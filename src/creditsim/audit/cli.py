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
    run_dir: RunArg,
    by: ByOpt = "district,hukou,income_decile,age_band,sex",
    reference: Annotated[list[str] | None, typer.Option(
        "--reference", help="Reference group GROUPING=GROUP (repeatable); default: the "
                            "largest group.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (schema in "
                                                         "docs/audit.md).")] = False,
    min_residents: Annotated[int, typer.Option(
        help="Groups smaller than this are 'insufficient data'.", min=1)] = 100,
    min_events: Annotated[int, typer.Option(
        help="Comparisons with fewer events are 'insufficient data'.", min=1)] = 5,
    verify: VerifyOpt = True,
) -> None:
    """What the system did to people: sanctions, wrongful sanctions by cause, disparate
    impact with intervals, cascade, time on list, services, linkage accuracy."""
    from creditsim.audit import RunData, Thresholds, audit_run
    from creditsim.audit.render import print_audit

    res = audit_run(RunData(run_dir, verify=verify), by=by, reference=reference,
                    thresholds=Thresholds(min_residents, min_events))
    if as_json:
        _dump(res)
    else:
        print_audit(res, out_console)


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
    run_a: Annotated[Path, typer.Argument(help="Run A.", show_default=False)],
    run_b: Annotated[Path, typer.Argument(help="Run B.", show_default=False)],
    by: ByOpt = "district,hukou,income_decile,age_band,sex",
    force: Annotated[bool, typer.Option(
        help="Compare even if the runs differ in seed or population.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    verify: VerifyOpt = True,
) -> None:
    """Headline and group metrics of two runs side by side (same seed and residents)."""
    from creditsim.audit import RunData
    from creditsim.audit.compare import compare_runs
    from creditsim.audit.render import print_compare

    res = compare_runs(RunData(run_a, verify=verify), RunData(run_b, verify=verify), by=by,
                       force=force)
    if as_json:
        _dump(res)
    else:
        print_compare(res, out_console)


def report_command(
    run_dir: RunArg,
    out: Annotated[Path | None, typer.Option(
        help="HTML file to write (default DIR/report.html).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing file at --out.")] = False,
    verify: VerifyOpt = True,
) -> None:
    """One self-contained offline HTML report of the run."""
    from creditsim.audit import RunData
    from creditsim.report import build_report, check_report_out
    from creditsim.signals import interruptible

    target = out or run_dir / "report.html"
    check_report_out(target, overwrite)  # before any work
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
            runs = ", ".join(str(v) for k, v in kwargs.items() if k.startswith("run_"))
            first = (str(e).strip().splitlines() or [""])[0][:160]
            raise AuditError(f"{runs}: cannot read the run's tables as creditsim writes them "
                             f"({type(e).__name__}: {first})") from None

    return wrapper


def mount(app: typer.Typer, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Register the four commands on ``app``, each wrapped by ``wrap`` (the error handler)."""
    for name, fn in COMMANDS.items():
        app.command(name, help=fn.__doc__)(wrap(_table_errors(fn)))
