"""The offline HTML report of one run (plotly, embedded: the file makes no requests).

Plotly is an optional dependency (``pip install 'creditsim[report]'``); it is imported
only when a report is built, and a missing install raises a :class:`ReportError`
that says how to get it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from creditsim.audit import RunData
from creditsim.errors import CreditsimError


class ReportError(CreditsimError):
    """The report cannot be built (e.g. plotly is not installed)."""


def build_report(run: Any, out: str | Path, audit: dict[str, Any] | None = None) -> Path:
    """Write the report of ``run`` (a path or :class:`creditsim.audit.RunData`) to ``out``.

    Returns the path written.
    """
    try:
        import plotly  # noqa: F401
    except ImportError:
        raise ReportError("the HTML report needs plotly: pip install plotly==7.1.0 "
                          "(the 'report' extra of creditsim)") from None
    from creditsim.report.html import write_report

    data = run if isinstance(run, RunData) else RunData(run)
    return write_report(data, Path(out), audit)


__all__ = ["ReportError", "build_report"]
