"""creditsim — a city-scale simulator and audit lab of social credit systems.

Residents are synthetic. creditsim never ingests real person-level data and
offers no live scoring or enforcement service.
"""

from __future__ import annotations

from creditsim.api import open_run, simulate

__version__ = "0.1.0"

__all__ = ["__version__", "open_run", "simulate"]
