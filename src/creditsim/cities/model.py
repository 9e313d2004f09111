"""The shape of a city profile: every field a :class:`~creditsim.params.Cited` value."""

from __future__ import annotations

from dataclasses import dataclass

from creditsim.params import Cited


@dataclass(frozen=True)
class CityProfile:
    """Published aggregates (and stated assumptions) a synthetic city is drawn from.

    Tuples indexed by district follow the order of ``districts``.
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
    origin_weights: Cited[tuple[float, ...]]
    male_share: Cited[float]
    age_shares: Cited[dict[str, float]]  # calibration targets: "0-14", "15-59", "60+"
    household_size_shares: Cited[tuple[float, ...]]  # sizes 1..6+ (targets)
    mean_household_size: Cited[float]
    education_shares: Cited[dict[str, float]]  # per person, calibration target
    mean_income: Cited[float]  # per-capita disposable income, yuan/year
    cars_per_resident: Cited[float]
    start_date: Cited[str]  # default simulation start (ISO date)

    @property
    def total_population(self) -> int:
        return int(sum(self.district_population.value))
