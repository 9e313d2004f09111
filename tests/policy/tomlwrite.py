"""A minimal TOML writer for the fuzz tests (the standard library only reads TOML)."""

from __future__ import annotations

import json
from typing import Any


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
            return "nan" if v != v else ("inf" if v > 0 else "-inf")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def dumps(data: dict[str, Any]) -> str:
    """Top-level scalars first, then tables and arrays of tables; nested values inline."""
    out = [
        f"{json.dumps(str(k))} = {_value(v)}"
        for k, v in data.items()
        if not isinstance(v, dict)
        and not (isinstance(v, list) and v and all(isinstance(x, dict) for x in v))
    ]
    for k, v in data.items():
        if isinstance(v, dict):
            out.append(f"\n[{json.dumps(str(k))}]")
            out += [f"{json.dumps(str(kk))} = {_value(vv)}" for kk, vv in v.items()]
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for item in v:
                out.append(f"\n[[{json.dumps(str(k))}]]")
                out += [f"{json.dumps(str(kk))} = {_value(vv)}" for kk, vv in item.items()]
    return "\n".join(out) + "\n"
