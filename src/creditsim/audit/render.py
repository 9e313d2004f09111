"""Rich terminal tables for the audit, explain and compare results."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from creditsim.audit.sanctions import CAUSE_LABELS

FLAG = "[bold red]⚑ 4/5[/]"


def pct(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}%"


def rate_cell(m: dict[str, Any] | None) -> str:
    if not m:
        return "–"
    lo, hi = m["ci95"]
    ci = f" [dim]({pct(lo, 2)}–{pct(hi, 2)})[/]" if lo is not None else ""
    return f"{m['count']:,} · {pct(m['rate'])}{ci}"


def ratio_cell(m: dict[str, Any] | None) -> str:
    if not m:
        return "–"
    state = m["comparison"]
    if state == "reference":
        return "[dim]reference[/]"
    if state == "insufficient_data":
        return "[yellow]insufficient data[/]"
    if m["ratio"] is None:
        return "[dim]undefined[/]"
    lo, hi = m["ratio_ci95"]
    if m.get("four_fifths_flag"):
        ci = f" ({lo:.2f}–{hi:.2f})" if lo is not None else ""
        return f"[bold red]{m['ratio']:.2f}{ci}[/] {FLAG}"
    ci = f" [dim]({lo:.2f}–{hi:.2f})[/]" if lo is not None else ""
    return f"{m['ratio']:.2f}{ci}" + (" [magenta]≠1[/]" if m.get("differs_from_1") else "")


def _num(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.4f}" if abs(v) < 1 else f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _table(title: str, cols: tuple[str, ...], n_labels: int = 1) -> Table:
    """A borderless table: the first ``n_labels`` columns are labels (left), the rest
    numbers (right)."""
    t = Table(title=title, show_edge=False)
    for i, c in enumerate(cols):
        t.add_column(c, justify="left" if i < n_labels else "right")
    return t


def print_audit(res: dict[str, Any], console: Console) -> None:
    run, h = res["run"], res["headline"]
    console.print(f"[bold]audit[/] {run['path']} · {run['residents']:,} residents × "
                  f"{run['days']} days · seed {run['seed']} · policy {run['policy']}")
    for note in res["inputs"]["notes"]:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    t = Table(title="headline", show_edge=False, show_header=False)
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k in ("residents_sanctioned", "sanction_rate", "residents_wrongly_sanctioned",
              "wrongful_share_of_sanctioned", "residents_listed", "residents_on_any_list",
              "list_spells", "residents_denied", "residents_green_channel",
              "residents_denied_via_household", "records", "wrong_links", "link_precision",
              "link_recall"):
        if k in h:
            v = h[k]
            t.add_row(k.replace("_", " "), pct(v) if k.endswith(("rate", "share_of_sanctioned"))
                      else _num(v))
    for c, v in h["wrongly_sanctioned_by_cause"].items():
        t.add_row(f"wrongly sanctioned: {CAUSE_LABELS[c]}", _num(v))
    t.add_row("wrongly listed", _num(h["residents_wrongly_listed"]))
    for c, v in h["wrongly_listed_by_cause"].items():
        t.add_row(f"wrongly listed: {CAUSE_LABELS[c]}", _num(v))
    g = h.get("wrongful_green_channel")
    if g and g.get("by_cause") is not None:
        t.add_row("wrongful green-channel decisions / residents",
                  f"{g['decisions']:,} / {g['residents']:,}")
        for c, v in g["by_cause"].items():
            t.add_row(f"wrongful green channel: {CAUSE_LABELS[c]}",
                      f"{v['decisions']:,} / {v['residents']:,}")
    if h.get("decisions"):
        t.add_row("decisions denied / expedited / discounted",
                  " / ".join(f"{h['decisions'][k]:,}" for k in ("denied", "expedited",
                                                               "discounted")))
    if h.get("appeals"):
        a = h["appeals"]
        t.add_row("appeals filed / upheld / rejected",
                  f"{a['filed']:,} / {a['upheld']:,} / {a['rejected']:,}")
    console.print(t)
    s = res["settings"]
    console.print(f"[dim]rates with Wilson 95% intervals; ratios to the reference group with "
                  f"Katz 95% intervals; {FLAG}[dim] = ratio outside 0.8–1.25 beyond chance "
                  f"({s.get('adjustment', 'holm').capitalize()}-adjusted p < "
                  f"{s.get('alpha', 0.05)} over the groups of the grouping); [/][magenta]≠1"
                  f"[/][dim] = ratio differs from 1 (same adjustment); insufficient data "
                  f"below {s['min_residents']} residents or {s['min_events']} events[/]")
    flags = [f"{col}={r['group']} {m.replace('_', ' ')} {v['ratio']:.2f} "
             f"({v['ratio_ci95'][0]:.2f}–{v['ratio_ci95'][1]:.2f}, adjusted p "
             f"{v['p_four_fifths_holm']:.3g})"
             for col, g in res["groups"].items() for r in g["rows"]
             for m, v in r.items() if isinstance(v, dict) and v.get("four_fifths_flag")
             and v["ratio_ci95"][0] is not None]
    console.print(f"[bold]four-fifths flags[/]: {len(flags)}" + ("" if flags else
                  " (no ratio is outside 0.8–1.25 beyond chance)"), highlight=False)
    for f in flags:
        console.print(f"  {FLAG} {f}", highlight=False)
    for col, g in res["groups"].items():
        has_green = any("green_channel" in r for r in g["rows"])
        t = Table(title=f"by {col} (reference: {g['reference']}, {g['reference_rule']})",
                  show_edge=False)
        for name, just in (("group", "left"), ("residents", "right"), ("sanctioned", "right"),
                           ("ratio", "right"), ("wrongly sanctioned", "right"),
                           ("ratio ", "right"), ("wrongful / sanctioned", "right")):
            t.add_column(name, justify=just)  # type: ignore[arg-type]
        if has_green:
            t.add_column("green channel", justify="right")
            t.add_column("ratio  ", justify="right")
        for r in g["rows"]:
            size = f"{r['residents']:,}" + (" [yellow]insufficient data[/]"
                                            if r["status"] == "insufficient_data" else "")
            cells = [r["group"], size, rate_cell(r["sanctioned"]), ratio_cell(r["sanctioned"]),
                     rate_cell(r["wrongly_sanctioned"]), ratio_cell(r["wrongly_sanctioned"]),
                     rate_cell(r["wrongful_among_sanctioned"])]
            if has_green:
                cells += [rate_cell(r.get("green_channel")), ratio_cell(r.get("green_channel"))]
            t.add_row(*cells)
        console.print(t)
    _print_missed(res, console)
    _print_cascade(res["cascade"], console)
    _print_time(res["time_on_list"], console)
    _print_services(res["services"], console)
    _print_linkage(res["linkage"], console)


def _missing(section: str, d: dict[str, Any], console: Console) -> bool:
    if d.get("status") == "missing":
        console.print(f"[bold]{section}[/]: [yellow]not available[/] (missing "
                      f"{', '.join(d['missing'])})")
        return True
    return False


def _print_cascade(c: dict[str, Any], console: Console) -> None:
    console.print(f"[bold]cascade[/]: {c['listed_residents']:,} listed residents; "
                  f"{c['household_members_of_listed']:,} household members live with them")
    if _missing("cascade", c, console):
        return
    d = c["services_denied_per_listed_resident"]
    hist = ", ".join(f"{k}: {v:,}" for k, v in d["histogram"].items())
    console.print(f"  distinct services denied per listed resident: mean {_num(d['mean'])}, "
                  f"median {_num(d['median'])}, max {_num(d['max'])} ({hist})")
    s = c["household_spillover"]
    console.print(f"  household spillover: {s['decisions']:,} denials to "
                  f"{s['residents_affected']:,} family members of "
                  f"{s['residents_causing']:,} residents")


ERROR_RATES = ("false_positive_rate", "false_negative_rate", "false_discovery_rate",
               "false_omission_rate")


def _print_missed(res: dict[str, Any], console: Console) -> None:
    ms = res.get("missed_sanctions")
    if not ms or _missing("missed sanctions", ms, console):
        return
    c = ms["missed_by_cause"]
    console.print(f"[bold]both error types[/] (record-triggered sanctioning lists against the "
                  f"truth world): should be listed {ms['should_be_listed']:,}, listed "
                  f"{ms['listed']:,}; wrongly listed (false positive) "
                  f"{ms['false_positive']:,}; [bold]missed[/] {ms['missed']:,} (unlinked "
                  f"{c['unlinked']:,}, linked to someone else {c['linked_to_other']:,}, other "
                  f"{c['other']:,})", highlight=False)
    for col, g in res["groups"].items():
        if not any("false_negative_rate" in r for r in g["rows"]):
            continue
        t = _table(f"error rates by {col} (reference: {g['reference']})",
                   ("group", "missed", *(m.replace("_rate", "").replace("_", " ")
                                         + " rate" for m in ERROR_RATES), "FNR ratio"))
        for r in g["rows"]:
            t.add_row(r["group"], f"{r['missed_sanction']['count']:,}",
                      *(rate_cell(r[m]) for m in ERROR_RATES),
                      ratio_cell(r["false_negative_rate"]))
        console.print(t)


def _print_time(tl: dict[str, Any], console: Console) -> None:
    if _missing("time on list", tl, console):
        return
    t = _table("time on list by exit route (days; still listed censored at the end)",
               ("list", "route", "spells", "residents", "mean", "median", "p90"), n_labels=2)
    for name, part in [("all sanctioning", tl["sanctioning_lists"]),
                       *tl["by_list"].items()]:
        for route, r in part["routes"].items():
            if r["spells"]:
                d = r["days"]
                t.add_row(name, route, f"{r['spells']:,}", f"{r['residents']:,}",
                          *(f"{d[k]:,.1f}" for k in ("mean", "median", "p90")))
    console.print(t)
    t = _table("time on list, Kaplan–Meier (days from each spell's start; open spells "
               "censored at the window's end)",
               ("list", "spells", "ended", "censored", "median", "restricted mean"))
    for name, part in [("all sanctioning", tl["sanctioning_lists"]), *tl["by_list"].items()]:
        k = part.get("kaplan_meier")
        if k and k["spells"]:
            t.add_row(name, f"{k['spells']:,}", f"{k['ended']:,}", f"{k['censored']:,}",
                      "not reached" if k["median"] is None else f"{k['median']:,.0f}",
                      f"{k['restricted_mean']:,.1f} (to day {k['restricted_to']})")
    console.print(t)


def _print_services(sv: dict[str, Any], console: Console) -> None:
    if _missing("services", sv, console):
        return
    ft = sv["flights_and_trains"]
    console.print(f"[bold]flights and trains blocked[/]: {ft['denied']:,} denials"
                  + (f" to {ft['residents']:,} residents" if ft["residents"] is not None else "")
                  + (f", {ft['wrongful_denied']:,} wrongful" if ft["wrongful_denied"]
                     is not None else ""))
    t = _table(f"services (from {sv['source']})",
               ("service", "demands", "denied", "residents denied", "wrongful denied",
                "expedited", "discounted"))
    for name, r in sv["by_service"].items():
        dm = r.get("demand", {})
        if not any(r.get(k, dm.get(k)) for k in ("denied", "expedited", "discounted")):
            continue
        t.add_row(name, _num(dm.get("demands")), _num(r.get("denied", dm.get("denied"))),
                  _num(r.get("residents_denied")),
                  _num(r.get("wrongful_denied")), _num(r.get("expedited", dm.get("expedited"))),
                  _num(r.get("discounted", dm.get("discounted"))))
    console.print(t)


def _print_linkage(lk: dict[str, Any], console: Console) -> None:
    if _missing("linkage", lk, console):
        return
    o = lk["overall"]
    console.print(f"[bold]linkage[/]: {o['records']:,} records, {o['wrong']:,} wrong links, "
                  f"{o['unlinked']:,} unlinked; precision {pct(o['precision']['rate'], 2)}, "
                  f"recall {pct(o['recall']['rate'], 2)}")
    for col, rows in lk["by_group"].items():
        t = _table(f"linkage accuracy by {col}",
                   ("group", "residents", "recall (their records)",
                    "precision (links to them)", "residents given others' records"))
        for r in rows:
            t.add_row(r["group"], f"{r['residents']:,}", rate_cell(r["recall"]),
                      rate_cell(r["precision"]), rate_cell(r["residents_given_wrong_records"]))
        console.print(t)


def print_explanation(ex: Any, console: Console) -> None:
    p = ex.resident
    console.print(f"[bold]resident {ex.resident_id}[/]: {p.get('name')} · {p.get('sex')} · "
                  f"born {p.get('birth_date')} · {p.get('district')} · {p.get('hukou')} · "
                  f"household {p.get('household_id')} ({p.get('relation')}) · ID "
                  f"{p.get('id_number')}", highlight=False)
    s = ex.summary
    console.print(", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in s.items()),
                  highlight=False)
    if ex.missing:
        console.print(f"[yellow]not in this run:[/] {', '.join(ex.missing)}")
    t = Table(title="provenance, in time order", show_edge=False)
    for c in ("day", "date", "stage", "what", "detail", "status"):
        t.add_column(c, overflow="fold")
    style = {"wrong": "[red]", "unlinked": "[yellow]", "ok": "[green]"}
    for r in ex.timeline.iter_rows(named=True):
        st = r["status"] or ""
        mark = "[red]" if st.startswith(("wrong", "wrongful")) else style.get(st, "")
        t.add_row(str(r["day"]), str(r["date"]), r["stage"], r["what"], r["detail"],
                  f"{mark}{st}[/]" if mark else st)
    console.print(t)
    if ex.wrongly_linked_in.height:
        t = Table(title="other residents' records linked to this resident", show_edge=False)
        for c in ex.wrongly_linked_in.columns:
            t.add_column(c.replace("_", " "))
        for r in ex.wrongly_linked_in.iter_rows():
            t.add_row(*["" if v is None else str(v) for v in r])
        console.print(t)
    else:
        console.print("no other resident's records were linked to this resident")


def print_compare(res: dict[str, Any], console: Console) -> None:
    a, b = res["a"], res["b"]
    console.print(f"[bold]A[/] {a['path']} (seed {a['seed']}, policy {a['policy']})")
    console.print(f"[bold]B[/] {b['path']} (seed {b['seed']}, policy {b['policy']})")
    for p in res["problems"]:
        console.print(f"[yellow]warning (forced):[/] {p}")
    if res["config_diff"]:
        console.print("config differs: " + "; ".join(
            f"{k}: {v['a']} → {v['b']}" for k, v in res["config_diff"].items()))
    t = _table("headline", ("metric", "A", "B", "B − A"))
    for r in res["headline"]:
        if r["a"] == r["b"] and not isinstance(r["a"], (int, float)):
            continue
        t.add_row(r["metric"].replace("_", " "), _num(r["a"]), _num(r["b"]), _num(r["diff"]))
    console.print(t)
    if res["paired"]:
        for m, v in res["paired"].items():
            console.print(f"paired ({m.replace('_', ' ')}): both {v['both']:,} · only A "
                          f"{v['only_a']:,} · only B {v['only_b']:,}")
    for col, rows in res["groups"].items():
        t = Table(title=f"by {col}: rates A → B", show_edge=False)
        t.add_column("group")
        t.add_column("residents", justify="right")
        ms = [m for m in ("sanctioned", "wrongly_sanctioned", "wrongful_among_sanctioned",
                          "green_channel") if any(m in r for r in rows)]
        for m in ms:
            t.add_column(m.replace("_", " "), justify="right")
        for r in rows:
            cells = [r["group"], _num(r["residents"])]
            for m in ms:
                v = r.get(m)
                cells.append("–" if v is None else
                             f"{pct(v['a'])} → {pct(v['b'])} "
                             f"({'+' if (v['diff'] or 0) >= 0 else '−'}"
                             f"{pct(abs(v['diff'] or 0))})")
            t.add_row(*cells)
        console.print(t)
