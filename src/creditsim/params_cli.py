"""``creditsim params`` (the parameter registry) and the parsing of ``run --set``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from creditsim.errors import ConfigError, CreditsimError, Problem

out_console = Console()


def parse_sets(items: list[str] | None, city: str = "beijing") -> dict[str, Any]:
    """``--set key=value`` options → {key: value}; the value is read as a TOML value
    (number, string, boolean, array, inline table), else JSON, else text. Every
    malformed or repeated option, unknown key, wrong type and out-of-range value (for
    the ``city``, or Beijing if it does not load: its own problems are reported by the
    configuration) is reported at once."""
    from creditsim.cities import load_city
    from creditsim.config import make_config
    from creditsim.modelset import default_models, override
    from creditsim.scenario import parse_set_items

    out, problems = parse_set_items(items or [])
    if out:
        try:
            load_city(city)
        except CreditsimError:
            city = "beijing"
        cfg = make_config(city=city, residents=1)
        try:
            override(default_models(cfg), out)
        except ConfigError as e:
            problems += e.problems
    if problems:
        raise ConfigError(problems)
    return out


def _short(value: Any, width: int = 48) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 1] + "…"


def params_command(
    pattern: Annotated[str | None, typer.Argument(
        help="Keys to list: a glob ('records.*') or a substring ('male_factor').")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (key → entry).")] = False,
    city: Annotated[str, typer.Option(help="City profile whose parameters to list (a "
                                            "shipped name or a city file).")
                    ] = "beijing",
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="key=value: show the values a run with these overrides would use.")
    ] = None,
) -> None:
    """List every model parameter: key, value, unit, allowed range, status and source."""
    from creditsim.config import make_config
    from creditsim.modelset import build_models, registry
    from creditsim.paramspace import matching

    cfg = make_config(city=city, residents=1, overrides=parse_sets(set_, city))
    params = matching(registry(build_models(cfg)), pattern)
    if pattern and not params:
        raise ConfigError(Problem("no parameter key matches", f"params {pattern}"))
    if as_json:
        doc = {p.key: {**p.describe(), "origin": "--set" if p.key in cfg.overrides
                       else "default"} for p in params}
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=1))
        return
    t = Table(show_edge=False, title=f"{len(params)} parameters")
    for col in ("key", "value", "unit", "range", "status", "source"):
        t.add_column(col, overflow="fold", no_wrap=col in ("key", "range", "status"))
    for p in params:
        t.add_row(escape(p.key), escape(_short(p.describe()["value"])), escape(p.unit),
                  p.range_text, p.status, escape(p.source))
    out_console.print(t)


def mount(app: typer.Typer, handle_errors: Callable[[Callable[..., Any]], Any]) -> None:
    """Register ``creditsim params`` on the command-line app."""
    app.command("params")(handle_errors(params_command))
