"""The parameter space: every model parameter under one stable dotted key.

A run's models are given as *groups*: a key prefix (``"records"``, ``"behaviour.court"``)
mapped to a frozen dataclass, or to a tuple of them, each element keyed by its first
field (a name such as the department or the kind). Inside a group, a parameter is

* every :class:`~creditsim.params.Cited` field (nested dataclasses add their field name
  to the key), and
* every plain number (or tuple of numbers) a class names in ``PARAM_SOURCES``, a class
  attribute mapping the field to the text field that holds its source.

Strings, flags and ``None`` are not parameters: they choose a structure (which columns a
department captures, who is eligible), not a number.

:func:`parameters` lists them with value, unit, allowed range, source and status;
:func:`apply_overrides` returns new groups with values replaced, after checking every key,
type and range, and raises one :class:`~creditsim.errors.ConfigError` with every problem.
This module knows no stage: the groups are built by the caller (``creditsim.modelset``).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from creditsim.errors import ConfigError, Problem
from creditsim.params import Cited
from creditsim.tomllines import did_you_mean

Bounds = tuple[float | None, float | None]

#: Name fragments of parameters that are probabilities or shares: range [0, 1].
_UNIT_INTERVAL = ("share", "prob", "head_age_", "_male", "_female", "success", "spouse_drives",
                  "deterrence")
#: Name fragments of parameters that may take either sign (log-scale shifts, slopes).
_SIGNED = ("slope", "effect", "shift", "elasticity", "income_by_education")

#: Units by key pattern (fnmatch), first match wins; a Cited ``unit`` takes precedence.
UNIT_RULES: tuple[tuple[str, str], ...] = (
    ("behaviour.*.base", "per eligible resident-year"),
    ("services.*.rate", "per eligible resident-year"),
    ("city.mean_income", "yuan per person-year"),
    ("city.district_population", "residents"),
    ("city.cars_per_resident", "cars per resident"),
    ("city.mean_household_size", "persons"),
    ("repayment.monthly_hazard", "per month"),
    ("*working_days", "working days"),
    ("*days*", "days"),
    ("*delay*", "days"),
    ("*.migrant_years_mean", "years"),
    ("*.mother_age_at_birth", "years"),
    ("*.grandparent_gap", "years"),
    ("*.edu_age_bands", "years"),
    ("*.gaming_band", "points"),
    ("*.p_*", "probability"),
)


@dataclass(frozen=True)
class Param:
    """One parameter: its key, value, unit, allowed range and source."""

    key: str
    value: Any
    unit: str
    bounds: Bounds
    source: str
    #: where the value sits: attribute names and tuple indices from the group's object
    path: tuple[str | int, ...]
    cited: bool  # a Cited field (else a plain number with a separate source text)
    #: the field is declared float: a whole-number default still accepts fractions
    real: bool = False

    @property
    def status(self) -> str:
        return "assumption" if self.source.strip().lower().startswith("assumption") \
            else "cited"

    @property
    def range_text(self) -> str:
        return range_text(self.bounds)

    def describe(self) -> dict[str, Any]:
        """The JSON form (``creditsim params --json`` and the manifest)."""
        return {"value": _jsonable(self.value), "unit": self.unit,
                "range": [self.bounds[0], self.bounds[1]], "status": self.status,
                "source": self.source}


def range_text(bounds: Bounds) -> str:
    lo, hi = bounds
    if lo is None and hi is None:
        return "any"
    return f"[{'-inf' if lo is None else _num(lo)}, {'inf' if hi is None else _num(hi)}]"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _jsonable(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    return v


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _numeric(v: Any) -> bool:
    """A number, or a non-empty tuple of numbers (a plain-field parameter's shape)."""
    return _is_number(v) or (isinstance(v, tuple) and bool(v) and all(map(_is_number, v)))


def _texts(v: Any) -> bool:
    """Text, or a collection holding only text (ranges do not apply)."""
    if isinstance(v, str):
        return True
    items = v.values() if isinstance(v, dict) else v if isinstance(v, tuple) else None
    return items is not None and bool(items) and all(_texts(x) for x in items)


def derived_bounds(name: str, value: Any) -> Bounds:
    """The allowed range a parameter's name and type imply (strings and dicts of
    strings have none)."""
    n = name.lower()
    if _texts(value):
        return (None, None)
    if n.startswith("p_") or any(s in n for s in _UNIT_INTERVAL):
        return (0.0, 1.0)
    if any(s in n for s in _SIGNED):
        return (None, None)
    return (0.0, None)


def _unit(key: str, explicit: str) -> str:
    if explicit:
        return explicit
    return next((u for pat, u in UNIT_RULES if fnmatch.fnmatchcase(key, pat)), "")


def _leaves(obj: Any, key: str, path: tuple[str | int, ...]) -> list[Param]:
    """The parameters inside ``obj`` (a dataclass or a tuple of keyed dataclasses)."""
    if isinstance(obj, tuple):
        out: list[Param] = []
        for i, el in enumerate(obj):
            name = getattr(el, dataclasses.fields(el)[0].name)
            out += _leaves(el, f"{key}.{name}", (*path, i))
        return out
    out = []
    plain = getattr(type(obj), "PARAM_SOURCES", {})
    for f in dataclasses.fields(obj):
        val, k, p = getattr(obj, f.name), f"{key}.{f.name}", (*path, f.name)
        real = "float" in str(f.type)
        if isinstance(val, Cited):
            bounds = val.bounds if val.bounds is not None else derived_bounds(f.name, val.value)
            out.append(Param(k, val.value, _unit(k, val.unit), bounds, val.source, p, True,
                             real=real))
        elif f.name in plain and _numeric(val):
            out.append(Param(k, val, _unit(k, ""), derived_bounds(f.name, val),
                             getattr(obj, plain[f.name]), p, False, real=real))
        elif dataclasses.is_dataclass(val) and not isinstance(val, type):
            out += _leaves(val, k, p)
        elif isinstance(val, tuple) and val and dataclasses.is_dataclass(val[0]):
            out += _leaves(val, k, p)
    return out


def parameters(groups: Mapping[str, Any]) -> dict[str, Param]:
    """Every parameter of ``groups``, by key (in the groups' order)."""
    out: dict[str, Param] = {}
    for prefix, obj in groups.items():
        for p in _leaves(obj, prefix, (prefix,)):
            if p.key in out:
                raise ValueError(f"two parameters have the key {p.key!r}")
            out[p.key] = p
    return out


def matching(params: Mapping[str, Param], pattern: str | None) -> list[Param]:
    """The parameters whose key matches ``pattern``: a glob (``records.*``) if it has
    a wildcard, else a substring; all of them for no pattern."""
    if not pattern:
        return list(params.values())
    if any(c in pattern for c in "*?["):
        return [p for k, p in params.items() if fnmatch.fnmatchcase(k, pattern)]
    return [p for k, p in params.items() if pattern in k]


def parse_value(text: str) -> Any:
    """A ``--set`` value: a TOML value (number, string, boolean, array, inline table),
    else JSON, else the text itself as a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    try:
        return json.loads(text)
    except ValueError:
        return text


def _coerce(default: Any, value: Any, bounds: Bounds, real: bool = False
            ) -> tuple[Any, str | None]:
    """``value`` in the default's type (``real``: a whole-number default of a float
    field takes fractions), or a message saying why it is not allowed."""
    if isinstance(default, tuple):
        if not isinstance(value, list | tuple) or len(value) != len(default):
            return None, f"expected a list of {len(default)} values like the default " \
                         f"{_jsonable(default)}, got {value!r}"
        got = [_coerce(d, v, bounds, real) for d, v in zip(default, value, strict=True)]
        bad = next((m for _, m in got if m), None)
        return (None, bad) if bad else (tuple(v for v, _ in got), None)
    if isinstance(default, dict):
        if not isinstance(value, dict) or set(value) != set(default):
            return None, f"expected a table with the keys {sorted(default)}, got {value!r}"
        got = {k: _coerce(default[k], value[k], bounds, real) for k in default}
        bad = next((m for _, m in got.values() if m), None)
        return (None, bad) if bad else ({k: v for k, (v, _) in got.items()}, None)
    if isinstance(default, str):
        return (value, None) if isinstance(value, str) else (None, f"expected text, "
                                                                   f"got {value!r}")
    if isinstance(default, int) and not isinstance(default, bool) and not real:
        if not isinstance(value, int) or isinstance(value, bool):
            return None, f"expected a whole number, got {value!r}"
    elif not _is_number(value) or not math.isfinite(value):
        return None, f"expected a number, got {value!r}"
    value = float(value) if isinstance(default, float) or (real and not
                                                           isinstance(value, int)) else value
    lo, hi = bounds
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        return None, f"{value!r} is outside the allowed range {range_text(bounds)}"
    return value, None


def _set(obj: Any, path: tuple[str | int, ...], value: Any, cited: bool) -> Any:
    """``obj`` with the value at ``path`` replaced (new objects along the path)."""
    head, rest = path[0], path[1:]
    if isinstance(obj, tuple):
        assert isinstance(head, int)
        return (*obj[:head], _set(obj[head], rest, value, cited), *obj[head + 1:])
    assert isinstance(head, str)
    cur = getattr(obj, head)
    if rest:
        new = _set(cur, rest, value, cited)
    else:
        new = dataclasses.replace(cur, value=value) if cited else value
    return dataclasses.replace(obj, **{head: new})


def apply_overrides(groups: Mapping[str, Any], overrides: Mapping[str, Any],
                    location: Callable[[str], str] = lambda k: f"--set {k}"
                    ) -> dict[str, Any]:
    """New groups with the ``overrides`` ({key: value}) in place. Every unknown key
    (with the nearest known one), wrong type, out-of-range value and inconsistent model
    is reported at once, located by ``location(key)``."""
    params = parameters(groups)
    out = dict(groups)
    problems: list[Problem] = []
    for key, raw in overrides.items():
        p = params.get(key)
        if p is None:
            hint = did_you_mean(key, params) or " (creditsim params lists the keys)"
            problems.append(Problem(f"unknown parameter{hint}", location(key)))
            continue
        value, why = _coerce(p.value, raw, p.bounds, p.real)
        if why:
            problems.append(Problem(why, location(key)))
            continue
        prefix = p.path[0]
        assert isinstance(prefix, str)
        try:
            out[prefix] = _set(out[prefix], p.path[1:], value, p.cited)
        except (ValueError, TypeError) as e:  # a model's own consistency check
            problems.append(Problem(str(e), location(key)))
    if problems:
        raise ConfigError(problems)
    return out
