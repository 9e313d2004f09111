"""The policy package's error type."""

from __future__ import annotations

from creditsim.errors import CreditsimError, Problem

__all__ = ["PolicyError", "Problem"]


class PolicyError(CreditsimError):
    """A policy file (or policy object) is invalid.

    ``problems`` holds every problem found, each with a location such as
    ``presets/rongcheng.toml:42 tiers[2].min``.
    """
