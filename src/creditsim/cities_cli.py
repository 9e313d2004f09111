"""``creditsim cities``: the shipped city profiles, and checking a city file.

* ``creditsim cities [--json]`` — name, population, districts, default policy, start
  date and the source of the population, per shipped city;
* ``creditsim cities show NAME_OR_FILE [--json]`` — the profile as read (TOML or JSON);
* ``creditsim cities check FILE`` — validate a city file: every problem, located, exit 2.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from creditsim.cities import CityProfile, city_names, dump_city, load_city
from creditsim.params import Cited

out_console = Console()

cities_app = typer.Typer(
    name="cities", invoke_without_command=True, add_completion=False,
    help="List the shipped city profiles; show one; check a city file (docs/cities.md).")

#: A citation of an entry of docs/sources/ in a source string.
CITATION = re.compile(r"sources\#[a-z0-9-]+")  # \# so that this line is no citation
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def summary(city: CityProfile) -> dict[str, Any]:
    """One line of ``creditsim cities``."""
    return {"name": city.name, "title": city.title, "population": city.total_population,
            "districts": len(city.districts.value), "default_policy": city.default_policy,
            "linkage_model": city.linkage_model, "start_date": city.start_date.value,
            "population_source": city.district_population.source}


def as_json(city: CityProfile) -> dict[str, Any]:
    """Every field of ``city``: plain keys, and each figure's value and source."""
    out: dict[str, Any] = {}
    for name in city.__dataclass_fields__:
        val = getattr(city, name)
        if isinstance(val, Cited):
            v = list(val.value) if isinstance(val.value, tuple) else val.value
            out[name] = {"value": v, "source": val.source}
        elif isinstance(val, str):
            out[name] = val
    return {**out, "file": city.origin, "sha256": city.sha256}


def list_command(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List the shipped city profiles."""
    if ctx.invoked_subcommand is not None:
        return
    rows = [summary(load_city(n)) for n in city_names()]
    if json_:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    t = Table(show_edge=False, title=f"{len(rows)} cities (creditsim run --city NAME or FILE; "
              "--json for the full source texts)")
    for col in ("name", "population", "districts", "default policy", "start date",
                "population source"):
        t.add_column(col, overflow="fold", no_wrap=col != "population source")
    for r in rows:
        cites = ", ".join(dict.fromkeys(CITATION.findall(r["population_source"])))
        t.add_row(r["name"], f"{r['population']:,}", str(r["districts"]), r["default_policy"],
                  r["start_date"], escape(cites or r["population_source"]))
    out_console.print(t)


def show_command(
    city: Annotated[str, typer.Argument(help="A shipped city's name or a city file.")],
    json_: JsonOpt = False,
) -> None:
    """Print a city profile as it is read: TOML (the format of a city file) or JSON."""
    profile = load_city(city)
    if json_:
        typer.echo(json.dumps(as_json(profile), ensure_ascii=False, indent=1))
    else:
        typer.echo(dump_city(profile, f"{profile.origin} (sha256 {profile.sha256})"), nl=False)


def check_command(
    file: Annotated[str, typer.Argument(help="A city file (TOML) or a shipped city's name.")],
) -> None:
    """Validate a city file; report every problem with its location (exit 2)."""
    from creditsim.modelset import check_city_references

    profile = load_city(file)
    check_city_references(profile)
    s = summary(profile)
    out_console.print(
        f"[green]ok[/]: {escape(profile.origin)}: {s['name']}, {s['districts']} districts, "
        f"{s['population']:,} residents, default policy {s['default_policy']}, linkage model "
        f"{s['linkage_model']}, start {s['start_date']}", highlight=False, soft_wrap=True)


def mount(app: typer.Typer, handle_errors: Callable[[Callable[..., Any]], Any]) -> None:
    """Register ``creditsim cities`` on the command-line app."""
    cities_app.callback()(handle_errors(list_command))
    cities_app.command("show")(handle_errors(show_command))
    cities_app.command("check")(handle_errors(check_command))
    app.add_typer(cities_app)
