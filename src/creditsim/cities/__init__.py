"""City presets: the published figures a synthetic city is built from."""

from __future__ import annotations

from creditsim.cities.beijing import BEIJING
from creditsim.cities.model import CityProfile

CITIES: dict[str, CityProfile] = {"beijing": BEIJING}

__all__ = ["CITIES", "CityProfile", "BEIJING"]
