"""Run configuration: one frozen, validated model, normalised at the boundary."""

from __future__ import annotations

import datetime as dt
import threading
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
        problems: list[Problem] = []
        for err in e.errors():
            cause = (err.get("ctx") or {}).get("error")
            if isinstance(cause, CreditsimError):  # a city file's own located problems
                problems += cause.problems
            else:
                problems.append(Problem(err["msg"].removeprefix("Value error, "), "--" + ".".join(
                    str(x) for x in err["loc"]).replace("_", "-")))
        raise ConfigError(problems) from None


#: Profiles read by the city validator, handed to the model validator that follows it
#: (per thread: two threads validating configurations do not swap readings).
_READ = threading.local()


def default_out(cfg: RunConfig) -> Path:
    return Path("runs") / f"{cfg.city_profile.name}-seed{cfg.seed}"
