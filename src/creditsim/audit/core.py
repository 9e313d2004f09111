"""The audit of one run: what the system did to people, by group (schema in docs/audit.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from creditsim.audit.groups import attributes, group_table, parse_by
from creditsim.audit.linkage import linkage_audit
from creditsim.audit.missed import missed_sanctions
from creditsim.audit.run import AuditError, RunData
from creditsim.audit.sanctions import (
    CAUSES,
    ROUTE_ORDER,
    TRANSPORT,
    Sanctions,
    load_sanctions,
)
from creditsim.audit.stats import ADJUSTMENT, ALPHA, Thresholds, num
from creditsim.audit.survival import km_by_group, km_summary
from creditsim.catalogue import SERVICES

SCHEMA = "creditsim.audit/1"

#: Per-group metrics among all residents, then conditional ones (numerator|denominator).
GROUP_METRICS: tuple[str, ...] = (
    "sanctioned", "wrongly_sanctioned", *(f"wrongful_{c}" for c in CAUSES), "listed",
    "denied", "green_channel", "wrongful_green_channel",
)
#: Metrics that need the decisions table.
DECISION_METRICS = ("denied", "green_channel", "wrongful_green_channel")
CONDITIONAL: dict[str, str] = {"wrongful_among_sanctioned": "wrongly_sanctioned|sanctioned"}
#: Both error types of record-triggered listing against the truth world (audit/missed.py):
#: missed among all residents, then the Aequitas-style rates (numerator|denominator).
ERROR_METRICS: tuple[str, ...] = ("missed_sanction",)
ERROR_RATES: dict[str, str] = {
    "false_positive_rate": "false_positive|not_should_be_listed",
    "false_negative_rate": "missed_sanction|should_be_listed",
    "false_discovery_rate": "false_positive|listed_by_records",
    "false_omission_rate": "missed_sanction|not_listed_by_records",
}


def parse_reference(ref: Sequence[str] | str | None) -> dict[str, str]:
    """``["district=Chaoyang", "hukou=local"]`` → {grouping: group}."""
    if not ref:
        return {}
    items = ref.split(",") if isinstance(ref, str) else list(ref)
    out = {}
    for it in items:
        k, sep, v = it.partition("=")
        if not sep or not k.strip() or not v.strip():
            raise AuditError(f"reference {it!r}: expected GROUPING=GROUP, e.g. hukou=local")
        out[k.strip()] = v.strip()
    return out


def _dist(values: np.ndarray) -> dict[str, Any]:
    if values.size == 0:
        return {"n": 0, "mean": None, "median": None, "p90": None, "max": None}
    return {"n": int(values.size), "mean": num(values.mean()),
            "median": num(np.median(values)), "p90": num(np.quantile(values, 0.9)),
            "max": num(values.max())}


def cascade(run: RunData, s: Sanctions) -> dict[str, Any]:
    """Distinct services denied per listed resident; household members affected."""
    listed = s.spells.filter(pl.col("sanction"))["resident_id"].unique()
    reg = run.scan("residents").select("resident_id", "household_id").collect()
    hh_listed = reg.filter(pl.col("resident_id").is_in(listed.implode()))["household_id"].unique()
    exposed = reg.filter(pl.col("household_id").is_in(hh_listed.implode())
                         & ~pl.col("resident_id").is_in(listed.implode())).height
    out: dict[str, Any] = {"listed_residents": listed.len(),
                           "household_members_of_listed": exposed}
    if s.decisions is None:
        return {**out, "status": "missing", "missing": ["decisions"]}
    den = s.decisions.filter(pl.col("decision").cast(pl.String) == "denied")
    per = (pl.DataFrame({"resident_id": listed}).join(
        den.group_by("resident_id").agg(pl.col("service").n_unique().alias("k")),
        on="resident_id", how="left").fill_null(0))
    k = per["k"].to_numpy()
    hist = {str(i): int(c) for i, c in enumerate(np.bincount(k))} if k.size else {}
    spill = den.filter(pl.col("via_resident_id") != pl.col("resident_id"))
    per_cause = spill.group_by("via_resident_id").agg(
        pl.col("resident_id").n_unique().alias("m"))
    return {**out, "status": "ok",
            "services_denied_per_listed_resident": {**_dist(k.astype(np.float64)),
                                                    "histogram": hist},
            "household_spillover": {
                "decisions": spill.height,
                "residents_affected": spill["resident_id"].n_unique(),
                "residents_causing": spill["via_resident_id"].n_unique(),
                "affected_per_causing_resident": _dist(per_cause["m"].to_numpy()
                                                       .astype(np.float64)),
                "services": {str(k_): int(v) for k_, v in spill.group_by("service").len()
                             .sort("service").iter_rows()},
            }}


def time_on_list(run: RunData, s: Sanctions, attrs: pl.DataFrame | None = None,
                 by: Sequence[str] = ()) -> dict[str, Any]:
    """Days on a list by exit route (repaid, appealed, expired, score recovered,
    still listed — censored at the end of the run), per list and overall."""
    if not run.has("list_spells"):
        return {"status": "missing", "missing": ["list_spells"]}
    sp = s.spells

    def summary(df: pl.DataFrame) -> dict[str, Any]:
        routes = {}
        for r in [*ROUTE_ORDER, *sorted(set(df["route"].to_list()) - set(ROUTE_ORDER))]:
            sub = df.filter(pl.col("route") == r)
            if sub.height or r in ROUTE_ORDER:
                routes[r] = {"spells": sub.height,
                             "residents": sub["resident_id"].n_unique(),
                             "days": _dist(sub["days_on_list"].to_numpy().astype(np.float64))}
        return {"spells": df.height, "residents": df["resident_id"].n_unique(),
                "routes": routes, "kaplan_meier": km_summary(df, run.days)}

    lists = sorted(set(sp["list"].to_list()))
    return {"status": "ok", "censored_at_day": run.days,
            "note": "still_listed days are counted to the end of the run (censored); "
                    "kaplan_meier: exit by any route, censored at the window's end, "
                    "left-truncated at day 0, time from each spell's own start",
            "sanctioning_lists": summary(sp.filter(pl.col("sanction"))),
            "by_list": {lst: {"sanction": bool(sp.filter(pl.col("list") == lst)["sanction"][0]),
                              **summary(sp.filter(pl.col("list") == lst))} for lst in lists},
            "by_group": km_by_group(sp.filter(pl.col("sanction")), attrs, by, run.days)
            if attrs is not None else {}}


def services(run: RunData, s: Sanctions) -> dict[str, Any]:
    """Decisions by service (denied, expedited, discounted), residents, wrongful denials;
    flights and trains blocked. Falls back to ``demand`` totals without decisions."""
    out: dict[str, Any] = {}
    demand = run.windowed("demand") if run.has("demand") else None
    if s.decisions is None and demand is None:
        return {"status": "missing", "missing": ["decisions", "demand"]}
    rows: dict[str, dict[str, Any]] = {}
    if s.decisions is not None:
        d = s.decisions.with_columns(pl.col("service").cast(pl.String),
                                     pl.col("decision").cast(pl.String))
        wr = pl.col("wrongful").fill_null(False) if "wrongful" in d.columns else pl.lit(False)
        g = d.group_by("service").agg(
            (pl.col("decision") == "denied").sum().alias("denied"),
            (pl.col("decision") == "expedited").sum().alias("expedited"),
            (pl.col("decision") == "discounted").sum().alias("discounted"),
            pl.col("resident_id").filter(pl.col("decision") == "denied").n_unique()
            .alias("residents_denied"),
            ((pl.col("decision") == "denied") & wr).sum().alias("wrongful_denied"),
            (pl.col("decision").is_in(["expedited", "discounted"]) & wr).sum()
            .alias("wrongful_green_channel"),
        ).sort("service")
        for r in g.iter_rows(named=True):
            svc = r.pop("service")
            rows[svc] = {k: int(v) for k, v in r.items()}
    if demand is not None:
        dm = demand.with_columns(pl.col("service").cast(pl.String)).group_by("service").agg(
            pl.col(c).cast(pl.Int64).sum() for c in ("demands", "allowed", "denied",
                                                     "expedited", "discounted")
            if c in demand.columns).sort("service")
        for r in dm.iter_rows(named=True):
            svc = r.pop("service")
            rows.setdefault(svc, {})["demand"] = {k: int(v) for k, v in r.items()}
    rows = {sv: rows[sv] for sv in [*SERVICES, *sorted(set(rows) - set(SERVICES))]
            if sv in rows}
    out["status"] = "ok"
    out["source"] = "decisions" if s.decisions is not None else "demand"
    out["missing"] = run.missing("decisions", "demand")
    out["by_service"] = rows

    def tot(key: str) -> int:
        return sum(int(rows.get(sv, {}).get(key, 0)) for sv in TRANSPORT)

    if s.decisions is not None:
        den = s.decisions.filter((pl.col("decision").cast(pl.String) == "denied")
                                 & pl.col("service").cast(pl.String).is_in(list(TRANSPORT)))
        out["flights_and_trains"] = {"services": list(TRANSPORT), "denied": tot("denied"),
                                     "residents": den["resident_id"].n_unique(),
                                     "wrongful_denied": tot("wrongful_denied")}
    else:
        out["flights_and_trains"] = {
            "services": list(TRANSPORT),
            "denied": sum(int(rows.get(sv, {}).get("demand", {}).get("denied", 0))
                          for sv in TRANSPORT), "residents": None, "wrongful_denied": None}
    return out


def headline(run: RunData, s: Sanctions, link: Mapping[str, Any]) -> dict[str, Any]:
    p = s.people
    n = p.height
    sums = {c: int(p[c].sum()) for c in ("sanctioned", "wrongly_sanctioned", "listed",
                                          "on_any_list", "denied", "green_channel",
                                          "denied_via_household")}
    out: dict[str, Any] = {
        "residents": n, "days": run.days, "burn_in_days": run.burn_in_days,
        "policy": run.policy_name,
        "records": link.get("overall", {}).get("records"),
        "link_precision": (link.get("overall", {}).get("precision") or {}).get("rate"),
        "link_recall": (link.get("overall", {}).get("recall") or {}).get("rate"),
        "wrong_links": link.get("overall", {}).get("wrong"),
        "list_spells": s.spells.height,
        "residents_on_any_list": sums["on_any_list"],
        "residents_listed": sums["listed"],
        "residents_sanctioned": sums["sanctioned"],
        "sanction_rate": sums["sanctioned"] / n if n else None,
        "residents_wrongly_sanctioned": sums["wrongly_sanctioned"],
        "wrongful_share_of_sanctioned": (sums["wrongly_sanctioned"] / sums["sanctioned"]
                                         if sums["sanctioned"] else None),
        "wrongly_sanctioned_by_cause": {c: int(p[f"wrongful_{c}"].sum()) for c in CAUSES},
        "residents_wrongly_listed": int(p["wrongly_listed"].sum()),
        "wrongly_listed_by_cause": {c: int(p[f"listed_{c}"].sum()) for c in CAUSES},
        "wrongful_source": s.wrongful_source,
    }
    if s.decisions is not None:
        d = s.decisions["decision"].cast(pl.String)
        out["decisions"] = {k: int((d == k).sum()) for k in ("denied", "expedited",
                                                            "discounted")}
        out["residents_denied"] = sums["denied"]
        out["residents_green_channel"] = sums["green_channel"]
        out["residents_denied_via_household"] = sums["denied_via_household"]
        out["wrongful_green_channel"] = _wrongful_green(s.decisions, p)
    else:
        out["decisions"] = None
        out["wrongful_green_channel"] = None
    if run.has("appeals"):
        ap = run.windowed("appeals", "filed_day")
        o = ap["outcome"].cast(pl.String)
        out["appeals"] = {"filed": ap.height, "upheld": int((o == "upheld").sum()),
                          "rejected": int((o == "rejected").sum())}
    else:
        out["appeals"] = None
    return out


def _wrongful_green(dec: pl.DataFrame, people: pl.DataFrame) -> dict[str, Any]:
    """Green-channel decisions (expedited, discounted) that were not deserved: how
    many, to how many residents, and per cause (decisions and residents)."""
    gc = dec.filter(pl.col("decision").cast(pl.String).is_in(["expedited", "discounted"]))
    if "wrongful" not in gc.columns:
        return {"decisions": None, "residents": None, "by_cause": None}
    gw = gc.filter(pl.col("wrongful").fill_null(False))
    cause = gw["wrongful_cause"].cast(pl.String) if "wrongful_cause" in gw.columns else \
        pl.Series([None] * gw.height, dtype=pl.String)
    return {"decisions": gw.height, "residents": int(people["wrongful_green_channel"].sum()),
            "by_cause": {c: {"decisions": int((cause == c).sum()),
                             "residents": int(people[f"green_channel_{c}"].sum())}
                         for c in CAUSES}}


def exit_routes_by_group(s: Sanctions, attrs: pl.DataFrame, col: str) -> dict[str, Any]:
    sp = s.spells.filter(pl.col("sanction")).join(
        attrs.select("resident_id", pl.col(col).cast(pl.String).alias("_g")),
        on="resident_id", how="left")
    g = sp.group_by("_g", "route").len()
    out: dict[str, dict[str, int]] = {}
    for grp, route, c in g.sort("_g", "route").iter_rows():
        out.setdefault(str(grp), {})[route] = int(c)
    return out


def audit_run(run: RunData, by: str | Sequence[str] | None = None,
              reference: Sequence[str] | str | None = None,
              thresholds: Thresholds | None = None) -> dict[str, Any]:
    """The whole audit of ``run`` as a JSON-ready dict (schema ``creditsim.audit/1``)."""
    groupings = parse_by(by)
    refs = parse_reference(reference)
    unknown = sorted(set(refs) - set(groupings))
    if unknown:
        raise AuditError(f"reference given for {', '.join(unknown)}, which is not in --by")
    th = thresholds or Thresholds()
    s = load_sanctions(run)
    miss = missed_sanctions(run, s.spells.filter(pl.col("sanction")))
    people = s.people if miss.people is None else s.people.join(miss.people, on="resident_id")
    attrs = attributes(run, groupings)
    link = linkage_audit(run, attrs, groupings)
    groups = {}
    metrics = [m for m in GROUP_METRICS
               if s.decisions is not None or m not in DECISION_METRICS]
    among = dict(CONDITIONAL)
    if miss.people is not None:
        metrics += ERROR_METRICS
        among |= ERROR_RATES
    for col in groupings:
        t = group_table(people, attrs, col, metrics, among, refs.get(col), th)
        routes = exit_routes_by_group(s, attrs, col)
        for row in t["rows"]:
            row["exit_routes"] = routes.get(row["group"], {})
        groups[col] = t
    present = [t for t in ("residents", "events", "links", "ledger", "scores", "list_spells",
                           "decisions", "demand", "appeals") if run.has(t)]
    return {
        "schema": SCHEMA,
        "run": {"path": str(run.path), "seed": run.seed, "residents": run.n_residents,
                "days": run.days, "burn_in_days": run.burn_in_days,
                "start_date": run.start_date.isoformat(),
                "policy": run.policy_name, "residents_sha256": run.sha256("residents")},
        "inputs": {"present": present,
                   "missing": run.missing("list_spells", "decisions", "demand", "appeals",
                                          "links"),
                   "notes": s.notes},
        "settings": {"window": [0, run.days],
                     "window_rule": "spells overlapping days [0, days); decisions, demand "
                                    "and appeals filed on those days",
                     "by": groupings, "confidence": 0.95, "rate_interval": "wilson",
                     "ratio_interval": "katz_log", "four_fifths": [0.8, 1.25],
                     "four_fifths_rule": "flag when the Holm-adjusted p of the ratio lying "
                                         "outside [0.8, 1.25] is below alpha (the 95% Katz "
                                         "interval wholly below 0.8 or above 1.25, "
                                         "corrected for the groups of the grouping)",
                     "adjustment": ADJUSTMENT, "alpha": ALPHA,
                     "adjustment_family": "per grouping and metric: the groups whose "
                                          "comparison is ok",
                     "min_residents": th.min_residents, "min_events": th.min_events},
        "headline": headline(run, s, link),
        "groups": groups,
        "cascade": cascade(run, s),
        "time_on_list": time_on_list(run, s, attrs, groupings),
        "missed_sanctions": miss.summary,
        "services": services(run, s),
        "linkage": link,
    }
