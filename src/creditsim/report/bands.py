"""The report of a sweep: each headline figure per arm as its median and 10–90 %
band over the replicates, and the group rates pooled over the replicates.

Input is plain data, made by the caller from the sweep directory: the per-arm
summary rows (``Sweep.summary()``: arm, point, metric, n, median, p10, p90, mean,
mcse) and the pooled audit (``Sweep.pooled()``, schema ``creditsim.sweep.pooled/1``).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from creditsim.report.charts import LAYOUT, PALETTE

#: Headline figures drawn as bands (those the sweep has, in this order).
BANDS: tuple[tuple[str, str], ...] = (
    ("residents_sanctioned", "residents sanctioned"),
    ("residents_wrongly_sanctioned", "residents wrongly sanctioned"),
    ("residents_listed", "residents on a sanctioning list"),
    ("residents_wrongly_listed", "residents wrongly listed"),
    ("residents_denied", "residents denied a service"),
    ("residents_green_channel", "residents given the green channel"),
    ("sanction_rate", "sanction rate"),
    ("wrong_links", "records linked to the wrong resident"),
    ("link_precision", "link precision"),
)
#: Pooled group metrics drawn per grouping.
POOLED: tuple[tuple[str, str], ...] = (("sanctioned", "sanctioned"),
                                       ("wrongly_sanctioned", "wrongly sanctioned"))


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def cell_name(arm: str, point: int | None) -> str:
    return arm if point is None else f"{arm}.p{point:03d}"


def band_figure(metric: str, label: str, rows: Sequence[Mapping[str, Any]]) -> go.Figure:
    """One figure's median per arm with its 10–90 % band as an error bar."""
    cells = [cell_name(r["arm"], r["point"]) for r in rows]
    med = [r["median"] for r in rows]
    fig = go.Figure()
    fig.add_scatter(x=cells, y=med, mode="markers", name="median",
                    marker={"color": PALETTE[0], "size": 10},
                    error_y={"type": "data", "visible": True,
                             "array": [r["p90"] - r["median"] for r in rows],
                             "arrayminus": [r["median"] - r["p10"] for r in rows]},
                    customdata=[[r["n"], r["p10"], r["p90"]] for r in rows],
                    hovertemplate="%{x}: median %{y}<br>10–90 %: %{customdata[1]}–"
                                  "%{customdata[2]}<br>replicates %{customdata[0]}"
                                  "<extra></extra>")
    fig.update_layout(title=f"{label} ({metric}): median and 10–90 % band",
                      **{**LAYOUT, "height": 320}, showlegend=False)
    return fig


def pooled_figure(grouping: str, cells: Sequence[Mapping[str, Any]], metric: str,
                  label: str) -> go.Figure | None:
    """Pooled rate per group with its Wilson 95 % interval, one series per arm."""
    fig = go.Figure()
    drawn = False
    for i, c in enumerate(cells):
        table = c["groups"].get(grouping)
        if not table:
            continue
        rows = [r for r in table["rows"] if metric in r]
        if not rows:
            continue
        drawn = True
        ys = [r[metric]["rate"] for r in rows]
        fig.add_scatter(x=[str(r["group"]) for r in rows], y=ys, mode="markers",
                        name=f"{cell_name(c['arm'], c['point'])} ({c['replicates']} rep.)",
                        marker={"color": PALETTE[i % len(PALETTE)], "size": 8},
                        error_y={"type": "data", "visible": True,
                                 "array": [None if y is None or r[metric]["ci95"][1] is None
                                           else r[metric]["ci95"][1] - y
                                           for y, r in zip(ys, rows, strict=True)],
                                 "arrayminus": [None if y is None or r[metric]["ci95"][0]
                                                is None else y - r[metric]["ci95"][0]
                                                for y, r in zip(ys, rows, strict=True)]})
    if not drawn:
        return None
    fig.update_yaxes(tickformat=".2%")
    fig.update_layout(title=f"{label} by {grouping}, pooled over replicates (Wilson 95 %)",
                      **{**LAYOUT, "height": 380})
    return fig


def band_table(summary: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> str:
    """metric × arm: median [p10–p90] (n)."""
    cells = list(dict.fromkeys(cell_name(r["arm"], r["point"]) for r in summary))
    by = {(r["metric"], cell_name(r["arm"], r["point"])): r for r in summary}
    head = "".join(f"<th>{_e(c)}</th>" for c in cells)
    body = []
    for m in metrics:
        tds = []
        for c in cells:
            r = by.get((m, c))
            tds.append("<td>–</td>" if r is None else
                       f"<td>{_num(r['median'])} <span class=dim>[{_num(r['p10'])}–"
                       f"{_num(r['p90'])}] n={r['n']}</span></td>")
        body.append(f"<tr><td>{_e(m)}</td>{''.join(tds)}</tr>")
    return f"<table><tr><th>figure</th>{head}</tr>{''.join(body)}</table>"


def _num(v: float | None) -> str:
    if v is None or v != v:
        return "–"
    return f"{v:,.0f}" if abs(v) >= 1000 or float(v).is_integer() else f"{v:.4g}"


def sweep_sections(title: str, summary: Sequence[Mapping[str, Any]],
                   pooled: Mapping[str, Any], fig: Any, add: Any) -> None:
    """The report's sections, through ``add(html)`` and ``fig(figure)``."""
    have = {r["metric"] for r in summary}
    arms = list(dict.fromkeys(cell_name(r["arm"], r["point"]) for r in summary))
    add(f"<h1>creditsim sweep report — {_e(title)}</h1>")
    add(f"<p>{len(arms)} arms ({_e(', '.join(arms))}); each figure over the replicates "
        "that finished: the median and the 10–90 % band (linear interpolation between "
        "order statistics, docs/sweep.md). Every resident is synthetic.</p>")
    add("<h2 id=bands>Headline figures per arm</h2>")
    for metric, label in BANDS:
        rows = [r for r in summary if r["metric"] == metric and r["median"] is not None]
        if rows:
            fig(band_figure(metric, label, rows))
    flat = [m for m in dict.fromkeys(r["metric"] for r in summary) if not m.startswith("groups.")]
    add(band_table(summary, flat))
    add("<h2 id=pooled>Group rates pooled over replicates</h2>")
    cells = pooled.get("cells", [])
    groupings = list(dict.fromkeys(g for c in cells for g in c["groups"]))
    for grouping in groupings:
        for metric, label in POOLED:
            f = pooled_figure(grouping, cells, metric, label)
            if f is not None:
                fig(f)
    if not have:
        add("<p class=note>no finished jobs</p>")
