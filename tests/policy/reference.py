"""The reference interpreter: a policy applied one resident at a time, in plain Python.

Used only by the tests. Written to be read, not to be fast: every rule of
docs/policy.md appears here as a few lines of straightforward code, with
datetime for calendars and loops for sums. The differential tests assert that
the fast engine (creditsim.policy.engine) produces identical tables.
"""

from __future__ import annotations

import calendar
import math
from collections import defaultdict
from datetime import date, timedelta

import chinese_calendar
import polars as pl

from creditsim.policy.model import Policy, Rule
from creditsim.policy.result import ledger_schema, scores_schema, spells_schema
from creditsim.rundays import prc_coverage


def _month_idx(start: date, d: int) -> int:
    x = start + timedelta(days=d)
    return (x.year - start.year) * 12 + x.month - start.month


def _year_idx(start: date, d: int) -> int:
    return (start + timedelta(days=d)).year - start.year


def _period(kind: str, start: date, d: int) -> int:
    return {"month": _month_idx, "year": _year_idx}.get(kind, lambda s, d: 0)(start, d)


def _add_working_days(start: date, d: int, n: int) -> int:
    """The n-th PRC working day after day d (Monday to Friday outside the years the
    holiday tables cover)."""
    lo, hi = prc_coverage()
    x, count = d, 0
    while count < n:
        x += 1
        day = start + timedelta(days=x)
        if chinese_calendar.is_workday(day) if lo <= day <= hi else day.weekday() < 5:
            count += 1
    return x


def _covered_from(policy: Policy, row: dict, start: date) -> int | None:
    if policy.scale is None:
        return None
    cov = policy.coverage
    if cov is None:
        return 0
    hukou = row.get("hukou")
    if hukou is not None and hukou not in cov.hukou:
        return None
    if cov.consent_required and "consent" in row and not row["consent"]:
        return None
    first = 0
    if cov.min_age > 0:
        b = row["birth_date"]
        if b is None:
            return None
        y = b.year + cov.min_age
        dd = 28 if (b.month == 2 and b.day == 29 and not calendar.isleap(y)) else b.day
        first = max(first, (date(y, b.month, dd) - start).days)
    need = cov.min_years_in_city
    if hukou == "migrant" and cov.min_years_in_city_migrant is not None:
        need = cov.min_years_in_city_migrant
    if need > 0:
        yic = row.get("years_in_city")
        yic = 0.0 if yic is None else float(yic)
        first = max(first, math.ceil((need - yic) * 365.25))
    return max(first, 0)


def _per_unit_value(rule: Rule, q: int) -> float:
    acc, lo = 0.0, 0
    for b in rule.per_unit.brackets:  # type: ignore[union-attr]
        width = None if b.upto is None else int(round(b.upto * 1000)) - lo
        part = max(q - lo, 0)
        if width is not None:
            part = min(part, width)
        acc = acc + b.points * part / (b.per * 1000.0)
        if width is not None:
            lo += width
    return acc


def _trunc(x: float) -> int:
    return math.trunc(x + (1e-9 if x >= 0 else -1e-9))


def _ledger_for(policy: Policy, recs: list[dict], cov: int | None, start: date) -> list[dict]:
    caps = {c.id: c for c in policy.caps}
    acc: dict[tuple, int] = defaultdict(int)
    used: dict[tuple, int] = defaultdict(int)
    out = []
    for r in recs:
        if cov is None or r["day_recorded"] < cov:
            continue
        for i, rule in enumerate(policy.rules):
            amount = r["amount"]
            if r["kind"] not in rule.kinds:
                continue
            if rule.amount_min is not None and (amount is None or not amount >= rule.amount_min):
                continue
            if rule.amount_max is not None and (amount is None or not amount < rule.amount_max):
                continue
            if rule.points is not None:
                raw = rule.points
            else:
                q = 0 if amount is None else round(amount * 1000)
                pu = rule.per_unit
                if pu.accumulate == "record":  # type: ignore[union-attr]
                    raw = _trunc(_per_unit_value(rule, q))
                else:
                    key = (i, _period(pu.accumulate, start, r["day_recorded"]))  # type: ignore[union-attr]
                    prev = acc[key]
                    acc[key] = prev + q
                    raw = _trunc(_per_unit_value(rule, prev + q)) - _trunc(
                        _per_unit_value(rule, prev)
                    )
            pts = raw
            if rule.cap is not None:
                cap = caps[rule.cap]
                key = (cap.id, _period(cap.period, start, r["day_recorded"]))
                a = abs(raw)
                granted = min(used[key] + a, cap.max_points) - min(used[key], cap.max_points)
                used[key] += a
                pts = granted if raw > 0 else -granted
            if pts == 0:
                continue
            base = r["day_event"] if policy.scale.expiry_from == "event" else r["day_recorded"]  # type: ignore[union-attr]
            if base is None:
                base = r["day_recorded"]
            out.append(
                {
                    "resident_id": r["resident_id"],
                    "day": r["day_recorded"],
                    "rule_id": rule.id,
                    "points": pts,
                    "expires_day": base + rule.expires_days,
                    "record_id": r["record_id"],
                }
            )
    return out


def _trigger_term(li, r):  # noqa: ANN001, ANN202
    for t in li.triggers:
        if r["kind"] in t.kinds and (
            t.amount_min is None or (r["amount"] is not None and r["amount"] >= t.amount_min)
        ):
            return t.term_days
    return None


def _kind_spells(li, recs: list[dict], start: date, days: int) -> list[dict]:  # noqa: ANN001
    by_key: dict = defaultdict(list)
    relevant = (
        {k for t in li.triggers for k in t.kinds} | set(li.exit_kinds) | set(li.aggravating_kinds)
    )
    for r in recs:
        if r["kind"] in relevant:
            by_key[r["case_number"] if li.per_case else None].append(r)
    out = []
    for key_recs in by_key.values():
        done = []
        cur = None
        for r in key_recs:  # already in (day_recorded, record_id) order
            d = r["day_recorded"]
            if cur is not None and cur["end"] is not None and d >= cur["end"]:
                done.append(cur)
                cur = None
            if cur is None:
                term = _trigger_term(li, r)
                if term is not None:
                    s = d + li.grace_days
                    fixed = None if term == "indefinite" else term
                    cur = {
                        "start": s,
                        "term": fixed,
                        "ext": 0,
                        "closing": False,
                        "end": None if fixed is None else s + fixed,
                        "reason": "term_expired",
                        "record_id": r["record_id"],
                        "case_number": r["case_number"] if li.per_case else None,
                    }
                continue
            if cur["closing"]:
                continue
            if r["kind"] in li.exit_kinds:
                if d < cur["start"]:
                    cur = None
                    continue
                deleted = _add_working_days(start, d, li.exit_after_working_days)
                if cur["end"] is None or deleted < cur["end"]:
                    cur["end"], cur["reason"] = deleted, "exit_record"
                cur["closing"] = True
                continue
            if r["kind"] in li.aggravating_kinds and cur["term"] is not None and li.extend_days:
                cur["ext"] = min(cur["ext"] + li.extend_days, li.max_extension_days)
                cur["end"] = cur["start"] + cur["term"] + cur["ext"]
        if cur is not None:
            done.append(cur)
        for sp in done:
            if sp["start"] >= days or (sp["end"] is not None and sp["end"] <= sp["start"]):
                continue
            end, reason = sp["end"], sp["reason"]
            if end is None or end >= days:
                end, reason = None, None
            out.append(
                {
                    "list": li.id,
                    "start_day": sp["start"],
                    "end_day": end,
                    "exit_reason": reason,
                    "record_id": sp["record_id"],
                    "case_number": sp["case_number"],
                }
            )
    return out


def _raw_score(policy: Policy, ledger: list[dict], day: int) -> int:
    sc = policy.scale
    total = sc.baseline + sum(e["points"] for e in ledger if e["day"] <= day < e["expires_day"])  # type: ignore[union-attr]
    return min(max(total, sc.min), sc.max)  # type: ignore[union-attr]


def _score_spells(li, policy: Policy, ledger: list[dict], cov: int | None, days: int) -> list[dict]:  # noqa: ANN001
    if cov is None or cov >= days:
        return []
    out, start = [], None
    for d in range(cov, days):
        below = _raw_score(policy, ledger, d) < li.score_below
        if below and start is None:
            start = d
        elif not below and start is not None:
            out.append((start, d))
            start = None
    if start is not None:
        out.append((start, None))
    rows = []
    for s, e in out:
        ids = [x["record_id"] for x in ledger if x["day"] == s]
        rows.append(
            {
                "list": li.id,
                "start_day": s,
                "end_day": e,
                "exit_reason": None if e is None else "score_recovered",
                "record_id": max(ids) if ids else None,
                "case_number": None,
            }
        )
    return rows


def _tier_index(policy: Policy, score: int) -> int:
    for i, t in enumerate(policy.tiers):
        if t.min <= score <= t.max:
            return i
    raise AssertionError(score)


def _state(policy: Policy, ledger, recs, spells, cov, day):  # noqa: ANN001, ANN202
    score = _raw_score(policy, ledger, day)
    tier_caps = []
    for o in policy.overrides:
        if o.kinds is not None:
            active = any(
                r["kind"] in o.kinds
                and r["day_recorded"] >= cov
                and r["day_recorded"] <= day < r["day_recorded"] + o.duration_days
                for r in recs
            )
        else:
            active = any(
                sp["list"] == o.on_list
                and sp["start_day"] <= day
                and (sp["end_day"] is None or day < sp["end_day"])
                for sp in spells
            )
        if active:
            if o.cap_score is not None:
                score = min(score, o.cap_score)
            if o.cap_tier is not None:
                tier_caps.append(policy.tier_names.index(o.cap_tier))
    return score, max([_tier_index(policy, score), *tier_caps])


def reference_apply(
    policy: Policy, register: pl.DataFrame, linked: pl.DataFrame, *, days: int, start_date: date
) -> dict[str, pl.DataFrame]:
    """The three tables, computed one resident at a time."""
    by_res: dict[int, list[dict]] = defaultdict(list)
    for r in linked.to_dicts():
        if r["resident_id"] is None or not 0 <= r["day_recorded"] < days:
            continue
        r["kind"] = str(r["kind"])
        r.setdefault("case_number", None)
        by_res[r["resident_id"]].append(r)
    months = []
    first = date(start_date.year, start_date.month, 1)
    while (first - start_date).days <= days - 1:
        last = date(first.year, first.month, calendar.monthrange(first.year, first.month)[1])
        months.append((first, min((last - start_date).days, days - 1)))
        first = last + timedelta(days=1)

    ledger_rows, score_rows, spell_rows = [], [], []
    for row in register.to_dicts():
        rid = row["resident_id"]
        recs = sorted(by_res.get(rid, []), key=lambda r: (r["day_recorded"], r["record_id"]))
        cov = _covered_from(policy, row, start_date)
        ledger = _ledger_for(policy, recs, cov, start_date) if policy.scale else []
        spells = []
        for li in policy.lists:
            sp = (
                _score_spells(li, policy, ledger, cov, days)
                if li.score_below is not None
                else _kind_spells(li, recs, start_date, days)
            )
            spells += [{"resident_id": rid, **s} for s in sp]
        ledger_rows += ledger
        spell_rows += spells
        if policy.scale is None or cov is None:
            continue
        # one row per month in which the state changed (the first compared with the baseline)
        prev = (policy.scale.baseline, _tier_index(policy, policy.scale.baseline))
        for first, snap in months:
            if snap < cov:
                continue
            state = _state(policy, ledger, recs, spells, cov, snap)
            if state != prev:
                score_rows.append(
                    {
                        "resident_id": rid,
                        "month": first,
                        "day": snap,
                        "score": state[0],
                        "tier": policy.tier_names[state[1]],
                    }
                )
                prev = state
    return {
        "ledger": pl.DataFrame(ledger_rows, schema=ledger_schema(policy), orient="row")
        if ledger_rows
        else pl.DataFrame(schema=ledger_schema(policy)),
        "scores": pl.DataFrame(score_rows, schema=scores_schema(policy), orient="row")
        if score_rows
        else pl.DataFrame(schema=scores_schema(policy)),
        "list_spells": pl.DataFrame(spell_rows, schema=spells_schema(policy), orient="row")
        if spell_rows
        else pl.DataFrame(schema=spells_schema(policy)),
    }
