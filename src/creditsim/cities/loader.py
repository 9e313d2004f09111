"""Reading city profile files: TOML → validated :class:`CityProfile`, every problem located.

A city file (format: ``docs/cities.md``) has a few plain keys (``name``, ``title``,
``default_policy``, ``linkage_model``) and one table per figure, holding its
``value`` and its ``source``. Each figure is validated on its own (pydantic, so a bad
share does not hide a bad code), then the checks across figures run on whatever
validated; one :class:`CityError` lists every problem as ``file:line key.path``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (AfterValidator, BaseModel, ConfigDict, TypeAdapter, ValidationError,
                      create_model)

from creditsim.cities.model import CityProfile
from creditsim.errors import ConfigError, Problem
from creditsim.params import Cited
from creditsim.tomllines import Path_, did_you_mean, key_lines, locate


class CityError(ConfigError, ValueError):
    """A city profile file is invalid; ``problems`` holds every problem, located.

    A ValueError too, so that a RunConfig validator raising it keeps its problems
    (pydantic passes the exception on in the error's context)."""


#: How far a set of shares that must sum to 1 may be off (published shares are
#: rounded to 0.1 percentage point each).
SHARE_TOLERANCE = 0.005
#: GB/T 2260 province-level prefixes (the first two digits of a division code).
PROVINCES = frozenset({11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42,
                       43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82})
#: The district column is Int8 while the register is built.
MAX_DISTRICTS = 127
#: Region codes an ID number can carry in one run (population.synth packs 10 bits):
#: the districts and 30 county-level codes per origin.
MAX_REGIONS = 1023
COUNTIES_PER_ORIGIN = 30
AGE_BANDS = ("0-14", "15-59", "60+")
EDUCATION_LEVELS = ("tertiary", "senior_secondary", "junior_secondary", "primary")
NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _number(v: Any) -> int | float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"expected a number, got {type(v).__name__} {v!r}")
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError("expected a finite number")
    return v


def _integer(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"expected a whole number, got {type(v).__name__} {v!r}")
    return v


def _text(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"expected text, got {type(v).__name__} {v!r}")
    return v


def _share(v: Any) -> float:
    v = _number(v)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"a share must be in [0, 1], got {v}")
    return v


def _positive(v: Any) -> int | float:
    v = _number(v)
    if v <= 0:
        raise ValueError(f"must be positive, got {v}")
    return v


def _positive_int(v: Any) -> int:
    v = _integer(v)
    if v <= 0:
        raise ValueError(f"must be a positive whole number, got {v}")
    return v


def _code(v: Any) -> int:
    v = _integer(v)
    if not 100_000 <= v <= 999_999 or v // 10_000 not in PROVINCES or v % 100 == 0:
        raise ValueError(f"{v} is not a GB/T 2260 county-level code (six digits, a "
                         "province prefix, not ending in 00)")
    return v


def _iso_date(v: Any) -> str:
    v = _text(v)
    try:
        dt.date.fromisoformat(v)
    except ValueError:
        raise ValueError(f"expected an ISO date (YYYY-MM-DD), got {v!r}") from None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        raise ValueError(f"expected an ISO date (YYYY-MM-DD), got {v!r}")
    return v


def _source(v: Any) -> str:
    v = _text(v)
    if not v.strip():
        raise ValueError("every figure needs a source (a sources#<anchor> citation, or "
                         "'assumption: why')")
    return v


Num = Annotated[Any, AfterValidator(_number)]
Int = Annotated[Any, AfterValidator(_integer)]
Text = Annotated[Any, AfterValidator(_text)]
Share = Annotated[Any, AfterValidator(_share)]
Positive = Annotated[Any, AfterValidator(_positive)]
PositiveInt = Annotated[Any, AfterValidator(_positive_int)]
Code = Annotated[Any, AfterValidator(_code)]
IsoDate = Annotated[Any, AfterValidator(_iso_date)]
Source = Annotated[Any, AfterValidator(_source)]


def _figure(value_type: Any) -> type[BaseModel]:
    """A ``[figure]`` table: its value and its source, nothing else."""
    return create_model("Figure", __config__=ConfigDict(extra="forbid"),
                        value=(value_type, ...), source=(Source, ...))


#: Every figure of a profile: its value type (the CityProfile field of that name).
FIGURES: dict[str, Any] = {
    "districts": tuple[Text, ...],
    "district_names_zh": tuple[Text, ...],
    "district_codes": tuple[Code, ...],
    "district_population": tuple[PositiveInt, ...],
    "migrant_share": tuple[Share, ...],
    "district_income_effect": tuple[Num, ...],
    "district_car_effect": tuple[Num, ...],
    "origin_codes": tuple[Code, ...],
    "origin_weights": tuple[Positive, ...],
    "male_share": Share,
    "age_shares": dict[str, Share],
    "household_size_shares": tuple[Share, ...],
    "mean_household_size": Positive,
    "education_shares": dict[str, Share],
    "mean_income": Positive,
    "cars_per_resident": Share,
    "start_date": IsoDate,
}
_ADAPTERS = {k: TypeAdapter(_figure(t)) for k, t in FIGURES.items()}
#: Plain keys: (required, default).
PLAIN: dict[str, tuple[bool, str]] = {
    "name": (True, ""), "title": (False, ""), "default_policy": (False, "spc-list"),
    "linkage_model": (False, "beijing"),
}
#: Figures indexed by district, in the order of ``districts``.
PER_DISTRICT = ("district_names_zh", "district_codes", "district_population", "migrant_share",
                "district_income_effect", "district_car_effect")

Found = list[tuple[Path_, str]]


def _message(err: Mapping[str, Any]) -> str:
    etype = err.get("type", "")
    if etype == "extra_forbidden":
        return "unknown key (a figure holds 'value' and 'source')" + did_you_mean(
            str(err["loc"][-1]), ("value", "source"))
    if etype == "missing":
        return "required key is missing"
    if etype == "model_type":
        return "expected a table with 'value' and 'source'"
    return str(err.get("msg", "invalid")).removeprefix("Value error, ")


def _validate_figures(data: dict[str, Any]) -> tuple[dict[str, Cited[Any]], Found]:
    figures: dict[str, Cited[Any]] = {}
    found: Found = []
    for key, adapter in _ADAPTERS.items():
        if key not in data:
            found.append(((key,), f"required figure [{key}] is missing"))
            continue
        try:
            fig = adapter.validate_python(data[key])
        except ValidationError as e:
            for err in e.errors():
                found.append(((key, *err["loc"]), _message(err)))
            continue
        figures[key] = Cited(fig.value, fig.source)
    return figures, found


def _plain(data: dict[str, Any]) -> tuple[dict[str, str], Found]:
    out: dict[str, str] = {}
    found: Found = []
    for key, (required, default) in PLAIN.items():
        if key not in data:
            if required:
                found.append(((key,), "required key is missing"))
            out[key] = default
        elif not isinstance(data[key], str):
            found.append(((key,), f"expected text, got {type(data[key]).__name__}"))
        elif key != "title" and not NAME.match(data[key]):
            found.append(((key,), "expected a name of lower-case letters, digits and "
                                  f"hyphens, got {data[key]!r}"))
        else:
            out[key] = data[key]
    return out, found


def _sum_check(path: Path_, values: Any, what: str) -> Found:
    total = float(sum(values))
    if abs(total - 1.0) > SHARE_TOLERANCE:
        return [(path, f"{what} sum to {total:.4f}; they must sum to 1 (±{SHARE_TOLERANCE})")]
    return []


def _district_checks(f: dict[str, Cited[Any]]) -> Found:
    out: Found = []
    names = f.get("districts")
    if names is not None:
        n = len(names.value)
        if n == 0 or n > MAX_DISTRICTS:
            out.append((("districts", "value"), f"{n} districts; 1 to {MAX_DISTRICTS} allowed"))
        for i, name in enumerate(names.value):
            if names.value.index(name) != i:
                out.append((("districts", "value", i), f"district {name!r} is listed twice"))
        for key in PER_DISTRICT:
            if key in f and len(f[key].value) != n:
                out.append(((key, "value"), f"{len(f[key].value)} values for {n} districts "
                                            "(one per entry of districts, in its order)"))
    codes = f.get("district_codes")
    if codes is not None and codes.value:
        first = codes.value[0] // 10_000
        for i, c in enumerate(codes.value):
            if c // 10_000 != first:
                out.append((("district_codes", "value", i),
                            f"province prefix {c // 10_000} differs from the first district's "
                            f"({first}); a city's districts share one province"))
            elif codes.value.index(c) != i:
                out.append((("district_codes", "value", i), f"code {c} is listed twice"))
    return out


def _cross_checks(f: dict[str, Cited[Any]]) -> Found:
    out = _district_checks(f)
    oc, ow = f.get("origin_codes"), f.get("origin_weights")
    if oc is not None and ow is not None and len(oc.value) != len(ow.value):
        out.append((("origin_weights", "value"),
                    f"{len(ow.value)} weights for {len(oc.value)} origin codes"))
    if oc is not None and not oc.value:
        out.append((("origin_codes", "value"), "at least one origin of migrants is needed"))
    if oc is not None and "districts" in f:
        regions = len(f["districts"].value) + COUNTIES_PER_ORIGIN * len(oc.value)
        if regions > MAX_REGIONS:
            out.append((("origin_codes", "value"),
                        f"{len(oc.value)} origins × {COUNTIES_PER_ORIGIN} counties + the "
                        f"districts = {regions} region codes; at most {MAX_REGIONS}"))
    if "age_shares" in f:
        ages = f["age_shares"].value
        if set(ages) != set(AGE_BANDS):
            out.append((("age_shares", "value"),
                        f"expected the bands {', '.join(AGE_BANDS)}; got {', '.join(ages)}"))
        out += _sum_check(("age_shares", "value"), ages.values(), "age shares")
    if "household_size_shares" in f:
        hs = f["household_size_shares"].value
        if len(hs) != 6:
            out.append((("household_size_shares", "value"),
                        f"{len(hs)} shares; expected 6 (sizes 1, 2, 3, 4, 5, 6 and more)"))
        out += _sum_check(("household_size_shares", "value"), hs, "household size shares")
    if "education_shares" in f:
        edu = f["education_shares"].value
        for k in edu:
            if k not in EDUCATION_LEVELS:
                out.append((("education_shares", "value", k), "unknown education level"
                            + did_you_mean(k, EDUCATION_LEVELS)))
        if float(sum(edu.values())) > 1.0 + SHARE_TOLERANCE:
            out.append((("education_shares", "value"),
                        f"education shares sum to {sum(edu.values()):.4f}; at most 1 (the rest "
                        "are residents below primary level)"))
    return out


def city_from_data(data: Any, origin: str = "<city>",
                   lines: Mapping[Path_, int] | None = None, text: bytes = b"") -> CityProfile:
    """Validate parsed TOML data into a :class:`CityProfile`; raises :class:`CityError`."""
    lines = lines or {}
    if not isinstance(data, dict):
        raise CityError(Problem("a city profile must be a table", origin))
    found: Found = []
    known = (*PLAIN, *FIGURES)
    for key in data:
        if key not in known:
            found.append(((key,), "unknown key" + (did_you_mean(key, known) or
                                                   f"; known: {', '.join(known)}")))
    plain, more = _plain(data)
    found += more
    figures, more = _validate_figures(data)
    found += more + _cross_checks(figures)
    if found:
        located = [(locate(origin, lines, path), msg) for path, msg in found]
        located.sort(key=lambda lm: _line_of(lm[0], origin))  # in the file's order
        raise CityError([Problem(msg, where) for where, msg in located])
    return CityProfile(**figures, **plain, origin=origin, text=text)


def _line_of(location: str, origin: str) -> int:
    m = re.match(r":(\d+)", location[len(origin):])
    return int(m.group(1)) if m else 0


def city_from_text(text: str | bytes, origin: str = "<city>") -> CityProfile:
    """Parse a city file's text (or bytes); raises :class:`CityError`."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise CityError(Problem(f"not UTF-8 text (bad byte at offset {e.start})",
                                f"{origin}:{line}")) from None
    try:
        data = tomllib.loads(decoded)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        line = m.group(1) if m else str(len(decoded.splitlines()) or 1)
        raise CityError(Problem(f"not valid TOML: {e}", f"{origin}:{line}")) from None
    except (RecursionError, ValueError) as e:
        raise CityError(Problem(f"not valid TOML: {type(e).__name__}", origin)) from None
    return city_from_data(data, origin, key_lines(decoded), raw)


def locate_key(city: CityProfile, *path: str | int) -> str:
    """``file:line key`` of a key of the file ``city`` was read from."""
    try:
        lines = key_lines(city.text.decode("utf-8"))
    except UnicodeDecodeError:
        lines = {}
    return locate(city.origin or city.name, lines, path)
