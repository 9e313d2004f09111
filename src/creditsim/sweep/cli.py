"""``creditsim sweep SPEC.toml --out DIR``, ``creditsim sweep summary DIR`` and
``creditsim sweep audit DIR`` (group rates pooled over replicates).

``sweep`` is a command group whose default command is ``run``: ``creditsim sweep
SPEC …`` is ``creditsim sweep run SPEC …``. Heavy modules are imported when a
command runs, so ``creditsim --help`` stays fast.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

out_console = Console()
err_console = Console(stderr=True)


class _RunByDefault(TyperGroup):
    """Arguments that do not start with a subcommand's name go to ``run``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


sweep_app = typer.Typer(cls=_RunByDefault, no_args_is_help=True,
                        help="Experiments: arms × design points × replicates "
                             "(docs/sweep.md). `creditsim sweep SPEC.toml --out DIR`.")


def run_command(
    spec: Annotated[Path, typer.Argument(help="The sweep spec (TOML; docs/sweep.md).")],
    out: Annotated[Path, typer.Option(help="The sweep directory.")],
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    resume: Annotated[bool, typer.Option(
        help="Run only the jobs that are missing or failed (same spec).")] = False,
    expand: Annotated[bool, typer.Option(
        help="Add the spec's new arms or replicates to a sweep; nothing done is redone.")
    ] = False,
    tasks_per_worker: Annotated[int, typer.Option(
        min=1, help="Jobs a worker runs before it is replaced.")] = 16,
    residents: Annotated[int | None, typer.Option(
        help="Replace [base] residents (a smaller trial of the same spec).")] = None,
    replicates: Annotated[int | None, typer.Option(
        help="Replace the spec's replicates.")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Run a sweep: every (arm, design point, replicate) job not yet done."""
    from creditsim.signals import interruptible
    from creditsim.sweep.api import Options, run_sweep
    from creditsim.sweep.spec import read_spec, resized

    sp = resized(read_spec(spec), residents, replicates)
    opts = Options(workers=workers, resume=resume, expand=expand,
                   tasks_per_worker=tasks_per_worker)
    bar = _Bar(quiet)
    with interruptible() as guard:
        try:
            with bar:
                sw = run_sweep(sp, out, opts, on_start=bar.start, on_done=bar.done)
        except BaseException:
            if guard.signal is None:
                raise
            import signal

            name = signal.Signals(guard.signal).name
            err_console.print(f"[bold red]interrupted[/] ({name}): the jobs done are kept; "
                              f"continue with --resume", highlight=False)
            raise typer.Exit(128 + guard.signal) from None
    st = dict(sw.index["status"].value_counts().iter_rows())
    out_console.print(f"[green]sweep[/] {out}: {st.get('done', 0)} done, "
                      f"{st.get('failed', 0)} failed, {st.get('missing', 0)} missing")
    if st.get("failed"):
        raise typer.Exit(1)


class _Bar:
    """The progress bar: jobs done, failed, and the estimated time left."""

    def __init__(self, quiet: bool):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.failed = 0
        self.prog = Progress(TextColumn("jobs"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("failed {task.fields[failed]}"),
                             TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                             console=out_console, disable=quiet)
        self.task = None

    def __enter__(self) -> _Bar:
        self.prog.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.prog.__exit__(*exc)

    def start(self, plan: Any) -> None:
        self.task = self.prog.add_task("jobs", total=len(plan.spec.jobs),
                                       completed=plan.done, failed=0)

    def done(self, outcome: Any) -> None:
        if outcome.status != "done":
            self.failed += 1
            err_console.print(f"[red]job {escape(outcome.rel)} {outcome.status}[/]: "
                              f"{escape(str(outcome.error))}", highlight=False, soft_wrap=True)
        if self.task is not None:
            self.prog.update(self.task, advance=1, failed=self.failed)


def summary_command(
    sweep_dir: Annotated[Path, typer.Argument(help="A sweep directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="Every figure as JSON.")] = False,
    metric: Annotated[list[str] | None, typer.Option(
        help="Only figures matching this glob (repeatable; default: the headline).")] = None,
) -> None:
    """Per arm: median, 10–90 % band, Monte-Carlo SE; paired arm-vs-arm differences."""
    from creditsim.sweep.api import open_sweep

    sw = open_sweep(sweep_dir)
    keep = _metric_filter(metric, everything=as_json)
    if as_json:
        out_console.print_json(json.dumps(sw.to_json(keep), default=str))
        return
    _print_summary(sw, keep)


def audit_command(
    sweep_dir: Annotated[Path, typer.Argument(help="A sweep directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="Every pooled table as JSON.")] = False,
    metric: Annotated[list[str] | None, typer.Option(
        help="Group metrics to show (repeatable; default sanctioned, wrongly_sanctioned).")
    ] = None,
    grouping: Annotated[list[str] | None, typer.Option(
        help="Groupings to show (repeatable; default all the audits have).")] = None,
) -> None:
    """Group rates and ratios pooled over each arm's replicates (docs/sweep.md)."""
    from creditsim.audit.cli import print_pooled
    from creditsim.sweep.api import open_sweep

    sw = open_sweep(sweep_dir)
    if as_json:
        out_console.print_json(json.dumps(sw.pooled(), default=str))
        return
    print_pooled(sw.pooled_groups(), None, metric, grouping)


def _metric_filter(patterns: list[str] | None, everything: bool) -> Callable[[str], bool]:
    if patterns:
        return lambda m: any(fnmatch.fnmatchcase(m, p) for p in patterns)
    if everything:
        return lambda m: True
    return lambda m: not m.startswith("groups.")


def _print_summary(sw: Any, keep: Callable[[str], bool]) -> None:
    from creditsim.sweep.api import select

    idx = sw.index
    out_console.print(f"[bold]{escape(str(sw.path))}[/]: {idx.height} jobs · " + " · ".join(
        f"{s} {n}" for s, n in idx["status"].value_counts().sort("status").iter_rows()))
    s = select(sw.summary(), keep)
    t = Table(title="per arm (over replicates)", show_edge=False)
    for c in ("metric", "arm", "n", "median", "p10–p90", "mean ± mcse"):
        t.add_column(c, justify="left" if c in ("metric", "arm") else "right")
    for r in s.iter_rows(named=True):
        arm = r["arm"] if r["point"] is None else f"{r['arm']}.p{r['point']:03d}"
        t.add_row(r["metric"], arm, str(r["n"]), _f(r["median"]),
                  f"{_f(r['p10'])}–{_f(r['p90'])}", f"{_f(r['mean'])} ± {_f(r['mcse'])}")
    out_console.print(t)
    d = select(sw.differences(), keep)
    if d.height:
        t = Table(title="paired differences B − A (same seeds; t-based 95 % CI)",
                  show_edge=False)
        for c in ("metric", "B − A", "n", "mean", "95 % CI"):
            t.add_column(c, justify="left" if c in ("metric", "B − A") else "right")
        for r in d.iter_rows(named=True):
            pt = "" if r["point"] is None else f" @p{r['point']:03d}"
            t.add_row(r["metric"], f"{r['b']} − {r['a']}{pt}", str(r["n"]), _f(r["mean"]),
                      f"[{_f(r['ci95_lo'])}, {_f(r['ci95_hi'])}]")
        out_console.print(t)


def _f(v: float | None) -> str:
    if v is None or v != v:
        return "–"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def mount(app: typer.Typer, handle_errors: Callable[[Any], Any]) -> None:
    """Register ``creditsim sweep`` (with ``run`` and ``summary``) on ``app``."""
    sweep_app.command("run")(handle_errors(run_command))
    sweep_app.command("summary")(handle_errors(summary_command))
    sweep_app.command("audit")(handle_errors(audit_command))
    app.add_typer(sweep_app, name="sweep")
