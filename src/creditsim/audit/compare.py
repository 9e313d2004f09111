"""Two runs side by side: headline and group metrics, differences, paired changes.

A comparison is only meaningful on the same residents with the same luck (common
random numbers): both runs must share the seed and the population (the manifest's
checksum of ``residents.parquet``). Otherwise :func:`compare_runs` refuses unless
``force`` is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from creditsim.audit.core import audit_run
from creditsim.audit.run import AuditError, RunData
from creditsim.audit.sanctions import load_sanctions
from creditsim.errors import Problem

SCHEMA = "creditsim.compare/1"

#: Group metrics compared side by side (rates among all residents).
COMPARED: tuple[str, ...] = ("sanctioned", "wrongly_sanctioned", "wrongful_among_sanctioned",
                             "listed", "denied", "green_channel")


class CompareError(AuditError):
    """The two runs cannot be compared (different seed or population)."""


def check_comparable(a: RunData, b: RunData) -> list[Problem]:
    """Problems that make ``a`` and ``b`` incomparable (empty if none)."""
    out = []
    if a.seed != b.seed:
        out.append(Problem(f"the runs have different seeds ({a.seed} vs {b.seed})"))
    ha, hb = a.sha256("residents"), b.sha256("residents")
    if ha is None or hb is None or ha != hb:
        out.append(Problem(
            "the runs have different populations (residents.parquet checksums "
            f"{(ha or 'none')[:12]} vs {(hb or 'none')[:12]})"))
    return out


def _diff(x: Any, y: Any) -> Any:
    if isinstance(x, bool) or isinstance(y, bool):
        return None
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        return y - x
    return None


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out |= _flat(v, key + ".")
        elif not isinstance(v, list):
            out[key] = v
    return out


def compare_runs(a: RunData, b: RunData, by: str | Sequence[str] | None = None,
                 force: bool = False) -> dict[str, Any]:
    """Headline and group metrics of two runs side by side (schema ``creditsim.compare/1``).

    Raises:
        CompareError: different seed or population, unless ``force``.
    """
    problems = check_comparable(a, b)
    if problems and not force:
        raise CompareError([*problems, Problem(
            "a comparison is only meaningful on the same residents; use --force to compare "
            "anyway")])
    aa, ab = audit_run(a, by=by), audit_run(b, by=by)
    ha, hb = _flat(aa["headline"]), _flat(ab["headline"])
    headline = [{"metric": k, "a": ha.get(k), "b": hb.get(k), "diff": _diff(ha.get(k),
                                                                              hb.get(k))}
                for k in dict.fromkeys([*ha, *hb])]
    groups: dict[str, list[dict[str, Any]]] = {}
    for col in aa["groups"]:
        ra = {r["group"]: r for r in aa["groups"][col]["rows"]}
        rb = {r["group"]: r for r in ab["groups"][col]["rows"]}
        rows = []
        for g in dict.fromkeys([*ra, *rb]):
            row: dict[str, Any] = {"group": g,
                                   "residents": (ra.get(g) or rb.get(g) or {}).get("residents")}
            for m in COMPARED:
                x = (ra.get(g) or {}).get(m)
                y = (rb.get(g) or {}).get(m)
                if x is None and y is None:
                    continue
                row[m] = {"a": x and x["rate"], "b": y and y["rate"],
                          "diff": _diff(x and x["rate"], y and y["rate"]),
                          "a_ci95": x and x["ci95"], "b_ci95": y and y["ci95"],
                          "a_ratio": x and x["ratio"], "b_ratio": y and y["ratio"],
                          "a_flag": x and x["four_fifths_flag"],
                          "b_flag": y and y["four_fifths_flag"]}
            rows.append(row)
        groups[col] = rows
    paired = None
    if not problems:
        pa, pb = load_sanctions(a).people, load_sanctions(b).people
        paired = {}
        for m in ("sanctioned", "wrongly_sanctioned"):
            x, y = pa[m], pb[m]
            paired[m] = {"both": int((x & y).sum()), "only_a": int((x & ~y).sum()),
                         "only_b": int((~x & y).sum()), "neither": int((~x & ~y).sum())}
    ca, cb = a.config, b.config
    config_diff = {k: {"a": ca.get(k), "b": cb.get(k)} for k in sorted({*ca, *cb})
                   if ca.get(k) != cb.get(k)}
    return {"schema": SCHEMA,
            "a": {"path": str(a.path), "seed": a.seed, "policy": a.policy_name},
            "b": {"path": str(b.path), "seed": b.seed, "policy": b.policy_name},
            "comparable": not problems, "problems": [str(p) for p in problems],
            "config_diff": config_diff,
            "headline": headline, "groups": groups, "paired": paired,
            "missing": {"a": aa["inputs"]["missing"], "b": ab["inputs"]["missing"]}}


def headline_frame(result: dict[str, Any]) -> pl.DataFrame:
    """The headline comparison as a table (metric, a, b, diff) for display."""
    return pl.DataFrame([{"metric": r["metric"], "a": None if r["a"] is None else str(r["a"]),
                          "b": None if r["b"] is None else str(r["b"]),
                          "diff": r["diff"]} for r in result["headline"]],
                        schema={"metric": pl.String, "a": pl.String, "b": pl.String,
                                "diff": pl.Float64})


MANY_SCHEMA = "creditsim.compare.many/1"


def compare_many(runs: Sequence[RunData], by: str | Sequence[str] | None = None,
                 force: bool = False) -> dict[str, Any]:
    """Headline and group metrics of several runs side by side, each against the first
    (schema ``creditsim.compare.many/1``): for every figure the values per run and the
    differences ``run − first``; for runs that share the first's seed and population,
    the paired counts of residents sanctioned (wrongly) in both, only one or neither.

    Raises:
        CompareError: a run with another seed or population than the first, unless
            ``force``.
    """
    first = runs[0]
    problems = {str(r.path): check_comparable(first, r) for r in runs[1:]}
    bad = [Problem(f"{path}: {p}") for path, ps in problems.items() for p in ps]
    if bad and not force:
        raise CompareError([*bad, Problem(
            "a comparison is only meaningful on the same residents; use --force to compare "
            "anyway")])
    audits = [audit_run(r, by=by) for r in runs]
    flats = [_flat(a["headline"]) for a in audits]
    headline = [{"metric": k, "values": [f.get(k) for f in flats],
                 "diff": [None, *(_diff(flats[0].get(k), f.get(k)) for f in flats[1:])]}
                for k in dict.fromkeys(k for f in flats for k in f)]
    groups = {col: _group_rows([a["groups"][col] for a in audits]) for col in audits[0]["groups"]}
    first_people = load_sanctions(first).people
    paired = [None] + [_paired(first_people, r) if not problems[str(r.path)] else None
                       for r in runs[1:]]
    configs = [r.config for r in runs]
    keys = sorted({k for c in configs for k in c})
    config_diff = {k: [c.get(k) for c in configs] for k in keys
                   if any(c.get(k) != configs[0].get(k) for c in configs)}
    return {"schema": MANY_SCHEMA,
            "runs": [{"path": str(r.path), "seed": r.seed, "policy": r.policy_name,
                      "comparable": i == 0 or not problems[str(r.path)],
                      "problems": [] if i == 0 else [str(p) for p in problems[str(r.path)]]}
                     for i, r in enumerate(runs)],
            "config_diff": config_diff, "headline": headline, "groups": groups,
            "paired": paired}


def _group_rows(tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_run = [{r["group"]: r for r in t["rows"]} for t in tables]
    rows = []
    for g in dict.fromkeys(g for rs in by_run for g in rs):
        row: dict[str, Any] = {"group": g, "residents": [(rs.get(g) or {}).get("residents")
                                                        for rs in by_run]}
        for m in COMPARED:
            cells = [(rs.get(g) or {}).get(m) for rs in by_run]
            if all(c is None for c in cells):
                continue
            rates = [c and c["rate"] for c in cells]
            row[m] = {"rate": rates, "diff": [None, *(_diff(rates[0], x) for x in rates[1:])],
                      "ci95": [c and c["ci95"] for c in cells],
                      "ratio": [c and c["ratio"] for c in cells],
                      "four_fifths_flag": [c and c["four_fifths_flag"] for c in cells]}
        rows.append(row)
    return rows


def _paired(first: pl.DataFrame, run: RunData) -> dict[str, dict[str, int]]:
    other = load_sanctions(run).people
    out = {}
    for m in ("sanctioned", "wrongly_sanctioned"):
        x, y = first[m], other[m]
        out[m] = {"both": int((x & y).sum()), "only_first": int((x & ~y).sum()),
                  "only_this": int((~x & y).sum()), "neither": int((~x & ~y).sum())}
    return out
