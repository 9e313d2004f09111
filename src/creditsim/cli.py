"""The ``creditsim`` command line (Typer + Rich). Thin: it parses options, calls
the library, and prints. Every user error exits with code 2 and one line per
problem — never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from creditsim.errors import CreditsimError

app = typer.Typer(
    name="creditsim",
    help="A city-scale simulator and audit lab of social credit systems "
    "(synthetic residents only; no real data, no live scoring).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out_console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(fn: F) -> F:
    """Turn :class:`CreditsimError` into located messages and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CreditsimError as e:
            for p in e.problems:
                err_console.print(f"[bold red]error:[/] {escape(str(p))}", highlight=False,
                                  soft_wrap=True)
            raise typer.Exit(2) from None
        except OSError as e:
            where = f"{e.filename}: " if e.filename else ""
            err_console.print(f"[bold red]error:[/] {escape(where + str(e.strerror or e))}",
                              highlight=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("[bold red]interrupted[/]: nothing was published")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


@app.command()
@handle_errors
def run(
    ctx: typer.Context,
    scenario: Annotated[list[Path] | None, typer.Option(
        help="Scenario file (TOML): the run's options and parameter overrides; options "
             "given here and --set override it (docs/scenarios.md).")] = None,
    city: Annotated[str, typer.Option(help="City profile: a shipped city (creditsim cities "
                                      "lists them) or a city file (docs/cities.md).")
                    ] = "beijing",
    preset: Annotated[str | None, typer.Option(
        hidden=True, help="Deprecated name of --city.")] = None,
    residents: Annotated[int, typer.Option(
        help="Residents (default: the city's population / 100; Beijing 21,893,095).")] = 0,
    days: Annotated[int, typer.Option(help="Days of results, from the start date.")] = 365,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    start_date: Annotated[str | None, typer.Option(
        help="Day 0, YYYY-MM-DD (default: the city profile's).")] = None,
    burn_in_days: Annotated[int, typer.Option(
        help="Days simulated before the start date (negative days in the tables), so "
             "that day 0 is not a cold start; five years by default (DESIGN.md §5).")
    ] = 1826,  # config.DEFAULT_BURN_IN_DAYS (kept equal by tests/scenario)
    out: Annotated[Path | None, typer.Option(
        help="Run directory (default runs/<city>-seed<seed>).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing run at --out.")] = False,
    chunk_residents: Annotated[int, typer.Option(
        help="Residents per processing chunk (memory bound; outputs do not depend on it).")
    ] = 1 << 21,
    policy: Annotated[str | None, typer.Option(
        help="Policy preset name or TOML file (default: the city's own preset).")] = None,
    linkage_threshold: Annotated[float, typer.Option(
        help="Minimum match probability for a probabilistic link, in (0, 1].")] = 0.5,
    feedback: Annotated[bool, typer.Option(
        "--feedback/--no-feedback",
        help="Behavioural feedback: deterrence, gaming, repayment after listing.")] = True,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
    force: Annotated[bool, typer.Option(
        help="Run even if the estimated memory or disk exceeds what is available.")] = False,
    checkpoint: Annotated[bool, typer.Option(
        help="Keep each completed stage's outputs in the temp directory, so a failed or "
             "killed run can be resumed.")] = False,
    resume: Annotated[bool, typer.Option(
        help="Continue the checkpoint of a dead run of --out with the same options "
             "(implies --checkpoint).")] = False,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="key=value: replace a model parameter (repeatable; "
        "creditsim params lists the keys).")] = None,
) -> None:
    """Build the synthetic city and run the pipeline into a run directory.

    The options that are run settings (RunConfig fields) count only where given
    explicitly: over a --scenario file's values, under --set."""
    from creditsim.launch import before_run, cli_request, prepare
    from creditsim.pipeline import PLAN
    from creditsim.pipeline import run as run_pipeline
    from creditsim.scenario_cli import explicit_options

    prep = prepare(cli_request(scenario, explicit_options(ctx), set_, preset, _note))
    cfg = prep.config
    out_dir = before_run(cfg, out, overwrite, force, _tell)
    out_console.print(
        f"[bold]creditsim[/] {cfg.city}: {cfg.residents:,} residents × {cfg.days} days from "
        f"{cfg.start_date} (burn-in {cfg.burn_in_days} days), "
        f"seed {cfg.seed} → {out_dir}")
    out_console.print("plan: " + " → ".join(
        s.name + (f" ({' → '.join(x.name for x in s.steps)})" if s.steps else "") for s in PLAN),
        highlight=False)
    with Progress(TextColumn("{task.description:<12}"), BarColumn(), TimeElapsedColumn(),
                  console=out_console, disable=quiet, transient=False) as prog:
        tasks = {s.name: prog.add_task(s.name, total=1.0) for s in PLAN}

        def progress(stage: str, frac: float) -> None:
            if stage in tasks:
                prog.update(tasks[stage], completed=min(1.0, frac))

        def on_stage(stage: str, _secs: float) -> None:
            prog.update(tasks[stage], completed=1.0)

        _stoppable(lambda: _run_reported(cfg, out_dir, functools.partial(
            run_pipeline, cfg, out_dir, overwrite=overwrite, progress=progress,
            on_stage=on_stage, policy=prep.policy), (checkpoint or resume, resume)),
                   lambda res: _summary(res.manifest, res.out))


def _note(line: str) -> None:
    _tell("note", line)


def _tell(kind: str, line: str) -> None:
    colour = "yellow" if kind == "note" else "bold yellow"
    err_console.print(f"[{colour}]{kind}:[/] {escape(line)}", highlight=False, soft_wrap=True)


def _run_reported(cfg: Any, out_dir: Path, call: Callable[..., Any],
                  ckpt_opts: tuple[bool, bool]) -> Any:
    """The run (checkpointed if asked), a full disk anywhere in it as one line."""
    try:
        return _run_checkpointed(out_dir, ckpt_opts[0], call, ckpt_opts[1])
    except Exception as e:
        _raise_if_disk_full(e, cfg.residents, cfg.simulated_days, out_dir)
        raise


def _stoppable(call: Callable[[], Any], then: Callable[[Any], None]) -> None:
    """``then(call())`` (a run, then its summary) with SIGINT, SIGTERM and SIGHUP
    turned into a clean stop: the temporary directory is removed, one line says so
    (or that the run was already complete), and the exit code is 128 + the
    signal's number."""
    import signal

    from creditsim.rundir import abort_unfinished
    from creditsim.signals import Interrupted, interruptible

    res = None
    with interruptible() as guard:
        try:
            res = call()
            then(res)
        except BaseException as e:
            sig = guard.signal or (signal.SIGINT if isinstance(e, KeyboardInterrupt) else None)
            if sig is None:
                raise
            abort_unfinished()
            done = res.out if res is not None else \
                e.published if isinstance(e, Interrupted) else None
            name = signal.Signals(sig).name
            err_console.print(f"[bold red]interrupted[/] ({name}): the run was already "
                              f"complete and is in place at {escape(str(done))}" if done
                              else f"[bold red]interrupted, nothing published[/] ({name})",
                              highlight=False)
            raise typer.Exit(128 + sig) from None


def _raise_if_disk_full(exc: Exception, residents: int, days: int, out_dir: Path) -> None:
    """A full disk anywhere in the run (Polars, pyarrow, DuckDB, Splink) as one
    located problem; the run has already removed its temporary directory."""
    from creditsim.resources import disk_full_error, estimate

    err = disk_full_error(exc, out_dir, estimate(residents, days).disk)
    if err is not None:
        raise err from None


def _run_checkpointed(out: Path, on: bool, call: Callable[..., Any], resume: bool) -> Any:
    """``call`` with checkpointing ``on`` (``resume``: continue a dead run's); if it
    fails, say where the kept partial run is and how to resume it."""
    from creditsim import checkpoint as ckpt

    if not on:
        return call()
    note = functools.partial(err_console.print, highlight=False, soft_wrap=True)
    try:
        return call(checkpoint=ckpt.Options(resume=resume, note=note))
    except BaseException:
        kept = ckpt.kept(out)
        if kept is not None:
            note(f"the partial run is kept in {kept}; to continue it, run the same command "
                 "with --resume")
        raise


def _summary(manifest: dict[str, Any], out: Path) -> None:
    t = Table(title="stages", show_edge=False)
    t.add_column("stage")
    t.add_column("seconds", justify="right")
    for s in manifest["stages"]:
        t.add_row(s["stage"], f"{s['seconds']:.2f}")
    out_console.print(t)
    tabs = manifest["tables"]
    rec_rows = sum(v["rows"] for k, v in tabs.items() if k.startswith("records/"))
    out_console.print(
        f"residents {tabs['residents.parquet']['rows']:,} · events "
        f"{tabs['events.parquet']['rows']:,} · records {rec_rows:,} · peak memory "
        f"{manifest['peak_rss_gb']:.2f} GB")
    import polars as pl

    if "links.parquet" in tabs:
        # The audit's definition (docs/audit.md): over the records that happened,
        # not linkage.json's over every candidate record.
        lk = pl.scan_parquet(out / "links.parquet").select(
            pl.len().alias("records"), pl.col("resident_id").is_not_null().sum().alias("links"),
            (pl.col("resident_id") == pl.col("truth_resident_id")).fill_null(False).sum()
            .alias("correct")).collect().row(0, named=True)
        n, links, ok = lk["records"], lk["links"], lk["correct"]
        out_console.print(f"linkage (records that happened): precision "
                          f"{_ratio(ok / links if links else None)} · recall "
                          f"{_ratio(ok / n if n else None)} · unlinked records {n - links:,}")
    if "list_spells.parquet" in tabs:
        # the results window [0, days): spells overlapping it
        _summary_lists(pl.read_parquet(out / "list_spells.parquet").filter(
            pl.col("end_day").is_null() | (pl.col("end_day") > 0)), out / "policy.toml")
    if "decisions.parquet" in tabs:
        dec = pl.read_parquet(out / "decisions.parquet").filter(pl.col("day") >= 0)
        denied = dec.filter(pl.col("decision") == "denied")
        svc = denied["service"].cast(pl.String)
        flights = int((svc == "flight").sum())
        trains = int(svc.is_in(["g_train", "emu_first_class", "soft_sleeper"]).sum())
        gc = dec.filter(pl.col("decision").is_in(["expedited", "discounted"]))
        out_console.print(
            f"flights blocked {flights:,} · trains blocked {trains:,} · wrongful denials "
            f"{int(denied['wrongful'].sum()):,} · green-channel decisions {gc.height:,}, "
            f"wrongful {int(gc['wrongful'].sum()):,}")
    out_console.print(f"[green]complete[/]: {out}")


def _summary_lists(sp: Any, policy_file: Path) -> None:
    """Listed residents per list; the wrongly listed on sanctioning lists (not red
    lists) by cause, as the audit's headline counts them (docs/audit.md)."""
    import polars as pl

    from creditsim.audit import CAUSE_LABELS
    from creditsim.policy import load_policy

    by_list = sp.group_by("list").agg(pl.col("resident_id").n_unique()).sort("list")
    listed = ", ".join(f"{r[0]} {r[1]:,}" for r in by_list.iter_rows())
    out_console.print(f"listed residents: {sp['resident_id'].n_unique():,} ({listed})")
    if "wrongful" in sp.columns:
        red = [li.id for li in load_policy(policy_file).lists if li.kind == "red"] \
            if policy_file.exists() else []
        w = sp.filter(pl.col("wrongful") & ~pl.col("list").cast(pl.String).is_in(red))
        cause = w["wrongful_cause"].cast(pl.String)
        parts = " · ".join(f"{label} {w.filter(cause == c)['resident_id'].n_unique():,}"
                           for c, label in CAUSE_LABELS.items())
        out_console.print(f"wrongly listed residents {w['resident_id'].n_unique():,}: {parts}")


def _ratio(v: float | None) -> str:
    """A share to four places, or "–" where it is undefined (no records, no links)."""
    return "–" if v is None else f"{v:.4f}"


@app.command()
def version() -> None:
    """Print the version."""
    from creditsim import __version__

    out_console.print(__version__)


def _mount_policy() -> None:
    try:
        from creditsim.policy.cli import policy_app, presets_command
    except ImportError:  # policy package not available in this build
        return
    app.add_typer(policy_app, name="policy", help="Check and show scoring policies.")
    app.command("presets", help="List the shipped policy presets.")(
        handle_errors(presets_command))


_mount_policy()


def _mount_audit() -> None:
    try:
        from creditsim.audit.cli import mount
    except ImportError:  # audit package not available in this build
        return
    mount(app, handle_errors)


_mount_audit()


def _mount_params() -> None:
    from creditsim.params_cli import mount

    mount(app, handle_errors)


_mount_params()


def _mount_scenario() -> None:
    from creditsim.scenario_cli import mount

    mount(app, handle_errors)


_mount_scenario()


def _mount_cities() -> None:
    from creditsim.cities_cli import mount

    mount(app, handle_errors)


_mount_cities()


def _mount_sweep() -> None:
    from creditsim.sweep.cli import mount

    mount(app, handle_errors)


_mount_sweep()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    finally:
        _exit_on_signal()


def _exit_on_signal() -> None:
    """Once the command is done, a signal only ends the process: at once, with exit
    code 128 + its number, instead of a traceback from the interpreter's shutdown."""
    import os
    import signal
    import sys

    def leave(signum: int, _frame: Any) -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(128 + signum)

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(s) is not signal.SIG_IGN:
            signal.signal(s, leave)
