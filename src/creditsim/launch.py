"""From a scenario, options and parameter overrides to a validated run, and the checks
before a run: the one path shared by ``creditsim run``, ``creditsim scenario`` and
``creditsim.simulate``.

:func:`cli_request` and :func:`api_request` turn what the user gave into a
:class:`~creditsim.scenario.Request`; :func:`prepare` resolves it
(:func:`creditsim.scenario.resolve`), checks the parameter overrides against the
run's models and reads the policy once, and raises one
:class:`~creditsim.errors.ConfigError` with every problem; :func:`before_run` tidies
and checks the run directory and the machine's resources. Nothing is written before
all of these pass.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from creditsim.config import RunConfig, default_out
from creditsim.errors import ConfigError, CreditsimError, Problem
from creditsim.modelset import default_models, override, registry
from creditsim.policy import LoadedPolicy, PolicyError, preset_names, read_policy
from creditsim.resources import preflight
from creditsim.rundir import check_out_dir, tidy
from creditsim.scenario import (
    Request,
    Resolved,
    ScenarioFile,
    is_file_name,
    parse_set_items,
    read_scenario,
    resolve,
    scenario_from_mapping,
)
from creditsim.tomllines import did_you_mean


@dataclass(frozen=True)
class Prepared:
    """A run ready to go: its configuration (with origins), its policy as read once,
    and the scenario's ``[meta]``."""

    config: RunConfig
    policy: LoadedPolicy
    meta: dict[str, str]


@functools.cache
def parameter_keys() -> frozenset[str]:
    """Every model parameter's key (the same for every city: one profile type)."""
    return frozenset(registry(default_models(RunConfig(residents=1))))


def prepare(req: Request) -> Prepared:
    """Resolve and check ``req``: every problem at once in one ConfigError."""
    res = resolve(req, parameter_keys())
    problems = list(res.problems) + _parameter_problems(res)
    policy = None
    if res.config is not None and "policy" not in res.bad:
        policy, more = _policy(res, res.config)
        problems += more
    if problems or res.config is None or policy is None:
        raise ConfigError(_by_line(problems, req.scenario))
    return Prepared(res.config, policy, res.meta)


def _by_line(problems: list[Problem], sf: ScenarioFile | None) -> list[Problem]:
    """The scenario file's problems first, in line order; then the others as found."""
    if sf is None:
        return problems
    pat = re.compile(re.escape(sf.origin) + r":(\d+)\b")

    def key(p: Problem) -> tuple[int, int]:
        m = pat.match(p.location)
        return (0, int(m.group(1))) if m else (1, 0)

    return sorted(problems, key=key)


def _parameter_problems(res: Resolved) -> list[Problem]:
    if not res.overrides:
        return []
    base = res.config or RunConfig(residents=1)  # the default city if the config is bad
    try:
        override(default_models(base), res.overrides, res.parameter_origins)
    except ConfigError as e:
        return list(e.problems)
    return []


def _policy(res: Resolved, cfg: RunConfig) -> tuple[LoadedPolicy | None, list[Problem]]:
    """The run's policy, read once; a policy that is neither a preset nor a file is
    located where it was named (file:line, or the option)."""
    name = cfg.policy_ref
    try:
        return read_policy(name), []
    except PolicyError as e:
        where = res.locations.get("policy") if cfg.policy else None
        out = []
        for p in e.problems:
            if where and p.location == str(name):
                hint = "" if is_file_name(name) else did_you_mean(name, preset_names())
                out.append(Problem(f"{name!r}: {p.message}{hint}", where))
            else:
                out.append(p)
        return None, out


# ----------------------------------------------------------------------------- requests


def _scenario(source: str | Path | Mapping[str, Any] | None, problems: list[Problem]
              ) -> ScenarioFile | None:
    if source is None:
        return None
    if isinstance(source, Mapping) and not all(isinstance(k, str) for k in source):
        problems.append(Problem("a scenario's keys are text", "<scenario>"))
        return None
    if not isinstance(source, str | Path | Mapping):
        problems.append(Problem(f"expected a file or a dict, got {type(source).__name__}",
                                _api_label("scenario")))
        return None
    try:
        if isinstance(source, Mapping):
            return scenario_from_mapping(source)
        return read_scenario(source)
    except CreditsimError as e:
        problems += e.problems
        return None


def cli_request(scenarios: list[Path] | None, options: dict[str, Any],
                set_items: list[str] | None, preset: str | None = None,
                note: Callable[[str], None] = lambda _s: None) -> Request:
    """The request of ``creditsim run`` (and ``scenario show``): the ``--scenario``
    file, the options given explicitly, the ``--set`` items and the deprecated
    ``--preset`` (a note; contradicting ``--city`` or the file's city is a problem)."""
    problems: list[Problem] = []
    given = list(scenarios or [])
    if len(given) > 1:
        problems.append(Problem(f"given {len(given)} times; a run has one scenario",
                                "--scenario"))
    sf = _scenario(given[0], problems) if given else None
    sets, bad = parse_set_items(set_items or [])
    problems += bad
    options = dict(options)
    origins = {}
    if preset is not None:
        note("--preset is deprecated; use --city (the city profile; policies are chosen "
             "with --policy)")
        file_city = sf.data.get("city") if sf is not None else None
        if "city" in options and options["city"] != preset:
            problems.append(Problem(f"conflicts with --city {options['city']}",
                                    f"--preset {preset}"))
        elif "city" not in options and file_city is not None and file_city != preset:
            assert sf is not None
            problems.append(Problem(f"conflicts with {sf.where(('city',))} = {file_city!r}",
                                    f"--preset {preset}"))
        else:
            options["city"], origins["city"] = preset, "--preset"
    return Request(scenario=sf, options=options, sets=sets, option_origins=origins,
                   problems=tuple(problems))


def _api_label(name: str) -> str:
    return f"simulate({name}=)"


def api_request(scenario: str | Path | Mapping[str, Any] | None, options: Mapping[str, Any]
                ) -> Request:
    """The request of ``creditsim.simulate(scenario, **options)``: options are RunConfig
    fields (checked strictly by type), ``set=`` or ``parameters=`` the overrides."""
    problems: list[Problem] = []
    opts = dict(options)
    sets: Any = opts.pop("set", None)
    params = opts.pop("parameters", None)
    if sets is not None and params is not None:
        problems.append(Problem("give the overrides once, as set= or parameters=",
                                _api_label("parameters")))
    sets = sets if sets is not None else params
    if sets is not None and not (isinstance(sets, Mapping) and all(isinstance(k, str)
                                                                   for k in sets)):
        problems.append(Problem("expected a dict of parameter key → value",
                                _api_label("set")))
        sets = None
    return Request(scenario=_scenario(scenario, problems), options=opts,
                   sets=dict(sets or {}), option_label=_api_label,
                   set_label="simulate(set=)", problems=tuple(problems),
                   strict_options=True)


# ----------------------------------------------------------------------------- before a run


def before_run(cfg: RunConfig, out: Path | None, overwrite: bool, force: bool,
               tell: Callable[[str, str], None] = lambda _kind, _s: None) -> Path:
    """The run directory (``out`` or ``runs/<city>-seed<seed>``), after tidying what
    interrupted runs left there (``tell("note", …)``), checking it can take the run,
    and checking the estimated memory and disk (refused, or with ``force``
    ``tell("warning", …)``)."""
    out_dir = out or default_out(cfg)
    for line in tidy(out_dir):
        tell("note", line)
    check_out_dir(out_dir, overwrite)
    for warning in preflight(cfg.residents, cfg.simulated_days, out_dir, force=force):
        tell("warning", warning)
    return out_dir

