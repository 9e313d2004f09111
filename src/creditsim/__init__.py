"""creditsim — a city-scale simulator and audit lab of social credit systems.

Residents are synthetic. creditsim never ingests real person-level data and
offers no live scoring or enforcement service.

``creditsim.simulate(...)`` runs a scenario, ``creditsim.open_run(DIR)`` opens a run;
``creditsim.sweep(SPEC, out=DIR)`` runs an
experiment (replicates, arms, designs) and ``creditsim.open_sweep(DIR)`` opens one.
"""

from __future__ import annotations

from typing import Any

from creditsim.api import open_run, simulate

__version__ = "0.1.0"

__all__ = ["__version__", "open_run", "open_sweep", "simulate", "sweep"]


def __getattr__(name: str) -> Any:
    """``sweep`` and ``open_sweep`` load their package on first use."""
    if name in ("sweep", "open_sweep"):
        import creditsim.sweep as sweep_pkg

        return sweep_pkg if name == "sweep" else sweep_pkg.open_sweep
    raise AttributeError(f"module 'creditsim' has no attribute {name!r}")
