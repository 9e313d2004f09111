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
    ValidationInfo,
    field_validator,
    model_validator,
)

from creditsim.cities import CityProfile, load_city
from creditsim.errors import ConfigError, CreditsimError, Problem

#: Longest simulated horizon accepted, burn-in included: 25 years (2013-10-01, when the
#: national dishonest-debtor list began, to today is about 13; a 10-year study with a
#: burn-in fits). Day columns are Int16 (at most 32,767) and the engine packs a day into
#: 16 bits, so the bound is the model's choice, not the storage's.
MAX_DAYS = 9131
#: Dates the simulated period (burn-in included) may cover: the 18-digit resident ID
#: (GB 11643-1999) and the population model's ages (census 2020, up to 100 years) hold
#: for the 21st century.
FIRST_DATE = dt.date(2000, 1, 1)
LAST_DATE = dt.date(2099, 12, 31)
#: Default burn-in: five years. With none, every list starts empty: at 1:100 Beijing no
#: dishonest-debtor listing appears before about day 160 and the stock on day 365 is
#: about a quarter of the model's steady state. The stock of the dishonest-debtor list
#: comes within 10 % of its steady state (the mean over years 7-10 of a cold run) after
#: 1,654 days at 1M residents and 1,715 at 1:100 (every list: 1,122 and 993);
#: benchmarks/results/cold-start-1m.json and cold-start.json, benchmarks/horizon.py.
DEFAULT_BURN_IN_DAYS = 1826
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
    burn_in_days: int = Field(
        DEFAULT_BURN_IN_DAYS, description="days simulated before start_date (the whole "
        "system runs through them; their rows carry negative days), so that day 0 is not "
        "a cold start")
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

    @field_validator("burn_in_days")
    @classmethod
    def _burn_in(cls, v: int, info: ValidationInfo) -> int:
        if v < 0:
            raise ValueError("must be 0 or more")
        days = info.data.get("days")
        if days is not None and v + days > MAX_DAYS:
            raise ValueError(f"with --days {days}, at most {MAX_DAYS - days} (burn-in + days "
                             f"is the simulated horizon, at most {MAX_DAYS})")
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

    @property
    def simulated_start(self) -> dt.date:
        """The first simulated day: ``burn_in_days`` before day 0 (resolved configs)."""
        assert self.start_date is not None
        return self.start_date - dt.timedelta(days=self.burn_in_days)

    @property
    def simulated_days(self) -> int:
        """Days simulated: the burn-in and the results window."""
        return self.burn_in_days + self.days

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
        cfg = RunConfig(**kwargs).resolved()
    except ValidationError as e:
        raise ConfigError(config_problems(
            e, lambda name: "--" + name.replace("_", "-"))) from None
    problems = period_problems(cfg, lambda name: "--" + name.replace("_", "-"))
    if problems:
        raise ConfigError(problems)
    return cfg


def period_problems(cfg: RunConfig, where: Callable[[str], str]) -> list[Problem]:
    """The simulated period (burn-in included) must lie within FIRST_DATE..LAST_DATE;
    a problem is located by ``where(field)``."""
    first, last = cfg.simulated_start, cfg.simulated_start + dt.timedelta(
        days=cfg.simulated_days - 1)
    out = []
    if first < FIRST_DATE:
        field = "burn_in_days" if cfg.burn_in_days and cfg.start_date >= FIRST_DATE \
            else "start_date"
        out.append(Problem(f"the simulated period would begin on {first} (start date "
                           f"{cfg.start_date} less {cfg.burn_in_days} burn-in days); the "
                           f"models hold from {FIRST_DATE}", where(field)))
    if last > LAST_DATE:
        out.append(Problem(f"the run would end on {last}; the models hold until "
                           f"{LAST_DATE}", where("start_date")))
    return out


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
