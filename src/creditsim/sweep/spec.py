"""A sweep specification: TOML → validated :class:`Spec` → the list of :class:`Job`.

Every problem in a spec is found before anything is written and reported at once,
located as ``file:line key.path`` (:mod:`creditsim.tomllines`), with a "did you mean"
for a misspelt key. The format is documented in docs/sweep.md.

A job's configuration is the spec's ``[base]`` table, then its arm's keys, then its
design point's parameter values (:class:`Merged`), over a scenario file (the arm's,
else the base's). :func:`config_for` — the one place that turns such a merged table
into a :class:`~creditsim.config.RunConfig` — takes the path of ``creditsim run
--scenario`` (:func:`creditsim.launch.prepare`), so a spec is checked as a run is.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from creditsim.config import RunConfig, make_config
from creditsim.errors import ConfigError, CreditsimError, Problem
from creditsim.scenario import PATH_OPTIONS, Request, ScenarioFile, is_file_name, read_scenario
from creditsim.sweep.design import Design, read_design
from creditsim.tomllines import Path_, did_you_mean, key_lines, locate

SCHEMA = "creditsim.sweep/1"
TOP_KEYS = ("replicates", "seed", "keep", "by", "base", "arms", "design")
KEEP = ("summary", "tables")
#: RunConfig fields a spec may set in [base] or an arm (the seed comes from the replicate).
CONFIG_KEYS = tuple(k for k in RunConfig.model_fields if k not in ("seed", "overrides",
                                                                  "origins"))
ARM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MAX_REPLICATES = 10_000


def replicate_seed(base_seed: int, replicate: int) -> int:
    """The seed of replicate ``replicate`` in every arm (common random numbers): the
    first 8 bytes of sha256("creditsim.sweep/<base_seed>/<replicate>"), big-endian,
    shifted right by one bit (a non-negative 63-bit integer)."""
    digest = hashlib.sha256(f"creditsim.sweep/{base_seed}/{replicate}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(frozen=True)
class Where:
    """Locates key paths of one spec (its origin and the lines of its keys)."""

    origin: str
    lines: Mapping[Path_, int]

    def __call__(self, *path: str | int) -> str:
        return locate(self.origin, self.lines, tuple(path))


@dataclass(frozen=True)
class Layer:
    """The keys one table of the spec sets ([base] or one arm): a scenario file, run
    options and model parameters, with where each is defined."""

    fields: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)  # "field" or "parameters.key"
    scenario: ScenarioFile | None = None


@dataclass(frozen=True)
class Arm:
    name: str
    layer: Layer


@dataclass(frozen=True)
class Job:
    """One (arm, design point, replicate): its seed, parameter values and configuration."""

    arm: str
    arm_index: int
    point: int | None
    replicate: int
    seed: int
    values: dict[str, Any]
    config: RunConfig
    key: str  # sha256 of the configuration and the policy's text: what the job computes

    @property
    def cell(self) -> str:
        """The arm, or the arm at its design point (``arm.p003``)."""
        return self.arm if self.point is None else f"{self.arm}.p{self.point:03d}"

    @property
    def rel(self) -> str:
        """The job's directory under the sweep's ``jobs/``."""
        return f"{self.cell}/{self.replicate:04d}"


@dataclass(frozen=True)
class Spec:
    origin: str
    text: str
    replicates: int
    seed: int
    keep: str
    by: tuple[str, ...] | None
    base: Layer
    arms: tuple[Arm, ...]
    design: Design | None
    jobs: tuple[Job, ...]
    #: options that replaced the spec's own values (``--residents``, ``--replicates``)
    resized: dict[str, int | None] = field(default_factory=dict)

    @property
    def parameter_keys(self) -> tuple[str, ...]:
        return self.design.keys if self.design else ()


def read_spec(source: str | Path | Mapping[str, Any]) -> Spec:
    """Read and validate a spec file (or an already parsed table); raises one
    :class:`ConfigError` listing every problem."""
    if isinstance(source, Mapping):
        return parse_spec(dict(source), "<spec>", "", Path.cwd())
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(Problem(f"cannot read the spec: {e.strerror or e}", str(path))) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(Problem(f"not valid TOML: {e}", str(path))) from None
    return parse_spec(doc, str(path), text, path.parent)


def parse_spec(doc: dict[str, Any], origin: str, text: str, folder: Path) -> Spec:
    where = Where(origin, key_lines(text))
    problems: list[Problem] = []
    for k in doc:
        if k not in TOP_KEYS:
            problems.append(Problem(f"unknown key{did_you_mean(k, TOP_KEYS)}", where(k)))
    replicates = _int(doc, "replicates", where, problems, low=1, high=MAX_REPLICATES,
                      required=True)
    seed = _int(doc, "seed", where, problems, low=0, high=2**63 - 1, default=1)
    keep = doc.get("keep", "summary")
    if keep not in KEEP:
        problems.append(Problem(f"must be one of {', '.join(map(repr, KEEP))}", where("keep")))
    by = _by(doc.get("by"), where, problems)
    base = _layer(doc.get("base", {}), ("base",), where, folder, problems)
    arms = _arms(doc.get("arms"), where, folder, problems)
    design = read_design(doc.get("design"), where, problems)
    # The jobs are checked even when the spec's structure has problems, so that
    # every problem is reported at once (options, parameters, policies too).
    spec = Spec(origin, text, replicates or 1, 1 if seed is None else seed,
                keep if keep in KEEP else "summary", by, base, tuple(arms), design, ())
    spec, more = _jobs_of(spec)
    problems += [p for p in more if p not in problems]
    if problems:
        raise ConfigError(problems)
    return spec


def _int(doc: Mapping[str, Any], key: str, where: Where, problems: list[Problem], *,
         low: int, high: int, default: int | None = None, required: bool = False
         ) -> int | None:
    if key not in doc:
        if required:
            problems.append(Problem(f"missing (an integer ≥ {low})", where()))
        return default
    v = doc[key]
    if isinstance(v, bool) or not isinstance(v, int):
        problems.append(Problem(f"must be an integer, not {type(v).__name__}", where(key)))
        return default
    if not low <= v <= high:
        problems.append(Problem(f"must be in [{low}, {high:,}]", where(key)))
        return default
    return v


def _by(value: Any, where: Where, problems: list[Problem]) -> tuple[str, ...] | None:
    if value is None:
        return None
    from creditsim.audit.groups import parse_by

    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        problems.append(Problem("must be an array of grouping names", where("by")))
        return None
    try:
        return tuple(parse_by(value))
    except CreditsimError as e:
        problems.extend(Problem(p.message, where("by")) for p in e.problems)
        return None


def _layer(table: Any, path: tuple[str | int, ...], where: Where, folder: Path,
           problems: list[Problem], extra: tuple[str, ...] = ()) -> Layer:
    """[base] or one arm: a ``scenario`` file, known run options, the ``parameters``
    table (dotted keys, quoted or as nested tables); relative file names (scenario,
    policy, city) are read from the spec's folder. ``base = "FILE"`` is a scenario alone."""
    if isinstance(table, str) and path == ("base",):
        table = {"scenario": table}
    if not isinstance(table, dict):
        problems.append(Problem("must be a table or a scenario file's name"
                                if path == ("base",) else "must be a table", where(*path)))
        return Layer()
    known = (*CONFIG_KEYS, "scenario", "parameters", *extra)
    out = Layer()
    for k, v in table.items():
        loc = where(*path, k)
        if k == "seed":
            problems.append(Problem("a sweep sets each replicate's seed from the top-level "
                                    "seed (docs/sweep.md); remove it here", loc))
        elif k == "scenario":
            out = replace(out, scenario=_scenario(v, folder, loc, problems))
        elif k == "parameters":
            if not isinstance(v, dict):
                problems.append(Problem("must be a table of dotted parameter keys", loc))
                continue
            for key, (value, kpath) in _flatten(v, (*path, "parameters")).items():
                out.parameters[key] = value
                out.origins[f"parameters.{key}"] = where(*kpath)
        elif k in CONFIG_KEYS:
            if k in PATH_OPTIONS and is_file_name(v):
                v = str((folder / Path(v).expanduser()).resolve())
            out.fields[k] = v
            out.origins[k] = loc
        elif k not in extra:
            problems.append(Problem(f"unknown key{did_you_mean(k, known)}", loc))
    return out


def _scenario(value: Any, folder: Path, loc: str, problems: list[Problem]
              ) -> ScenarioFile | None:
    """The scenario file named at ``loc`` (relative to the spec's folder), read once."""
    if not isinstance(value, str) or not value:
        problems.append(Problem("must be a scenario file's name (TOML)", loc))
        return None
    p = Path(value).expanduser()
    p = p if p.is_absolute() else Path(os.path.normpath(folder / p))
    try:
        return read_scenario(p)
    except CreditsimError as e:
        # a file that is missing is located where it is named; a bad one at its own line
        problems.extend(Problem(f"{pr.message}: {p}", loc) if pr.location == str(p) else pr
                        for pr in e.problems)
        return None


def _flatten(table: dict[str, Any], path: tuple[str | int, ...]
             ) -> dict[str, tuple[Any, tuple[str | int, ...]]]:
    """``{"records": {"bank": {"p_id_missing": 0.02}}}`` → ``{"records.bank.p_id_missing":
    0.02}`` (each with its key path in the file), stopping at known parameter keys so
    that a parameter whose value is a table keeps it."""
    from creditsim.modelset import default_models, registry

    known = registry(default_models(make_config(residents=1)))
    out: dict[str, tuple[Any, tuple[str | int, ...]]] = {}

    def walk(prefix: str, v: Any, kpath: tuple[str | int, ...]) -> None:
        if isinstance(v, dict) and prefix not in known and v:
            for k, sub in v.items():
                walk(f"{prefix}.{k}" if prefix else k, sub, (*kpath, k))
        else:
            out[prefix] = (v, kpath)

    walk("", table, path)
    return out


def _arms(value: Any, where: Where, folder: Path, problems: list[Problem]) -> list[Arm]:
    if value is None:
        problems.append(Problem("missing: at least one [[arms]] table with a name", where()))
        return []
    if not isinstance(value, list) or not value or not all(isinstance(a, dict) for a in value):
        problems.append(Problem("must be an array of tables ([[arms]])", where("arms")))
        return []
    arms, seen = [], set()
    for i, a in enumerate(value):
        name = a.get("name")
        if not isinstance(name, str) or not ARM_NAME.match(name):
            problems.append(Problem("each arm needs a name of letters, digits, '-' and '_' "
                                    "(at most 64)", where("arms", i, "name")))
            name = f"arm{i}"
        elif name in seen:
            problems.append(Problem(f"arm name {name!r} given twice", where("arms", i, "name")))
        seen.add(name)
        arms.append(Arm(name, _layer(a, ("arms", i), where, folder, problems, ("name",))))
    return arms


@dataclass(frozen=True)
class Merged:
    """One job's table before validation: the scenario file (the arm's, else the
    base's), the run options and parameters over it, and where each was written."""

    scenario: ScenarioFile | None
    fields: Mapping[str, Any]
    parameters: Mapping[str, Any]
    origins: Mapping[str, str]  # option name or "parameters.KEY" → "file:line key.path"


def config_for(m: Merged, seed: int) -> tuple[RunConfig, bytes]:
    """The RunConfig of a merged table (base ∪ arm ∪ design point) with the ``seed``,
    and the text of its policy, through the path of ``creditsim run --scenario FILE``
    (:func:`creditsim.launch.prepare`): the scenario file, the options over it, the
    parameters as ``--set``; the same checks and messages, every problem raised at
    once, located in the spec (``origins``) or in the scenario file."""
    from creditsim.launch import prepare

    try:
        p = prepare(_request(m))
    except ConfigError as e:
        # a policy problem found by both checks is one Problem (same text and place)
        raise ConfigError(list(dict.fromkeys([*e.problems, *_policy_problems(m)]))) from None
    cfg = p.config.model_copy(update={"seed": seed, **_absolute_files(p.config)})
    return cfg, p.policy.text


def _request(m: Merged) -> Request:
    return Request(scenario=m.scenario, options=dict(m.fields),
                   sets=dict(m.parameters), strict_options=True,
                   option_origins={k: m.origins.get(k, k) for k in m.fields},
                   set_origins={k: m.origins.get(f"parameters.{k}", "").split(" ")[0]
                                for k in m.parameters})


def _absolute_files(cfg: RunConfig) -> dict[str, str]:
    """A policy or city file as its resolved absolute path (a scenario's are relative
    to its folder as given): a job's configuration names the file the same way
    whatever the working directory and however the spec or scenario reached it."""
    out = {}
    for name in PATH_OPTIONS:
        v = getattr(cfg, name)
        if is_file_name(v):
            out[name] = str(Path(v).expanduser().resolve())
    return out


def _policy_problems(m: Merged) -> list[Problem]:
    """The policy's own problems when the configuration has others (the run's check
    reads the policy only of a valid configuration): the policy alone, checked on the
    same path, so every problem of a spec is reported at once."""
    from creditsim.launch import prepare

    if "policy" in m.fields:
        req = Request(options={"policy": m.fields["policy"]},
                      option_origins={"policy": m.origins.get("policy", "policy")})
    elif m.scenario is not None and "policy" in m.scenario.data:
        sf = m.scenario
        req = Request(scenario=replace(sf, data={"policy": sf.data["policy"]}))
    else:
        return []
    try:
        prepare(req)
    except ConfigError as e:
        return list(e.problems)
    return []


def _with_jobs(spec: Spec) -> Spec:
    """The spec with its jobs (see :func:`_jobs_of`); every problem raised at once."""
    out, problems = _jobs_of(spec)
    if problems:
        raise ConfigError(problems)
    return out


def _jobs_of(spec: Spec) -> tuple[Spec, list[Problem]]:
    """The spec with its jobs: arms in order, then design points, then replicates;
    and the problems of their configurations (an arm is checked until its first
    failing point)."""
    problems: list[Problem] = []
    points = spec.design.points if spec.design else [None]
    jobs: list[Job] = []
    for ai, arm in enumerate(spec.arms):
        fields = {**spec.base.fields, **arm.layer.fields}
        origins = {**spec.base.origins, **arm.layer.origins,
                   **(spec.design.origins if spec.design else {})}
        scenario = arm.layer.scenario or spec.base.scenario
        for pi, values in enumerate(points):
            params = {**spec.base.parameters, **arm.layer.parameters, **(values or {})}
            try:
                cfg0, text = config_for(Merged(scenario, fields, params, origins), 0)
            except CreditsimError as e:
                problems.extend(e.problems)
                break
            for r in range(spec.replicates):
                s = replicate_seed(spec.seed, r)
                cfg = cfg0.model_copy(update={"seed": s})
                jobs.append(Job(arm.name, ai, None if values is None else pi, r, s,
                                dict(values or {}), cfg, _job_key(cfg, text)))
    return replace(spec, jobs=tuple(jobs)), list(dict.fromkeys(problems))


def _job_key(cfg: RunConfig, policy_text: bytes) -> str:
    doc = json.dumps(cfg.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(doc.encode() + b"\0" + policy_text).hexdigest()


def resized(spec: Spec, residents: int | None = None, replicates: int | None = None) -> Spec:
    """The spec with ``[base]`` residents and the replicate count replaced (a smaller
    trial of the same experiment); the sweep directory records both."""
    if residents is None and replicates is None:
        return spec
    problems = []
    if residents is not None and residents < 1:
        problems.append(Problem("must be positive", "--residents"))
    if replicates is not None and not 1 <= replicates <= MAX_REPLICATES:
        problems.append(Problem(f"must be in [1, {MAX_REPLICATES:,}]", "--replicates"))
    if problems:
        raise ConfigError(problems)
    base = spec.base
    if residents is not None:
        base = Layer({**base.fields, "residents": residents}, base.parameters,
                     {**base.origins, "residents": "--residents"}, base.scenario)
    out = replace(spec, base=base, replicates=replicates or spec.replicates, jobs=(),
                  resized={"residents": residents, "replicates": replicates})
    return _with_jobs(out)
