"""The optional ``[design]`` of a sweep: points in the space of model parameters.

* ``grid``: every combination of each key's ``values`` (keys in the order given);
* ``lhs``: a Latin hypercube of ``points`` points (``scipy.stats.qmc.LatinHypercube``);
* ``sobol``: ``points`` (a power of two) points of a scrambled Sobol sequence
  (``scipy.stats.qmc.Sobol.random_base2``).

For ``lhs`` and ``sobol`` each key has a range ``{ low = …, high = … }``, the unit
sample is scaled onto it, and a parameter whose default is a whole number of a
whole-number type is rounded. The sample is drawn with ``numpy.random.default_rng(
design.seed)``, so a spec always gives the same points.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from creditsim.errors import Problem

METHODS = ("grid", "lhs", "sobol")
KEYS = ("method", "points", "seed", "parameters")
MAX_POINTS = 4096


@dataclass(frozen=True)
class Design:
    method: str
    keys: tuple[str, ...]
    points: list[dict[str, Any]]
    origins: dict[str, str] = field(default_factory=dict)  # "parameters.KEY" → location


def read_design(table: Any, where: Callable[..., str], problems: list[Problem]
                ) -> Design | None:
    if table is None:
        return None
    if not isinstance(table, dict):
        problems.append(Problem("must be a table", where("design")))
        return None
    from creditsim.tomllines import did_you_mean

    for k in table:
        if k not in KEYS:
            problems.append(Problem(f"unknown key{did_you_mean(k, KEYS)}", where("design", k)))
    method = table.get("method", "grid")
    if method not in METHODS:
        problems.append(Problem(f"must be one of {', '.join(map(repr, METHODS))}",
                                where("design", "method")))
        return None
    params = table.get("parameters")
    if not isinstance(params, dict) or not params:
        problems.append(Problem("needs a [design.parameters] table: dotted parameter key → "
                                "values (grid) or { low, high } (lhs, sobol)",
                                where("design", "parameters")))
        return None
    flat = _flat(params, ("design", "parameters"))
    origins = {f"parameters.{k}": where(*p) for k, (_v, p) in flat.items()}
    before = len(problems)
    if method == "grid":
        points = _grid(flat, where, problems)
    else:
        points = _sampled(method, table, flat, where, problems)
    if len(problems) > before:
        return None
    return Design(method, tuple(flat), points, origins)


def _flat(params: dict[str, Any], path: tuple[str | int, ...]
          ) -> dict[str, tuple[Any, tuple[str | int, ...]]]:
    """Nested tables down to the leaves that hold an array or a {low, high} table."""
    out: dict[str, tuple[Any, tuple[str | int, ...]]] = {}

    def walk(prefix: str, v: Any, kpath: tuple[str | int, ...]) -> None:
        if isinstance(v, dict) and not ({"low", "high"} & set(v)) and v:
            for k, sub in v.items():
                walk(f"{prefix}.{k}" if prefix else k, sub, (*kpath, k))
        else:
            out[prefix] = (v, kpath)

    walk("", params, path)
    return out


def _grid(flat: dict[str, tuple[Any, tuple[str | int, ...]]], where: Callable[..., str],
          problems: list[Problem]) -> list[dict[str, Any]]:
    levels = []
    for key, (v, kpath) in flat.items():
        if not isinstance(v, list) or not v:
            problems.append(Problem("a grid needs an array of values", where(*kpath)))
            v = [None]
        levels.append(v)
    points = [dict(zip(flat, combo, strict=True)) for combo in itertools.product(*levels)]
    if len(points) > MAX_POINTS:
        problems.append(Problem(f"{len(points):,} grid points; at most {MAX_POINTS:,}",
                                where("design", "parameters")))
    return points


def _sampled(method: str, table: dict[str, Any],
             flat: dict[str, tuple[Any, tuple[str | int, ...]]], where: Callable[..., str],
             problems: list[Problem]) -> list[dict[str, Any]]:
    before = len(problems)
    n = table.get("points")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_POINTS:
        problems.append(Problem(f"{method} needs points = an integer in [1, {MAX_POINTS}]",
                                where("design", "points")))
    elif method == "sobol" and n & (n - 1):
        problems.append(Problem("a Sobol design needs a power of two (balance)",
                                where("design", "points")))
    seed = table.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        problems.append(Problem("must be a non-negative integer", where("design", "seed")))
    lows, highs, whole = [], [], []
    for key, (v, kpath) in flat.items():
        ok = (isinstance(v, dict) and set(v) == {"low", "high"}
              and all(isinstance(v[b], (int, float)) and not isinstance(v[b], bool)
                      for b in ("low", "high")) and v["low"] < v["high"])
        if not ok:
            problems.append(Problem(f"{method} needs a range {{ low = …, high = … }} with "
                                    "low < high", where(*kpath)))
            continue
        lows.append(float(v["low"]))
        highs.append(float(v["high"]))
        whole.append(_whole(key))
    if len(problems) > before:
        return []
    assert isinstance(n, int) and isinstance(seed, int)
    return _sample(method, n, seed, (lows, highs, whole), list(flat))


def _whole(key: str) -> bool:
    """Whether the parameter takes whole numbers (an int default of a non-real field)."""
    from creditsim.config import make_config
    from creditsim.modelset import default_models, registry

    p = registry(default_models(make_config(residents=1))).get(key)
    return p is not None and isinstance(p.value, int) and not isinstance(p.value, bool) \
        and not p.real


def _sample(method: str, n: int, seed: int,
            bounds: tuple[list[float], list[float], list[bool]], keys: list[str]
            ) -> list[dict[str, Any]]:
    import numpy as np
    from scipy.stats import qmc

    lows, highs, whole = bounds
    rng = np.random.default_rng(seed)
    if method == "lhs":
        unit = qmc.LatinHypercube(d=len(keys), rng=rng).random(n)
    else:
        unit = qmc.Sobol(d=len(keys), scramble=True, rng=rng).random_base2(int(n).bit_length() - 1)
    x = qmc.scale(unit, lows, highs)
    points = []
    for row in x:
        points.append({k: (int(round(v)) if w else float(v))
                       for k, v, w in zip(keys, row.tolist(), whole, strict=True)})
    return points
