"""Command-line commands for policies, mounted by ``creditsim.cli``:

* ``creditsim policy check FILE`` — validate a file, report every problem (exit 2);
* ``creditsim policy show NAME`` — print a preset's file;
* ``creditsim presets`` — list the presets (:func:`presets_command`).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from creditsim.policy.errors import PolicyError
from creditsim.policy.loader import list_presets, load_policy, preset_text

policy_app = typer.Typer(
    name="policy",
    help="Check policy files and show the shipped presets.",
    no_args_is_help=True,
    add_completion=False,
)


def _print_problems(err: PolicyError, console: Console) -> None:
    n = len(err.problems)
    console.print(f"[bold red]{n} problem{'s' if n != 1 else ''}[/bold red]", highlight=False)
    for p in err.problems:
        console.print(
            f"  {p.location}: {p.message}" if p.location else f"  {p.message}",
            highlight=False,
            markup=False,
        )


@policy_app.command("check")
def check_command(
    file: Path = typer.Argument(..., help="A policy file (TOML) or a preset name."),  # noqa: B008
) -> None:
    """Validate a policy file and report every problem with its location."""
    console = Console(stderr=False, soft_wrap=True)
    try:
        policy = load_policy(str(file) if not file.exists() else file)
    except PolicyError as e:
        _print_problems(e, Console(stderr=True, soft_wrap=True))
        raise typer.Exit(code=2) from None
    parts = [
        f"{len(policy.rules)} rules",
        f"{len(policy.tiers)} tiers",
        f"{len(policy.overrides)} overrides",
        f"{len(policy.lists)} lists",
        f"{len(policy.consequences)} consequences",
    ]
    unconfirmed = sum(
        1
        for section in (
            policy.tiers,
            policy.rules,
            policy.overrides,
            policy.lists,
            policy.consequences,
        )
        for item in section
        if item.status != "published"
    )
    console.print(
        f"OK {policy.meta.name}: {', '.join(parts)}; "
        f"{unconfirmed} entries not confirmed by a published source",
        highlight=False,
    )


@policy_app.command("show")
def show_command(name: str = typer.Argument(..., help="Preset name, e.g. rongcheng.")) -> None:
    """Print a preset's policy file."""
    try:
        text = preset_text(name)
    except PolicyError as e:
        _print_problems(e, Console(stderr=True, soft_wrap=True))
        raise typer.Exit(code=2) from None
    typer.echo(text, nl=False)


def presets_command() -> None:
    """List the shipped presets: name, title and one-line description."""
    table = Table(title="Policy presets", show_lines=False)
    table.add_column("name", style="bold")
    table.add_column("title")
    table.add_column("description")
    for p in list_presets():
        table.add_row(p.name, p.title, p.description)
    Console().print(table)
