"""Scenario files: one TOML file that holds a whole run, and how a run's settings are
resolved from it, the options given explicitly and the parameter overrides.

A scenario's top-level keys are the fields of :class:`~creditsim.config.RunConfig`
(whatever fields it has: city, residents, days, seed, policy, feedback, …), plus

* ``[parameters]``: model-parameter overrides by dotted key (``creditsim params``
  lists them), as nested tables or quoted dotted keys;
* ``[meta]``: ``name`` and ``description`` (not used by the run).

Precedence: defaults < the scenario file < options given explicitly < ``--set``.
:func:`resolve` applies it, validates every setting and reports every problem at
once, each located (``FILE:LINE key`` for the file, ``--option`` for the command
line), and records where each value came from (:class:`~creditsim.config.Origins`).
A relative ``policy`` or ``city`` file named in a scenario (a value ending in
``.toml`` or holding a ``/``) is read relative to the scenario file's directory.

This module is core: the checks that need the stages (the parameter registry, the
policy presets) are done by the caller, :mod:`creditsim.launch`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
import tomllib
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from creditsim.config import Origins, RunConfig, config_problems, period_problems
from creditsim.errors import ConfigError, Problem
from creditsim.paramspace import parse_value
from creditsim.tomllines import Path_, did_you_mean, format_path, key_lines

#: RunConfig fields a scenario does not set by name: the parameter overrides are its
#: ``[parameters]`` table, and the origins are what resolving records.
NOT_OPTIONS = ("overrides", "origins")
#: Tables of a scenario besides the run options.
TABLES = ("parameters", "meta")
META_KEYS = ("name", "description")
#: Options whose value may name a file, read relative to the scenario's directory.
PATH_OPTIONS = ("policy", "city")
DEFAULT = "default"


def option_fields() -> list[str]:
    """The run options a scenario (or the command line) may set, in RunConfig's order."""
    return [n for n in RunConfig.model_fields if n not in NOT_OPTIONS]


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class ScenarioFile:
    """A scenario as read: its data, where its keys are, and what it came from."""

    origin: str  # the file as given (locations start with it), or "<scenario>"
    base: Path  # the directory its relative file names are read from
    data: Mapping[str, Any]
    lines: Mapping[Path_, int] = field(default_factory=dict)
    sha256: str | None = None

    def at(self, path: Path_) -> str:
        """``FILE:LINE`` of the nearest enclosing key of ``path`` (the origin alone if
        no line is known)."""
        for n in range(len(path), 0, -1):
            if path[:n] in self.lines:
                return f"{self.origin}:{self.lines[path[:n]]}"
        return self.origin

    def where(self, path: Path_) -> str:
        """``FILE:LINE key.path`` (a problem's location)."""
        return f"{self.at(path)} {format_path(path)}"


def read_scenario(path: str | Path) -> ScenarioFile:
    """Read a scenario file (its bytes once); raises :class:`ConfigError` if it cannot
    be read or is not UTF-8 TOML."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(Problem("no such scenario file", str(path)))
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ConfigError(Problem(f"cannot read: {e.strerror}", str(path))) from None
    return scenario_from_bytes(raw, str(path), p.parent)


def scenario_from_bytes(raw: bytes, origin: str, base: Path) -> ScenarioFile:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(Problem(f"not UTF-8 text (bad byte at offset {e.start})",
                                  f"{origin}:{line}")) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        line = m.group(1) if m else str(len(text.splitlines()) or 1)
        raise ConfigError(Problem(f"not valid TOML: {e}", f"{origin}:{line}")) from None
    except (RecursionError, ValueError) as e:
        raise ConfigError(Problem(f"not valid TOML: {type(e).__name__}", origin)) from None
    return ScenarioFile(origin, base, data, key_lines(text), hashlib.sha256(raw).hexdigest())


def scenario_from_mapping(data: Mapping[str, Any], origin: str = "<scenario>") -> ScenarioFile:
    """A scenario given as a dict (``creditsim.simulate(scenario={...})``): relative file
    names are read from the working directory."""
    return ScenarioFile(origin, Path("."), dict(data))


def parse_set_items(items: Iterable[str], label: str = "--set"
                    ) -> tuple[dict[str, Any], list[Problem]]:
    """``key=value`` texts → {key: value} (the value read as by
    :func:`~creditsim.paramspace.parse_value`), and a problem per malformed or
    repeated item. Keys are not checked here."""
    out: dict[str, Any] = {}
    problems: list[Problem] = []
    for item in items:
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq or not key:
            problems.append(Problem("expected key=value", f"{label} {item}"))
        elif key in out:
            problems.append(Problem("given twice", f"{label} {key}"))
        else:
            out[key] = parse_value(text.strip())
    return out, problems


# ----------------------------------------------------------------------------- resolving


def cli_label(name: str) -> str:
    """Where a command-line option's value comes from: ``--chunk-residents``."""
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class Request:
    """What a run is asked for: a scenario, the options given explicitly (RunConfig
    fields → values) and the parameter overrides, with the labels that say where
    options and overrides came from."""

    scenario: ScenarioFile | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    sets: Mapping[str, Any] = field(default_factory=dict)
    option_label: Callable[[str], str] = cli_label
    set_label: str = "--set"
    #: overrides whose origin is not ``set_label`` (a sweep spec's ``FILE:LINE``)
    set_origins: Mapping[str, str] = field(default_factory=dict)
    #: origins that differ from ``option_label(name)`` (``--preset`` gives ``city``)
    option_origins: Mapping[str, str] = field(default_factory=dict)
    #: problems found before resolving (malformed --set items, conflicting options)
    problems: tuple[Problem, ...] = ()
    #: options whose values are checked by type strictly (a file's, a Python call's)
    strict_options: bool = False


@dataclass(frozen=True)
class Resolved:
    """The outcome of :func:`resolve`: the configuration (None if it did not
    validate), the overrides with their origins, every problem, and what the
    caller's own checks need (each option's location, the options already refused)."""

    config: RunConfig | None
    overrides: dict[str, Any]
    parameter_origins: dict[str, str]
    problems: list[Problem]
    locations: dict[str, str]
    meta: dict[str, str]
    bad: frozenset[str]  # options already reported


@functools.cache
def _adapter(name: str) -> TypeAdapter[Any]:
    return TypeAdapter(RunConfig.model_fields[name].annotation)


def type_problem(name: str, value: Any) -> str | None:
    """Why ``value`` is not of option ``name``'s type (strictly: no text for a number,
    no number for a flag; a date may be ISO text), or None."""
    ta = _adapter(name)
    try:
        ta.validate_python(value, strict=True)
        return None
    except ValidationError as e:
        errors = e.errors()
    if isinstance(value, str):  # text may spell a date; its message says how
        try:
            ta.validate_json(json.dumps(value), strict=True)
            return None
        except ValidationError as e:
            errors = e.errors()
    msgs = list(dict.fromkeys(str(err["msg"]) for err in errors if err["type"] != "none_required"))
    return f"{'; or '.join(msgs) or 'wrong type'} (got {value!r})"


def is_file_name(value: Any) -> bool:
    """A policy or city value that names a file (else it names a preset or profile)."""
    return isinstance(value, str) and (value.endswith(".toml") or "/" in value)


def _path_value(sf: ScenarioFile, value: Any) -> Any:
    """A file named in the scenario, relative to its directory; names stay names."""
    if not is_file_name(value):
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else sf.base / p)


@dataclass
class _Layer:
    """Values with their origins and locations, merged layer by layer."""

    values: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    locations: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    bad: set[str] = field(default_factory=set)

    def put(self, name: str, value: Any, origin: str, location: str) -> None:
        self.values[name] = value
        self.origins[name] = origin
        self.locations[name] = location

    def refuse(self, name: str, message: str, location: str) -> None:
        self.problems.append(Problem(message, location))
        self.bad.add(name)
        for d in (self.values, self.origins):
            d.pop(name, None)
        self.locations[name] = location


def _scenario_options(sf: ScenarioFile, layer: _Layer, known: list[str]) -> None:
    for key, value in sf.data.items():
        if key in TABLES:
            continue
        if key not in known:
            hint = did_you_mean(key, [*known, *TABLES]) or f" (known: {', '.join(known)})"
            layer.problems.append(Problem(f"unknown key{hint}", sf.where((key,))))
            continue
        if key in PATH_OPTIONS:
            value = _path_value(sf, value)
        why = type_problem(key, value)
        if why:
            layer.refuse(key, why, sf.where((key,)))
        elif key == "policy" and is_file_name(value) and not Path(value).is_file():
            layer.refuse(key, f"no such policy file: {value}", sf.where((key,)))
        else:
            layer.put(key, value, sf.at((key,)), sf.where((key,)))


def _meta(sf: ScenarioFile, problems: list[Problem]) -> dict[str, str]:
    meta = sf.data.get("meta", {})
    if not isinstance(meta, dict):
        problems.append(Problem("expected a table ([meta])", sf.where(("meta",))))
        return {}
    out = {}
    for k, v in meta.items():
        if k not in META_KEYS:
            hint = _misplaced(k) or did_you_mean(k, META_KEYS) or \
                f" (known: {', '.join(META_KEYS)})"
            problems.append(Problem(f"unknown key{hint}", sf.where(("meta", k))))
        elif not isinstance(v, str):
            problems.append(Problem(f"expected text (got {v!r})", sf.where(("meta", k))))
        else:
            out[k] = v
    return out


def _misplaced(key: str) -> str:
    """The hint for a run option written under a table (TOML puts every key after a
    ``[table]`` header into that table)."""
    if key in option_fields():
        return f"; {key!r} is a run option: write it above the first [table] header"
    return ""


def scenario_parameters(sf: ScenarioFile, known: Collection[str], problems: list[Problem]
                        ) -> tuple[dict[str, Any], dict[str, str]]:
    """The ``[parameters]`` table as {dotted key: value} and {key: ``FILE:LINE``}.
    Tables are walked down until a known key (a parameter may be a table itself);
    a key that is not known is returned as it is, for the parameter check to name."""
    table = sf.data.get("parameters", {})
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    if not isinstance(table, dict):
        problems.append(Problem("expected a table ([parameters])", sf.where(("parameters",))))
        return values, origins

    def walk(t: Mapping[str, Any], parts: tuple[str, ...], path: Path_) -> None:
        for k, v in t.items():
            key, at = ".".join((*parts, k)), (*path, k)
            if isinstance(v, dict) and key not in known:
                walk(v, (*parts, k), at)
            elif not parts and key not in known and _misplaced(key):
                problems.append(Problem(f"unknown parameter{_misplaced(key)}", sf.where(at)))
            elif key in values:
                problems.append(Problem(f"given twice (first at {origins[key]})",
                                        sf.where(at)))
            else:
                values[key], origins[key] = v, sf.at(at)

    walk(table, (), ("parameters",))
    return values, origins


def resolve(req: Request, parameter_keys: Collection[str]) -> Resolved:
    """Defaults < scenario < explicit options < sets, validated; every problem at once
    (the parameter values themselves are checked by the caller, with the models)."""
    known = option_fields()
    layer = _Layer()
    problems = list(req.problems)
    overrides: dict[str, Any] = {}
    porigins: dict[str, str] = {}
    meta: dict[str, str] = {}
    sf = req.scenario
    if sf is not None:
        _scenario_options(sf, layer, known)
        meta = _meta(sf, problems)
        overrides, porigins = scenario_parameters(sf, parameter_keys, problems)
    for name, value in req.options.items():
        label = req.option_origins.get(name) or req.option_label(name)
        if name not in known:
            hint = did_you_mean(name, known) or f" (known: {', '.join(known)})"
            layer.problems.append(Problem(f"unknown option{hint}", label))
            continue
        why = type_problem(name, value) if req.strict_options else None
        if why:
            layer.refuse(name, why, label)
        else:
            layer.put(name, value, label, label)
    for key, value in req.sets.items():
        overrides[key], porigins[key] = value, req.set_origins.get(key, req.set_label)
    problems += layer.problems
    config = _validate(layer, overrides, porigins, sf, problems)
    return Resolved(config, overrides, porigins, problems, layer.locations, meta,
                    frozenset(layer.bad))


def _validate(layer: _Layer, overrides: dict[str, Any], porigins: dict[str, str],
              sf: ScenarioFile | None, problems: list[Problem]) -> RunConfig | None:
    origins = Origins(scenario=sf.origin if sf else None, scenario_sha256=sf.sha256 if sf
                      else None, options={n: layer.origins.get(n, DEFAULT)
                                          for n in option_fields()},
                      parameters=porigins)

    def where(name: str) -> str:
        return layer.locations.get(name, name)

    try:
        cfg = RunConfig(**layer.values, overrides=overrides, origins=origins).resolved()
    except ValidationError as e:
        # parameter values are the caller's check (modelset.override, located)
        problems += config_problems(e, where, skip=("overrides",))
        return None
    period = period_problems(cfg, where)
    problems += period
    return None if period else cfg


# ----------------------------------------------------------------------------- writing


def toml_value(v: Any) -> str:
    """A Python value (as a run's settings hold them) as a TOML value."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, str | Path):
        return json.dumps(str(v), ensure_ascii=False)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"no TOML form for {type(v).__name__}")


def toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k, ensure_ascii=False)


def _absolute(name: str, v: Any) -> Any:
    """A file named by a path option, absolute (so the text works from anywhere)."""
    if name in PATH_OPTIONS and is_file_name(v):
        return str(Path(v).expanduser().resolve())
    return v


def render(config: RunConfig, meta: Mapping[str, str] | None = None) -> str:
    """The fully resolved scenario of ``config`` as TOML: every option with its
    effective value, ``[parameters]`` with the overrides, each with a comment naming
    its origin. ``run --scenario`` on this text gives the same run."""
    o = config.origins
    lines = ["# creditsim scenario, fully resolved (creditsim scenario show): every run",
             "# option with its effective value, and [parameters] with the model parameters",
             "# that differ from their defaults. Each comment says where the value came from."]
    if o.scenario:
        lines.append(f"# resolved from {o.scenario}"
                     + (f" (sha256 {o.scenario_sha256})" if o.scenario_sha256 else ""))
    lines.append("")
    rows = []
    for name in option_fields():
        v = getattr(config, name)
        origin = o.options.get(name, DEFAULT)
        if v is None:
            what = RunConfig.model_fields[name].description
            rows.append((f"# {name}: not set" + (f" ({what})" if what else ""), origin))
        else:
            rows.append((f"{name} = {toml_value(_absolute(name, v))}", origin))
    lines += _aligned(rows)
    if config.overrides:
        lines += ["", "[parameters]"]
        lines += _aligned([(f"{toml_key(k)} = {toml_value(v)}",
                            o.parameters.get(k, "--set")) for k, v in config.overrides.items()])
    if meta:
        lines += ["", "[meta]"] + [f"{toml_key(k)} = {toml_value(v)}" for k, v in meta.items()]
    return "\n".join(lines) + "\n"


def _aligned(rows: list[tuple[str, str]]) -> list[str]:
    width = min(56, max((len(a) for a, _ in rows), default=0))
    return [f"{a:<{width}}  # {b}" for a, b in rows]


def describe(config: RunConfig, meta: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The resolved scenario as JSON-ready data (``scenario show --json``)."""
    o = config.origins
    dumped = config.model_dump(mode="json")
    return {"scenario": o.scenario, "sha256": o.scenario_sha256, "meta": dict(meta or {}),
            "options": {n: {"value": dumped[n], "origin": o.options.get(n, DEFAULT)}
                        for n in option_fields()},
            "parameters": {k: {"value": dumped["overrides"][k],
                               "origin": o.parameters.get(k, "--set")}
                           for k in config.overrides}}


def manifest_entry(config: RunConfig) -> dict[str, Any]:
    """What a run's manifest records of where its settings came from. A configuration
    made directly (``make_config``, not resolved here) has no recorded origins: its
    values are ``default`` where they equal the defaults, else ``RunConfig``."""
    o = config.origins
    options = o.options
    if not options:
        base = RunConfig(city=config.city).resolved()
        options = {n: DEFAULT if getattr(config, n) == getattr(base, n) else "RunConfig"
                   for n in option_fields()}
    return {"file": o.scenario, "sha256": o.scenario_sha256,
            "options": {n: options.get(n, DEFAULT) for n in option_fields()}}
