"""Run configuration: one frozen, validated model, normalised at the boundary."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from creditsim.cities import CityProfile, load_city
from creditsim.errors import ConfigError, CreditsimError, Problem

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

    city: str = Field("beijing", description="city profile: a shipped name or a city file")
    residents: int = Field(0, description="residents; 0 means the city's population / 100")
    days: int = Field(365, description="simulated days")
    seed: int = Field(1, ge=0, lt=2**63, description="random seed")
    start_date: dt.date | None = Field(None, description="day 0; default from the city profile")
    chunk_residents: int = Field(
        1 << 21, description="residents processed per chunk (memory bound; results "
        "do not depend on it)")
    policy: str | None = Field(
        None, description="policy preset name or TOML file; default: the one the city "
        "profile names (default_policy)")
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

    #: The city profile, read once when the configuration is validated: everything
    #: a run does with its city uses this one reading of the file.
    _city: CityProfile | None = PrivateAttr(None)

    @field_validator("city")
    @classmethod
    def _known_city(cls, v: str) -> str:
        # a CityError (a ValueError) lists the file's problems
        _READ.__dict__[v] = load_city(v)
        return v

    @model_validator(mode="after")
    def _keep_city(self) -> RunConfig:
        self._city = _READ.__dict__.pop(self.city, None) or load_city(self.city)
        return self

    @property
    def city_profile(self) -> CityProfile:
        """The city profile this configuration was validated with."""
        if self._city is None:  # built without validation (model_construct)
            self._city = load_city(self.city)
        return self._city

    @property
    def policy_ref(self) -> str:
        """The policy to run: ``policy``, else the city profile's default policy."""
        return self.policy or self.city_profile.default_policy

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
        city = self.city_profile
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
        raise ConfigError(config_problems(
            e, lambda name: "--" + name.replace("_", "-"))) from None


def config_problems(e: ValidationError, where: Callable[[str], str],
                    skip: tuple[str, ...] = ()) -> list[Problem]:
    """The problems of a failed RunConfig validation, each located by ``where(field)``
    (its option or scenario line), except those of the fields in ``skip``; a city
    file's own located problems pass through."""
    problems: list[Problem] = []
    for err in e.errors():
        cause = (err.get("ctx") or {}).get("error")
        name = ".".join(str(x) for x in err["loc"])
        if isinstance(cause, CreditsimError):  # located in the file, or where it was named
            problems += [Problem(p.message, where(name)) if p.location == str(err.get("input"))
                         else p for p in cause.problems]
        elif name.split(".")[0] not in skip:
            problems.append(Problem(str(err["msg"]).removeprefix("Value error, "), where(name)))
    return problems


#: Profiles read by the city validator, handed to the model validator that follows it
#: (per thread: two threads validating configurations do not swap readings).
_READ = threading.local()


def default_out(cfg: RunConfig) -> Path:
    return Path("runs") / f"{cfg.city_profile.name}-seed{cfg.seed}"
