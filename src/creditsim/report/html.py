"""Assemble the self-contained HTML report: one file, plotly.js inline, no requests."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import json
import re
from pathlib import Path
from typing import Any

from creditsim.audit import CAUSE_LABELS, RunData, audit_run, load_spells
from creditsim.fsops import write_atomic
from creditsim.report import charts, series
from creditsim.report.bands import sweep_sections
from creditsim.resources import disk_full_error

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;background:#fff}
main{max-width:1200px;margin:0 auto;padding:1rem 2rem 4rem}
h1{font-size:1.6rem;margin:.5rem 0}h2{margin-top:2.5rem;border-bottom:1px solid #ddd}
.cards{display:flex;flex-wrap:wrap;gap:.75rem}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem .9rem;min-width:10rem}
.card b{display:block;font-size:1.4rem}.card span{color:#555;font-size:.85rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
td,th{border-bottom:1px solid #eee;padding:.25rem .5rem;text-align:right;vertical-align:top}
td:first-child,th:first-child{text-align:left}
td.l{text-align:left;max-width:40rem;word-break:break-word}
.flag{color:#b00;font-weight:bold}.dim{color:#777}.note{color:#8a6d00}
pre{background:#f7f7f7;padding:1rem;overflow:auto;font-size:.8rem;max-height:40rem}
nav a{margin-right:1rem}
"""

PLOT_CONFIG = {"displaylogo": False, "responsive": True,
               "modeBarButtonsToRemove": ["sendDataToCloud"]}


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _pct(x: float | None, d: int = 3) -> str:
    return "–" if x is None else f"{100 * x:.{d}f}%"


class _Doc:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.n = 0

    def add(self, s: str) -> None:
        self.parts.append(s)

    def fig(self, fig: Any) -> None:
        """A chart: an empty plot element and its figure as a JSON data block (not a
        script: the page's one drawing script, :data:`DRAW_JS`, plots every block)."""
        self.n += 1
        if fig.layout.height is None:
            fig.update_layout(height=400)
        self.parts.append(f'<div id="chart-{self.n}" class="plotly-graph-div"></div>'
                          + json_block(fig.to_json(validate=False), f"chart-{self.n}"))


def json_block(text: str, for_id: str) -> str:
    """JSON ``text`` in a ``<script type="application/json">`` data block for the
    element ``for_id``. ``<``, ``>`` and ``&`` are written as JSON escapes, so no
    string in the data can close the block or open a tag."""
    safe = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (f'<script type="application/json" class="chart-data" data-for="{_e(for_id)}">'
            f"{safe}</script>")


#: The page's own script: draws every chart from its data block.
DRAW_JS = ("(function(){var c=" + json.dumps(PLOT_CONFIG, sort_keys=True) + ";"
           "document.querySelectorAll('script.chart-data').forEach(function(s){"
           "var f=JSON.parse(s.textContent);"
           "Plotly.newPlot(s.getAttribute('data-for'),f.data,f.layout,c);});})();")


def _plotly_style_ids(js: str) -> list[str]:
    """Ids of the ``<style>`` elements plotly.js adds when it starts (unless an
    element with that id exists): its global style rules, and the stylesheet of its
    map traces, which the page does not use."""
    found = re.findall(r'getElementById\("([0-9a-f]{64})"\)\)\{var \w+=document'
                       r'\.createElement\("style"\)', js)
    return ["plotly.js-style-global", *found]


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()
                                         ).decode("ascii") + "'"


def page(title: str, body: str, js: str) -> str:
    """The whole document: ``body`` with plotly.js ``js`` and the drawing script.

    Content-Security-Policy: no network (``default-src 'none'``); the two inline
    scripts and the one stylesheet by their sha256, nothing else runs; no eval.
    plotly.js adds style rules at run time through the CSSOM (allowed); it looks
    for its ``<style>`` elements by id first, so empty ones (allowed by the hash of
    the empty text) are provided for it to fill instead of elements CSP would block.
    """
    styles = "".join(f'<style id="{_e(i)}"></style>' for i in _plotly_style_ids(js))
    csp = (f"default-src 'none'; script-src {_csp_hash(js)} {_csp_hash(DRAW_JS)}; "
           f"style-src {_csp_hash(CSS)} {_csp_hash('')}; img-src data: blob:; "
           "font-src data:; base-uri 'none'; form-action 'none'")
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">"
            "<meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<title>{_e(title)}</title><style>{CSS}</style>{styles}"
            f"<script>{js}</script></head><body><main>{body}</main>"
            f"<script>{DRAW_JS}</script></body></html>\n")


def _cards(h: dict[str, Any]) -> str:
    items = [("residents", f"{h['residents']:,}"),
             ("sanctioned", f"{h['residents_sanctioned']:,}"),
             ("sanction rate", _pct(h["sanction_rate"])),
             ("wrongly sanctioned", f"{h['residents_wrongly_sanctioned']:,}"),
             ("wrongful share of sanctioned", _pct(h["wrongful_share_of_sanctioned"], 1)),
             ("on a sanctioning list", f"{h['residents_listed']:,}")]
    items += [(f"wrongly listed: {CAUSE_LABELS[c]}", f"{v:,}")
              for c, v in h["wrongly_listed_by_cause"].items()]
    if h.get("decisions"):
        items += [("denials", f"{h['decisions']['denied']:,}"),
                  ("green-channel decisions",
                   f"{h['decisions']['expedited'] + h['decisions']['discounted']:,}")]
        g = h.get("wrongful_green_channel") or {}
        if g.get("decisions") is not None:
            items += [("wrongful green-channel decisions", f"{g['decisions']:,}")]
    if h.get("records") is not None:
        items += [("records", f"{h['records']:,}"), ("wrong links", f"{h['wrong_links']:,}"),
                  ("link precision", _pct(h["link_precision"], 2))]
    if h.get("appeals"):
        items += [("appeals upheld / filed",
                   f"{h['appeals']['upheld']:,} / {h['appeals']['filed']:,}")]
    return '<div class="cards">' + "".join(
        f"<div class=card><b>{_e(v)}</b><span>{_e(k)}</span></div>" for k, v in items) + "</div>"


GROUP_TABLE_METRICS = ("sanctioned", "wrongly_sanctioned", "wrongful_among_sanctioned",
                       "green_channel")
#: Both error types of listing against the truth world (docs/audit.md).
ERROR_TABLE_METRICS = ("missed_sanction", "false_positive_rate", "false_negative_rate",
                       "false_discovery_rate", "false_omission_rate")


def _group_table(col: str, g: dict[str, Any],
                 metrics: tuple[str, ...] = GROUP_TABLE_METRICS, what: str = "") -> str:
    ms = [m for m in metrics if any(m in r for r in g["rows"])]
    head = "".join(f"<th>{_e(m.replace('_', ' '))}</th><th>ratio</th>" for m in ms)
    out = [f"<table><caption>{_e(what)}by {_e(col)} — reference {_e(g['reference'])} "
           f"({_e(g['reference_rule'])})</caption><tr><th>group</th><th>residents</th>{head}"
           "</tr>"]
    for r in g["rows"]:
        cells = [f"<td>{_e(r['group'])}</td><td>{r['residents']:,}"
                 + (" <span class=note>insufficient data</span>"
                    if r["status"] == "insufficient_data" else "") + "</td>"]
        for m in ms:
            v = r.get(m)
            lo, hi = v["ci95"]
            cells.append(f"<td>{v['count']:,} · {_pct(v['rate'])} <span class=dim>"
                         f"({_pct(lo, 2)}–{_pct(hi, 2)})</span></td>")
            if v["comparison"] == "reference":
                cells.append("<td class=dim>reference</td>")
            elif v["comparison"] == "insufficient_data":
                cells.append("<td class=note>insufficient data</td>")
            elif v["ratio"] is None:
                cells.append("<td class=dim>undefined</td>")
            else:
                flag = " <span class=flag>⚑ 4/5</span>" if v["four_fifths_flag"] else ""
                rlo, rhi = v["ratio_ci95"]
                ci = (f" <span class=dim>({rlo:.2f}–{rhi:.2f})</span>"
                      if rlo is not None else "")
                cells.append(f"<td>{v['ratio']:.2f}{ci}{flag}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "".join(out) + "</table>"


def _params_table(params: dict[str, Any]) -> str:
    rows = []
    for k, v in params.items():
        val, src = (v.get("value"), v.get("source")) if isinstance(v, dict) else (v, "")
        text = json.dumps(val, ensure_ascii=False, default=str)
        if len(text) > 300:
            text = text[:300] + " …"
        rows.append(f"<tr><td>{_e(k)}</td><td class=l>{_e(text)}</td><td class=l>{_e(src)}"
                    "</td></tr>")
    return ("<table><tr><th>parameter</th><th>value</th><th>source</th></tr>" + "".join(rows)
            + "</table>")


def render_html(run: RunData, audit: dict[str, Any] | None = None) -> str:
    """The report of ``run`` as one HTML string."""
    import plotly.offline

    a = audit or audit_run(run)
    h = a["headline"]
    spells, _ = load_spells(run)
    doc = _Doc()
    doc.add(f"<h1>creditsim report — {_e(run.path.name)}</h1>")
    doc.add(f"<p>{run.n_residents:,} synthetic residents × {run.days} days from "
            f"{run.start_date.isoformat()}, seed {_e(run.seed)}, policy "
            f"<b>{_e(run.policy_name)}</b>, creditsim {_e(run.manifest.get('creditsim'))}. "
            "Every resident is synthetic; the audit compares what the platform did with what "
            "really happened.</p>")
    doc.add("<nav>" + "".join(f'<a href="#{s}">{s.replace("-", " ")}</a>' for s in (
        "headline", "scores", "lists", "services", "wrongful", "disparate-impact", "linkage",
        "policy", "parameters")) + "</nav>")
    for note in a["inputs"]["notes"]:
        doc.add(f"<p class=note>note: {_e(note)}</p>")
    doc.add('<h2 id="headline">Headline</h2>' + _cards(h))

    doc.add('<h2 id="scores">Scores and tiers</h2>')
    hist = series.final_scores(run)
    tiers = series.tiers_over_time(run)
    if hist:
        doc.fig(charts.score_histogram(hist))
    if tiers:
        doc.fig(charts.tiers_area(tiers))
    if not hist and not tiers:
        doc.add("<p class=note>no scores in this run (a list-only policy, or no scores "
                "table)</p>")

    doc.add('<h2 id="lists">Lists</h2>')
    ls = series.list_sizes(run, spells)
    if ls:
        doc.fig(charts.list_lines(ls))
        doc.fig(charts.exit_routes(a["time_on_list"]))
        km = a["time_on_list"].get("sanctioning_lists", {}).get("kaplan_meier")
        if km and km["spells"]:
            med = "not reached" if km["median"] is None else f"{km['median']:,.0f} days"
            doc.add(f"<p>Time on a sanctioning list (Kaplan–Meier, from each spell's start; "
                    f"the {km['censored']:,} spells still open at the window's end censored "
                    f"there): median {med}, restricted mean {km['restricted_mean']:,.1f} "
                    f"days over the first {km['restricted_to']:,} days.</p>")
        c = a["cascade"]
        doc.add(f"<p>{c['listed_residents']:,} residents were on a sanctioning list; "
                f"{c['household_members_of_listed']:,} others live in their households.</p>")
        if c["status"] == "ok":
            d = c["services_denied_per_listed_resident"]
            s = c["household_spillover"]
            doc.add(f"<p>Distinct services denied per listed resident: mean {d['mean']:.2f}, "
                    f"max {d['max']:.0f}. Household spillover: {s['decisions']:,} denials to "
                    f"{s['residents_affected']:,} family members.</p>")
    else:
        doc.add("<p class=note>no list spells in this run</p>")

    doc.add('<h2 id="services">Blocked services and the green channel</h2>')
    sv = a["services"]
    if sv["status"] == "ok" and sv["by_service"]:
        ft = sv["flights_and_trains"]
        doc.add(f"<p>Flights and trains blocked: <b>{ft['denied']:,}</b> denials"
                + (f" to {ft['residents']:,} residents" if ft["residents"] is not None else "")
                + ".</p>")
        doc.fig(charts.services_bar(sv["by_service"]))
    else:
        doc.add(f"<p class=note>not available: this run has no "
                f"{_e(' or '.join(sv.get('missing', [])))} table</p>")

    doc.add('<h2 id="wrongful">Wrongful sanctions by cause</h2>')
    doc.add(f"<p class=dim>source of the wrongful flags: {_e(h['wrongful_source'])} "
            "(docs/audit.md)</p>")
    doc.fig(charts.causes_bar(h["wrongly_sanctioned_by_cause"],
                              h["residents_wrongly_sanctioned"]))
    ms = a.get("missed_sanctions") or {}
    if ms.get("status") == "ok":
        c = ms["missed_by_cause"]
        doc.add(f"<h3>Both error types</h3><p>Against the truth world (the record-triggered "
                f"sanctioning lists applied to every record under its true subject): "
                f"{ms['should_be_listed']:,} residents should have been listed and "
                f"{ms['listed']:,} were; <b>{ms['false_positive']:,}</b> were listed who "
                f"should not have been, and <b>{ms['missed']:,}</b> were missed (their "
                f"record unlinked: {c['unlinked']:,}; linked to someone else: "
                f"{c['linked_to_other']:,}; other: {c['other']:,}).</p>")
        for col, g in a["groups"].items():
            doc.add(_group_table(col, g, ERROR_TABLE_METRICS, "error rates "))

    doc.add('<h2 id="disparate-impact">Disparate impact by group</h2>')
    st = a["settings"]
    doc.add(f"<p class=dim>Rates per resident with Wilson 95% intervals; ratios to the "
            f"reference group with Katz 95% intervals; four-fifths flag when the ratio is "
            f"outside 0.8–1.25 beyond chance (Holm-adjusted p &lt; {st.get('alpha', 0.05)} "
            f"over the groups of a grouping); "
            f"insufficient data below {st['min_residents']} residents or {st['min_events']} "
            "events. Right-hand panels: the shaded band is 0.8–1.25, diamonds are flagged "
            "groups, and groups with insufficient data have no ratio.</p>")
    metrics = [("sanctioned", "sanctioned"), ("wrongly_sanctioned", "wrongly sanctioned")]
    if h.get("decisions"):
        metrics.append(("green_channel", "green channel"))
    for col, g in a["groups"].items():
        doc.fig(charts.disparate_impact(col, g, metrics))
        doc.add(_group_table(col, g))

    doc.add('<h2 id="linkage">Linkage accuracy</h2>')
    lk = a["linkage"]
    if lk["status"] == "ok":
        o = lk["overall"]
        doc.add(f"<p>{o['records']:,} records; {o['wrong']:,} linked to the wrong resident; "
                f"{o['unlinked']:,} unlinked; precision {_pct(o['precision']['rate'], 2)}, "
                f"recall {_pct(o['recall']['rate'], 2)}.</p>")
        doc.fig(charts.linkage_by_department(lk["by_department"]))
        for col, rows in lk["by_group"].items():
            doc.fig(charts.linkage_by_group(col, rows))
    else:
        doc.add("<p class=note>no links table in this run</p>")

    doc.add('<h2 id="policy">Policy</h2>')
    text = run.policy_text()
    doc.add(f"<pre>{_e(text)}</pre>" if text else
            f"<p class=note>policy text of {_e(run.policy_name)} is not available</p>")
    doc.add('<h2 id="parameters">Parameters and their sources</h2>')
    doc.add(_params_table(run.manifest.get("parameters") or {}))
    cfg = json.dumps(run.config, indent=2, ensure_ascii=False)
    doc.add(f"<h3>Run configuration</h3><pre>{_e(cfg)}</pre>")

    made = dt.datetime.fromtimestamp((run.path / "manifest.json").stat().st_mtime)
    doc.add(f"<p class=dim>run finished {made:%Y-%m-%d %H:%M}; report by creditsim.</p>")
    return page(f"creditsim report — {run.path.name}", "\n".join(doc.parts),
                plotly.offline.get_plotlyjs())


def write_report(run: RunData, out: Path, audit: dict[str, Any] | None = None) -> Path:
    """Render and write the report (see :func:`creditsim.report.build_report`);
    nothing is left behind on a failure, and a full disk is one located problem."""
    out = Path(out)
    text = render_html(run, audit).encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_atomic(out, lambda f: f.write(text))
    except OSError as e:
        _raise_if_disk_full(e, out, len(text))
        raise
    return out


def write_sweep_report(title: str, summary: list[dict[str, Any]], pooled: dict[str, Any],
                       out: Path) -> Path:
    """The report of a sweep (:mod:`creditsim.report.bands`), written as
    :func:`write_report` writes a run's."""
    import plotly.offline

    doc = _Doc()
    sweep_sections(title, summary, pooled, doc.fig, doc.add)
    text = page(f"creditsim sweep report — {title}", "\n".join(doc.parts),
                plotly.offline.get_plotlyjs()).encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_atomic(out, lambda f: f.write(text))
    except OSError as e:
        _raise_if_disk_full(e, out, len(text))
        raise
    return out


def _raise_if_disk_full(exc: BaseException, out: Path, need: int) -> None:
    """A full disk while writing the report as one located problem."""
    err = disk_full_error(exc, out, need)
    if err is not None:
        raise err from None
