"""A city profile as TOML text, in the format :mod:`creditsim.cities.loader` reads.

Reading the text back gives an equal profile (``tests/cities``); ``creditsim cities
show`` prints it, and a researcher can start a new city from it.
"""

from __future__ import annotations

import json
from typing import Any

from creditsim.cities.loader import FIGURES, PLAIN
from creditsim.cities.model import CityProfile

#: Arrays longer than this go on several lines of at most this many characters.
_WIDTH = 92


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        raise TypeError("a city figure is never a boolean")
    if isinstance(v, int | float):
        return repr(v)
    # A JSON string is a TOML basic string, once DEL (which TOML wants escaped) is.
    return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(v: Any) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_scalar(k)} = {_scalar(x)}"
                                for k, x in v.items()) + " }"
    if isinstance(v, tuple | list):
        items = [_scalar(x) for x in v]
        one = "[" + ", ".join(items) + "]"
        if len(one) <= _WIDTH:
            return one
        rows: list[str] = []
        for item in items:
            if rows and len(rows[-1]) + len(item) + 2 <= _WIDTH:
                rows[-1] += ", " + item
            else:
                rows.append(item)
        return "[\n    " + ",\n    ".join(rows) + ",\n]"
    return _scalar(v)


def dump_city(city: CityProfile, header: str = "") -> str:
    """The TOML text of ``city`` (``header``: comment lines put first)."""
    out = [f"# {line}".rstrip() for line in header.splitlines()]
    if out:
        out.append("")
    out += [f"{k} = {_scalar(getattr(city, k))}" for k in PLAIN]
    for key in FIGURES:
        fig = getattr(city, key)
        out += ["", f"[{key}]", f"value = {_value(fig.value)}",
                f"source = {_scalar(fig.source)}"]
    return "\n".join(out) + "\n"
