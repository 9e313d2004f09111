"""The offline HTML report of one run (plotly, embedded: the file makes no requests).

Plotly is an optional dependency (``pip install 'creditsim[report]'``); it is imported
only when a report is built, and a missing install raises a :class:`ReportError`
that says how to get it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from creditsim import fsops
from creditsim.audit import RunData
from creditsim.errors import CreditsimError


class ReportError(CreditsimError):
    """The report cannot be built (e.g. plotly is not installed)."""


def check_report_out(out: str | Path, overwrite: bool = False) -> Path:
    """Raise :class:`ReportError` if a report can't be written at ``out``: a
    directory, an existing file (or link) without ``overwrite``, a parent that is
    not a directory or can't be written; writes nothing."""

    out = Path(out)
    if out.is_dir():
        raise ReportError(f"{out}: is a directory; give the report a file name "
                          "(e.g. report.html)")
    if os.path.lexists(out) and not overwrite:
        raise ReportError(f"{out}: already exists (use --overwrite to replace it)")
    try:
        parent = out.parent.resolve()
    except (RuntimeError, OSError):
        raise ReportError(f"{out}: cannot be resolved (a symbolic link loop?)") from None
    why = fsops.unwritable_ancestor(parent / out.name)
    if why is not None:
        raise ReportError(f"{out}: {why}")
    return out


def build_report(run: Any, out: str | Path, audit: dict[str, Any] | None = None,
                 overwrite: bool = False) -> Path:
    """Write the report of ``run`` (a path or :class:`creditsim.audit.RunData`) to ``out``.

    ``out`` must not exist unless ``overwrite`` (:func:`check_report_out`). The file
    is written under a temporary name made exclusively beside ``out`` and renamed
    over it, so a reader never sees half a report and a symbolic link planted at a
    temporary name is never followed. Returns the path written.
    """
    check_report_out(out, overwrite)
    try:
        import plotly  # noqa: F401
    except ImportError:
        raise ReportError("the HTML report needs plotly: pip install plotly==7.1.0 "
                          "(the 'report' extra of creditsim)") from None
    from creditsim.report.html import write_report

    data = run if isinstance(run, RunData) else RunData(run)
    return write_report(data, Path(out), audit)


def build_sweep_report(title: str, summary: list[dict[str, Any]], pooled: dict[str, Any],
                       out: str | Path, overwrite: bool = False) -> Path:
    """Write the report of a sweep: ``summary`` its per-arm rows (``Sweep.summary()``
    as dicts), ``pooled`` its pooled audit (``Sweep.pooled()``); bands per arm
    (:mod:`creditsim.report.bands`). Written as :func:`build_report` writes."""
    check_report_out(out, overwrite)
    try:
        import plotly  # noqa: F401
    except ImportError:
        raise ReportError("the HTML report needs plotly: pip install plotly==7.1.0 "
                          "(the 'report' extra of creditsim)") from None
    from creditsim.report.html import write_sweep_report

    return write_sweep_report(title, summary, pooled, Path(out))


__all__ = ["ReportError", "build_report", "build_sweep_report", "check_report_out"]
