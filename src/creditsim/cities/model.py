"""The shape of a city profile: every figure a :class:`~creditsim.params.Cited` value."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import polars as pl

from creditsim.params import Cited


@dataclass(frozen=True)
class CityProfile:
    """Published aggregates (and stated assumptions) a synthetic city is drawn from.

    Tuples indexed by district follow the order of ``districts``. The plain text
    fields choose what goes with the city (its default policy preset, the trained
    linkage model); ``origin`` and ``text`` say which file the profile was read
    from and hold its exact bytes (a run keeps them as ``city.toml``); they do not
    take part in comparisons.
    """

    name: str
    districts: Cited[tuple[str, ...]]
    district_names_zh: Cited[tuple[str, ...]]
    district_codes: Cited[tuple[int, ...]]  # GB/T 2260
    district_population: Cited[tuple[int, ...]]  # resident population
    migrant_share: Cited[tuple[float, ...]]  # share without local hukou, per district
    district_income_effect: Cited[tuple[float, ...]]  # log-income shift per district
    district_car_effect: Cited[tuple[float, ...]]  # car-ownership shift per district
    origin_codes: Cited[tuple[int, ...]]  # region codes of migrants' registration
    origin_weights: Cited[tuple[float, ...]]  # relative weights (need not sum to 1)
    male_share: Cited[float]
    age_shares: Cited[dict[str, float]]  # calibration targets: "0-14", "15-59", "60+"
    household_size_shares: Cited[tuple[float, ...]]  # sizes 1..6+ (targets)
    mean_household_size: Cited[float]
    education_shares: Cited[dict[str, float]]  # per person, calibration target
    mean_income: Cited[float]  # per-capita disposable income, yuan/year
    cars_per_resident: Cited[float]
    start_date: Cited[str]  # default simulation start (ISO date)
    title: str = ""
    #: the policy preset a run of this city uses unless --policy names another
    default_policy: str = "spc-list"
    #: the trained linkage model (creditsim/linkage/models/<name>.json)
    linkage_model: str = "beijing"
    origin: str = field(default="", compare=False)
    text: bytes = field(default=b"", compare=False, repr=False)

    @property
    def total_population(self) -> int:
        return int(sum(self.district_population.value))

    @property
    def sha256(self) -> str:
        """The sha256 of the file the profile was read from ("" if none)."""
        return hashlib.sha256(self.text).hexdigest() if self.text else ""

    @property
    def district_enum(self) -> pl.Enum:
        """The categories of the ``district`` column of this city's tables."""
        return pl.Enum(list(self.districts.value))
