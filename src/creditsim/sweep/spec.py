"""A sweep specification: TOML → validated :class:`Spec` → the list of :class:`Job`.

Every problem in a spec is found before anything is written and reported at once,
located as ``file:line key.path`` (:mod:`creditsim.tomllines`), with a "did you mean"
for a misspelt key. The format is documented in docs/sweep.md.

A job's configuration is the spec's ``[base]`` table, then its arm's keys, then its
design point's parameter values, merged by :func:`config_for` — the one place that
turns such a merged table into a :class:`~creditsim.config.RunConfig`.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from creditsim.cities import CITIES
from creditsim.config import RunConfig, make_config
from creditsim.errors import ConfigError, CreditsimError, Problem
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
    """The keys one table of the spec sets ([base] or one arm): run options and
    model parameters, with where each is defined."""

    fields: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)  # "field" or "parameters.key"


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
    """[base] or one arm: known run options, the ``parameters`` table (dotted keys,
    quoted or as nested tables), relative policy files resolved from the spec's folder."""
    if not isinstance(table, dict):
        problems.append(Problem("must be a table", where(*path)))
        return Layer()
    known = (*CONFIG_KEYS, "parameters", *extra)
    out = Layer()
    for k, v in table.items():
        loc = where(*path, k)
        if k == "seed":
            problems.append(Problem("a sweep sets each replicate's seed from the top-level "
                                    "seed (docs/sweep.md); remove it here", loc))
        elif k == "parameters":
            if not isinstance(v, dict):
                problems.append(Problem("must be a table of dotted parameter keys", loc))
                continue
            for key, (value, kpath) in _flatten(v, (*path, "parameters")).items():
                out.parameters[key] = value
                out.origins[f"parameters.{key}"] = where(*kpath)
        elif k in CONFIG_KEYS:
            if k == "policy" and isinstance(v, str) and v.endswith(".toml"):
                v = str((folder / v).resolve()) if not Path(v).is_absolute() else v
            out.fields[k] = v
            out.origins[k] = loc
        elif k not in extra:
            problems.append(Problem(f"unknown key{did_you_mean(k, known)}", loc))
    return out


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


def config_for(fields: Mapping[str, Any], parameters: Mapping[str, Any],
               origins: Mapping[str, str], seed: int) -> RunConfig:
    """The RunConfig of a merged table (base ∪ arm ∪ design point): run options
    ``fields``, model ``parameters`` (dotted keys) and the ``seed``. Every problem is
    raised at once, located by ``origins`` (option name or ``parameters.KEY`` →
    ``file:line key.path``). The scenario reader can take this function's place."""
    from creditsim.modelset import default_models, override

    problems: list[Problem] = []
    try:
        cfg = make_config(**fields, seed=seed, overrides=dict(parameters))
    except ConfigError as e:
        problems += [_relocated(p, origins) for p in e.problems]
        city = fields.get("city", "beijing")
        cfg = make_config(city=city if isinstance(city, str) and city in CITIES else "beijing",
                          residents=1, overrides=dict(parameters))
    try:
        # override() appends the key to the location: give it the file and line only
        override(default_models(cfg), cfg.overrides,
                 {k: origins.get(f"parameters.{k}", "").split(" ")[0] for k in cfg.overrides})
    except ConfigError as e:
        problems += e.problems
    if problems:
        raise ConfigError(problems)
    return cfg


def _relocated(p: Problem, origins: Mapping[str, str]) -> Problem:
    """A make_config problem located at ``--some-option`` → the spec key that set it."""
    opt = p.location.removeprefix("--").split(".")[0].replace("-", "_")
    return Problem(p.message, origins.get(opt, p.location))


def _policy_text(name: Any, cache: dict[str, bytes]) -> bytes:
    """The text of the policy a job runs (the city's own preset if none is named)."""
    from creditsim.policy import read_policy

    if not isinstance(name, str):
        raise ConfigError("must be a preset name or a TOML file")
    if name not in cache:
        cache[name] = read_policy(name).text
    return cache[name]


def _checked_policy(name: Any, cache: dict[str, bytes], loc: str,
                    problems: list[Problem]) -> bytes | None:
    """The policy's text, or None (nothing named, or a problem added, located at ``loc``)."""
    if name is None:
        return None
    try:
        return _policy_text(name, cache)
    except CreditsimError as e:
        problems.extend(Problem(str(p), loc) for p in e.problems)
        return None


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
    policies: dict[str, bytes] = {}
    jobs: list[Job] = []
    for ai, arm in enumerate(spec.arms):
        fields = {**spec.base.fields, **arm.layer.fields}
        origins = {**spec.base.origins, **arm.layer.origins}
        for pi, values in enumerate(points):
            params = {**spec.base.parameters, **arm.layer.parameters, **(values or {})}
            po = {**origins, **(spec.design.origins if spec.design else {})}
            loc = po.get("policy", f"{spec.origin} arms[{ai}]")
            text = _checked_policy(fields.get("policy"), policies, loc, problems)
            try:
                cfg0 = config_for(fields, params, po, 0)
            except CreditsimError as e:
                problems.extend(e.problems)
                break
            if text is None:  # a bad named policy, or none named: the city's default
                text = None if fields.get("policy") else \
                    _checked_policy(cfg0.policy_ref, policies, loc, problems)
            if text is None:
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
                     {**base.origins, "residents": "--residents"})
    out = replace(spec, base=base, replicates=replicates or spec.replicates, jobs=(),
                  resized={"residents": residents, "replicates": replicates})
    return _with_jobs(out)
