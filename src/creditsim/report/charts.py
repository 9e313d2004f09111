"""Plotly figures of the report (plotly is imported lazily by :mod:`creditsim.report`)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
          "height": 380, "font": {"family": "system-ui, sans-serif", "size": 12}}


def _fig(title: str, **kw: Any) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=title, **{**LAYOUT, **kw})
    return fig


def score_histogram(h: dict[str, Any]) -> go.Figure:
    fig = _fig(f"Scores on the last snapshot day ({h['note']})")
    fig.add_bar(x=[x + h["width"] / 2 for x in h["left"]], y=h["count"], width=h["width"],
                marker_color=PALETTE[0], name="residents")
    fig.update_layout(xaxis_title="score", yaxis_title="residents", bargap=0.02)
    return fig


def tiers_area(t: dict[str, Any]) -> go.Figure:
    fig = _fig("Residents per tier, monthly snapshots (log scale)")
    for i, (name, ys) in enumerate(t["tiers"].items()):
        fig.add_scatter(x=t["month"], y=[y if y > 0 else None for y in ys], name=name,
                        mode="lines+markers", line={"color": PALETTE[i % len(PALETTE)]})
    fig.update_layout(yaxis_title="residents", yaxis_type="log")
    return fig


def list_lines(ls: dict[str, Any]) -> go.Figure:
    fig = _fig("Residents on each list, by day")
    for i, (name, ys) in enumerate(ls["lists"].items()):
        fig.add_scatter(x=ls["date"], y=ys, name=name, mode="lines",
                        line={"color": PALETTE[i % len(PALETTE)]})
    fig.update_layout(yaxis_title="residents listed")
    return fig


def services_bar(by_service: dict[str, dict[str, Any]]) -> go.Figure:
    def get(r: dict[str, Any], k: str) -> int:
        return int(r.get(k, r.get("demand", {}).get(k, 0)) or 0)

    names = [n for n, r in by_service.items()
             if any(get(r, k) for k in ("denied", "expedited", "discounted"))]

    fig = _fig("Service decisions by service")
    fig.add_bar(x=names, y=[get(by_service[n], "denied") for n in names], name="denied",
                marker_color=PALETTE[1])
    fig.add_bar(x=names, y=[int(by_service[n].get("wrongful_denied", 0)) for n in names],
                name="denied wrongfully", marker_color="#7f0000")
    fig.add_bar(x=names, y=[get(by_service[n], "expedited") for n in names], name="expedited",
                marker_color=PALETTE[2])
    fig.add_bar(x=names, y=[get(by_service[n], "discounted") for n in names],
                name="discounted", marker_color=PALETTE[0])
    fig.update_layout(barmode="group", yaxis_title="decisions", yaxis_type="log")
    return fig


def causes_bar(by_cause: dict[str, int], total: int) -> go.Figure:
    fig = _fig(f"Residents wrongly sanctioned, by cause (total {total:,}; a resident can "
               "have several causes)")
    fig.add_bar(x=[c.replace("_", " ") for c in by_cause], y=list(by_cause.values()),
                marker_color=[PALETTE[1], PALETTE[3], PALETTE[4]][: len(by_cause)],
                text=[f"{v:,}" for v in by_cause.values()], textposition="outside")
    fig.update_layout(yaxis_title="residents")
    return fig


def _err(rows: list[dict[str, Any]], m: str, key: str = "rate", ci: str = "ci95"
         ) -> tuple[list[float | None], dict[str, Any]]:
    ys, plus, minus = [], [], []
    for r in rows:
        v = r.get(m) or {}
        y = v.get(key)
        lo, hi = v.get(ci) or [None, None]
        ys.append(y)
        plus.append(None if y is None or hi is None else hi - y)
        minus.append(None if y is None or lo is None else y - lo)
    return ys, {"type": "data", "array": plus, "arrayminus": minus, "visible": True}


def disparate_impact(col: str, g: dict[str, Any], metrics: list[tuple[str, str]]) -> go.Figure:
    """Rates with 95% intervals (left) and ratios to the reference group with the
    four-fifths band (right), one marker series per metric."""
    rows = g["rows"]
    groups = [r["group"] for r in rows]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12, subplot_titles=(
        "rate per resident (95% CI)", f"ratio to {g['reference']} (95% CI)"))
    for i, (m, label) in enumerate(metrics):
        color = PALETTE[i % len(PALETTE)]
        ys, err = _err(rows, m)
        fig.add_scatter(x=groups, y=ys, error_y=err, mode="markers", name=label,
                        marker={"color": color, "size": 8}, legendgroup=m, row=1, col=1)
        keep = [(r["group"], r[m]) for r in rows if m in r
                and r[m]["comparison"] == "ok" and r[m]["ratio"] is not None]
        if keep:
            ys2, err2 = _err([{m: v} for _, v in keep], m, "ratio", "ratio_ci95")
            fig.add_scatter(x=[k for k, _ in keep], y=ys2, error_y=err2, mode="markers",
                            name=label, showlegend=False, legendgroup=m,
                            marker={"color": color, "size": 8,
                                    "symbol": ["diamond" if v["four_fifths_flag"] else "circle"
                                               for _, v in keep]}, row=1, col=2)
    fig.add_hrect(y0=0.8, y1=1.25, fillcolor="#2ca02c", opacity=0.08, line_width=0, row=1,
                  col=2)
    fig.add_hline(y=1.0, line_dash="dot", line_color="#555", row=1, col=2)
    fig.update_yaxes(tickformat=".2%", row=1, col=1)
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_layout(title=f"Disparate impact by {col}",
                      **{**LAYOUT, "height": 440, "margin": {**LAYOUT["margin"], "t": 80}})
    return fig


def linkage_by_department(by_dep: dict[str, dict[str, Any]]) -> go.Figure:
    names = list(by_dep)
    fig = _fig("Linkage accuracy by department (95% CI)")
    for i, m in enumerate(("precision", "recall")):
        ys, err = _err([by_dep[n] for n in names], m)
        fig.add_bar(x=names, y=ys, error_y=err, name=m, marker_color=PALETTE[i])
    lo = min([v for n in names for v in (by_dep[n]["precision"]["rate"],
                                         by_dep[n]["recall"]["rate"]) if v is not None],
             default=0.9)
    fig.update_layout(barmode="group", yaxis_range=[max(0.0, lo - 0.05), 1.0],
                      yaxis_tickformat=".1%")
    return fig


def linkage_by_group(col: str, rows: list[dict[str, Any]]) -> go.Figure:
    groups = [r["group"] for r in rows]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12, subplot_titles=(
        "precision and recall (95% CI)", "residents given others' records (95% CI)"))
    for i, m in enumerate(("precision", "recall")):
        ys, err = _err(rows, m)
        fig.add_scatter(x=groups, y=ys, error_y=err, mode="markers", name=m,
                        marker={"color": PALETTE[i], "size": 8}, row=1, col=1)
    ys, err = _err(rows, "residents_given_wrong_records")
    fig.add_scatter(x=groups, y=ys, error_y=err, mode="markers", name="given others' records",
                    marker={"color": PALETTE[1], "size": 8}, row=1, col=2)
    fig.update_yaxes(tickformat=".1%", row=1, col=1)
    fig.update_yaxes(tickformat=".2%", row=1, col=2)
    fig.update_layout(title=f"Linkage accuracy by {col}", **{**LAYOUT, "height": 400})
    return fig


def exit_routes(tl: dict[str, Any]) -> go.Figure:
    fig = _fig("Time on list by exit route (sanctioning lists; still listed = censored)")
    routes = tl["sanctioning_lists"]["routes"]
    names = [r for r, v in routes.items() if v["spells"]]
    fig.add_bar(x=names, y=[routes[r]["days"]["median"] for r in names], name="median days",
                marker_color=PALETTE[0],
                text=[f"{routes[r]['spells']:,} spells" for r in names], textposition="outside")
    fig.add_scatter(x=names, y=[routes[r]["days"]["p90"] for r in names], mode="markers",
                    name="90th percentile", marker={"color": PALETTE[1], "size": 10,
                                                    "symbol": "line-ew-open"})
    fig.update_layout(yaxis_title="days on list")
    return fig
