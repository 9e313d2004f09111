"""Run configuration: one frozen, validated model, normalised at the boundary."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from creditsim.cities import CITIES
from creditsim.errors import ConfigError, Problem

#: Longest simulated horizon accepted (days are stored as Int16 in tables).
MAX_DAYS = 3650
#: Default scale of the city: 1:100.
DEFAULT_SCALE = 100


class Origins(BaseModel):
    """Where a run's settings came from: the scenario file (if any) and, per setting,
    ``default``, ``FILE:LINE`` (the scenario file), or the option that gave it. Not
    part of what determines a run's outputs (excluded from ``RunConfig.model_dump``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scenario: str | None = Field(None, description="the scenario file, as given")
    scenario_sha256: str | None = Field(None, description="sha256 of its bytes")
    options: dict[str, str] = Field(
        default_factory=dict, description="RunConfig field → where its value came from")
    parameters: dict[str, str] = Field(
        default_factory=dict, description="overridden parameter key → where it came from")


class RunConfig(BaseModel):
    """Everything that determines a run's outputs (together with the package versions)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    city: str = Field("beijing", description="city profile")
    residents: int = Field(0, description="residents; 0 means the city's population / 100")
    days: int = Field(365, description="simulated days")
    seed: int = Field(1, ge=0, lt=2**63, description="random seed")
    start_date: dt.date | None = Field(None, description="day 0; default from the city profile")
    chunk_residents: int = Field(
        1 << 21, description="residents processed per chunk (memory bound; results "
        "do not depend on it)")
    policy: str | None = Field(
        None, description="policy preset name or TOML file; default: the city's own preset")
    feedback: bool = Field(True, description="behavioural feedback (deterrence, gaming, "
                           "repayment after listing)")
    linkage_threshold: float = Field(
        0.5, description="minimum match probability for a probabilistic link, in (0, 1]")
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="model parameters replaced: dotted key → value "
        "(creditsim params lists the keys; checked by creditsim.modelset.build_models)")
    origins: Origins = Field(
        default_factory=Origins, exclude=True,
        description="where the settings came from (creditsim.scenario); not an input")

    @field_validator("city")
    @classmethod
    def _known_city(cls, v: str) -> str:
        if v not in CITIES:
            raise ValueError(f"unknown city {v!r}; known: {', '.join(sorted(CITIES))}")
        return v

    @field_validator("residents")
    @classmethod
    def _residents(cls, v: int) -> int:
        if v < 0:
            raise ValueError("must be positive")
        if v > 2_000_000_000:
            raise ValueError("must be at most 2,000,000,000 (resident ids are 32-bit)")
        return v

    @field_validator("days")
    @classmethod
    def _days(cls, v: int) -> int:
        if v <= 0:
            raise ValueError("must be positive")
        if v > MAX_DAYS:
            raise ValueError(f"must be at most {MAX_DAYS} (the configured horizon)")
        return v

    @field_validator("linkage_threshold")
    @classmethod
    def _threshold(cls, v: float) -> float:
        if not 0.0 < v <= 1.0:
            raise ValueError("must be in (0, 1]")
        return v

    @field_validator("chunk_residents")
    @classmethod
    def _chunk(cls, v: int) -> int:
        if v <= 0:
            raise ValueError("must be positive")
        return v

    def resolved(self) -> RunConfig:
        """Fill the city-dependent defaults (residents, start date)."""
        city = CITIES[self.city]
        upd: dict[str, Any] = {}
        if self.residents == 0:
            upd["residents"] = max(1, city.total_population // DEFAULT_SCALE)
        if self.start_date is None:
            upd["start_date"] = dt.date.fromisoformat(city.start_date.value)
        return self.model_copy(update=upd) if upd else self


def make_config(**kwargs: Any) -> RunConfig:
    """Build a resolved :class:`RunConfig`, turning validation errors into one
    :class:`~creditsim.errors.ConfigError` that lists every problem."""
    try:
        return RunConfig(**kwargs).resolved()
    except ValidationError as e:
        raise ConfigError([
            Problem(err["msg"].removeprefix("Value error, "),
                    "--" + ".".join(str(x) for x in err["loc"]).replace("_", "-"))
            for err in e.errors()
        ]) from None


def default_out(cfg: RunConfig) -> Path:
    return Path("runs") / f"{cfg.city}-seed{cfg.seed}"
