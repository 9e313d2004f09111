"""The models of a run, and the dotted keys of their parameters.

:class:`Models` holds every stage's model object; :func:`groups` names the part of
each under its key prefix (the keys ``creditsim params`` lists and the manifest
records); :func:`build_models` makes a run's models from its configuration: the
city's and the stages' defaults with the configuration's overrides in place
(:func:`creditsim.paramspace.apply_overrides`, every problem at once).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from creditsim.behaviour import BehaviourModel
from creditsim.cities import CityProfile, locate_key
from creditsim.config import RunConfig
from creditsim.errors import ConfigError, Problem
from creditsim.linkage import LinkageModel
from creditsim.linkage.model import model_names
from creditsim.paramspace import Param, apply_overrides, parameters
from creditsim.platform import FeedbackModel, LoopModels
from creditsim.policy import preset_names
from creditsim.population.households import HouseholdModel
from creditsim.population.synth import PersonModel
from creditsim.records import DEFAULT_DEPARTMENTS, DepartmentModel

#: Where an override given on the command line comes from (the manifest's ``origin``).
SET_ORIGIN = "--set"
#: Keys listed as parameters that a run takes from its configuration instead: the
#: configuration resolves them before the models exist (RunConfig.resolved).
RUN_OPTIONS = {"city.start_date": "the start date is the run's start_date option"}


@dataclass(frozen=True)
class Models:
    """Every model object of a run (the stages read their own)."""

    city: CityProfile
    households: HouseholdModel
    persons: PersonModel
    behaviour: BehaviourModel
    departments: tuple[DepartmentModel, ...]
    linkage: LinkageModel
    loop: LoopModels


def default_models(config: RunConfig) -> Models:
    """The defaults of the configuration's city and of every stage."""
    city = config.city_profile
    check_city_references(city)
    return Models(city=city, households=HouseholdModel(),
                  persons=PersonModel(), behaviour=BehaviourModel(),
                  departments=DEFAULT_DEPARTMENTS, linkage=LinkageModel(),
                  loop=LoopModels(feedback=FeedbackModel(enabled=config.feedback)))


def check_city_references(city: CityProfile) -> None:
    """The trained linkage model and the default policy a city profile names exist
    (a ConfigError locates each missing one in the city file)."""
    problems = []
    if city.linkage_model not in model_names():
        problems.append(Problem(f"no trained linkage model {city.linkage_model!r}; trained: "
                                f"{', '.join(model_names())}", locate_key(city, "linkage_model")))
    if city.default_policy not in preset_names():
        problems.append(Problem(f"no policy preset {city.default_policy!r}; presets: "
                                f"{', '.join(preset_names())}", locate_key(city, "default_policy")))
    if problems:
        raise ConfigError(problems)


def groups(models: Models) -> dict[str, Any]:
    """Key prefix → the model object whose parameters carry it."""
    return {
        "city": models.city,
        "households": models.households,
        "persons": models.persons,
        "behaviour": models.behaviour.kinds,
        "behaviour.court": models.behaviour.court,
        "feedback": models.loop.feedback,
        "appeals": models.loop.appeals,
        "repayment": models.loop.repayment,
        "services": models.loop.demand,
        "loop": models.loop.rounds,
        "records": models.departments,
        "linkage": models.linkage,
    }


def _from_groups(models: Models, g: Mapping[str, Any]) -> Models:
    loop = replace(models.loop, feedback=g["feedback"], appeals=g["appeals"],
                   repayment=g["repayment"], demand=g["services"], rounds=g["loop"])
    return replace(models, city=g["city"], households=g["households"], persons=g["persons"],
                   behaviour=replace(models.behaviour, kinds=g["behaviour"],
                                     court=g["behaviour.court"]),
                   departments=g["records"], linkage=g["linkage"], loop=loop)


def registry(models: Models) -> dict[str, Param]:
    """Every parameter of ``models`` by its key."""
    return parameters(groups(models))


def override(models: Models, overrides: Mapping[str, Any],
             origins: Mapping[str, str] | None = None) -> Models:
    """``models`` with ``overrides`` ({key: value}) in place; a ConfigError lists every
    bad key, type or range, located by its origin (``--set`` unless given)."""
    if not overrides:
        return models
    where = origins or {}
    problems = [Problem(f"not settable here: {RUN_OPTIONS[k]}",
                        f"{where.get(k, SET_ORIGIN)} {k}") for k in overrides if k in RUN_OPTIONS]
    try:
        g = apply_overrides(groups(models), {k: v for k, v in overrides.items()
                                             if k not in RUN_OPTIONS},
                            lambda k: f"{where.get(k, SET_ORIGIN)} {k}")
    except ConfigError as e:
        problems += e.problems
    if problems:
        raise ConfigError(problems)
    return _from_groups(models, g)


def build_models(config: RunConfig) -> Models:
    """The run's models: the defaults with the configuration's overrides (problems
    located where each override came from)."""
    return override(default_models(config), config.overrides, config.origins.parameters)


def manifest_parameters(config: RunConfig, models: Models) -> dict[str, dict[str, Any]]:
    """For every parameter: its effective value, unit, range, status, source, and its
    origin: ``default`` (the cited default or assumption), or where the override came
    from (``FILE:LINE`` of a scenario, ``--set``), with the default beside."""
    defaults = registry(default_models(config))
    where = config.origins.parameters
    out: dict[str, dict[str, Any]] = {}
    for key, p in registry(models).items():
        entry = p.describe()
        if key in config.overrides:
            entry["origin"] = where.get(key, SET_ORIGIN)
            entry["default"] = defaults[key].describe()["value"]
        else:
            entry["origin"] = "default"
        out[key] = entry
    return out
