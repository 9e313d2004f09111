"""``creditsim scenario show`` and ``creditsim scenario check``, and which of ``run``'s
options were given explicitly.

Both commands take creditsim run's own options (parsed by ``run``'s parser, so every
option ``run`` has works here too), resolve them exactly as ``run`` does
(:func:`creditsim.launch.prepare`) and write nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

scenario_app = typer.Typer(
    name="scenario",
    help="Show the fully resolved scenario of a run, or check a scenario file.",
    no_args_is_help=True,
    add_completion=False,
)
err_console = Console(stderr=True)
#: The root app, whose ``run`` command parses the options (set by :func:`mount`).
_ROOT: list[typer.Typer] = []
_PASS = {"ignore_unknown_options": True, "allow_extra_args": True}


def explicit_options(ctx: Any) -> dict[str, Any]:
    """The run settings (RunConfig fields) of a parsed ``run`` command line that were
    given on it (or by the environment): the ones left at their defaults do not
    override a scenario file."""
    from creditsim.scenario import option_fields

    def given(name: str) -> bool:  # by name: Typer's Click is vendored, not importable
        source = ctx.get_parameter_source(name)
        return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")

    fields = set(option_fields())
    return {name: value for name, value in ctx.params.items() if name in fields
            and given(name)}


def _note(line: str) -> None:
    err_console.print(f"[yellow]note:[/] {escape(line)}", highlight=False, soft_wrap=True)


def _prepared(ctx: typer.Context, file: Path | None) -> Any:
    """``run``'s options in ``ctx.args`` (and ``file`` as its ``--scenario``), prepared."""
    from creditsim.launch import cli_request, prepare

    root = typer.main.get_command(_ROOT[0])
    run_cmd = root.get_command(ctx, "run")  # type: ignore[attr-defined]
    args = ([] if file is None else ["--scenario", str(file)]) + list(ctx.args)
    with run_cmd.make_context("run", args, parent=ctx) as run_ctx:
        p = run_ctx.params
        return prepare(cli_request(p.get("scenario"), explicit_options(run_ctx),
                                   p.get("set_"), p.get("preset"), _note))


@scenario_app.command("show", context_settings=_PASS)
def show_command(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(
        help="A scenario file (TOML); without one, the defaults and the options.")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print JSON: each option and override with its value and origin.")
    ] = False,
) -> None:
    """Print the fully resolved scenario: FILE with any of creditsim run's options
    (--days, --set KEY=VALUE, …) over it, every value with a comment naming where it
    came from. Saved to a file, it gives the same run with run --scenario."""
    from creditsim.scenario import describe, render

    prep = _prepared(ctx, file)
    if as_json:
        typer.echo(json.dumps(describe(prep.config, prep.meta), ensure_ascii=False, indent=1))
    else:
        typer.echo(render(prep.config, prep.meta), nl=False)


@scenario_app.command("check", context_settings=_PASS)
def check_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A scenario file (TOML).")],
) -> None:
    """Validate a scenario file (with any of creditsim run's options over it) and
    report every problem with its location; exit 2 if there is one."""
    prep = _prepared(ctx, file)
    o = prep.config.origins
    n_file = sum(1 for v in o.options.values() if v.startswith(f"{file}:"))
    typer.echo(f"OK {file}: {n_file} option{'s' if n_file != 1 else ''} and "
               f"{len(prep.config.overrides)} parameter override"
               f"{'s' if len(prep.config.overrides) != 1 else ''}; policy "
               f"{prep.policy.policy.meta.name} ({prep.policy.origin}); "
               f"{prep.config.residents:,} residents × {prep.config.days} days, "
               f"seed {prep.config.seed}")


def mount(app: typer.Typer, handle_errors: Callable[[Callable[..., Any]], Any]) -> None:
    """Register ``creditsim scenario`` on the command-line app."""
    _ROOT[:] = [app]
    for cmd in scenario_app.registered_commands:
        cmd.callback = handle_errors(cmd.callback)
    app.add_typer(scenario_app, name="scenario")
