"""Reading policy files: TOML → validated :class:`Policy`, with every problem located.

The loader never stops at the first problem. It parses the TOML, validates each
top-level section on its own (so a broken rule does not hide a broken tier), runs
the cross-section checks on whatever validated, and raises one
:class:`PolicyError` listing every problem with its location
``file:line key.path[index]``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from creditsim.policy.errors import PolicyError, Problem
from creditsim.policy.model import (
    MAX_TIERS,
    Cap,
    Consequence,
    Coverage,
    ListDef,
    Meta,
    Override,
    Policy,
    Rule,
    Scale,
    Tier,
)
from creditsim.tomllines import Path_, key_lines, locate

_SECTIONS: dict[str, TypeAdapter[Any]] = {
    "meta": TypeAdapter(Meta),
    "coverage": TypeAdapter(Coverage),
    "scale": TypeAdapter(Scale),
    "tiers": TypeAdapter(list[Tier]),
    "caps": TypeAdapter(list[Cap]),
    "rules": TypeAdapter(list[Rule]),
    "overrides": TypeAdapter(list[Override]),
    "lists": TypeAdapter(list[ListDef]),
    "consequences": TypeAdapter(list[Consequence]),
}

def _message(err: Mapping[str, Any]) -> str:
    msg = str(err.get("msg", "invalid"))
    etype = err.get("type", "")
    if etype == "literal_error":
        expected = str(err.get("ctx", {}).get("expected", ""))
        names = re.findall(r"'([^']*)'", expected)
        if len(names) > 8:
            msg = (
                f"unknown name {err.get('input')!r}; expected one of {', '.join(names[:6])}, … "
                f"({len(names)} names, see docs/policy.md)"
            )
    elif etype == "extra_forbidden":
        msg = "unknown key (not part of the policy language)"
    elif etype == "missing":
        msg = "required key is missing"
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return msg


def _is_union_tag(part: str | int) -> bool:
    """Pydantic names union members in error locations (``constrained-int``,
    ``literal['indefinite']``); those are not keys of the file."""
    return isinstance(part, str) and (
        any(c in part for c in "[]-()") or part in {"int", "str", "float", "bool", "list", "dict"}
    )


# ----------------------------------------------------------------------------- checks


def _unique(items: list[Any], attr: str, section: str) -> list[tuple[Path_, str]]:
    seen: dict[str, int] = {}
    out = []
    for i, it in enumerate(items):
        v = getattr(it, attr)
        if v in seen:
            out.append(
                ((section, i, attr), f"duplicate {attr} {v!r} (first at {section}[{seen[v]}])")
            )
        else:
            seen[v] = i
    return out


def _raw_ids(data: dict[str, Any], section: str, attr: str) -> set[str] | None:
    """Names declared in a section, read from the raw data (so that references can
    be checked even when the section itself has other problems): none if the
    section is absent, None if it is not a list (a problem reported on its own)."""
    if section not in data:
        return set()
    items = data[section]
    if not isinstance(items, list):
        return None
    return {it[attr] for it in items if isinstance(it, dict) and isinstance(it.get(attr), str)}


def _given(data: dict[str, Any], section: str) -> bool:
    """The section is present and not an empty array."""
    return section in data and data[section] != []


@dataclass(frozen=True)
class _Refs:
    """What references can name: tiers, lists and caps declared in the raw data
    (None: that section is malformed, so references to it are not checked)."""

    tiers: set[str] | None
    lists: set[str] | None
    caps: set[str] | None

    @staticmethod
    def unknown(names: set[str] | None, name: str) -> bool:
        return names is not None and name not in names


Found = list[tuple[Path_, str]]


def _cross_checks(sec: dict[str, Any], present: set[str], data: dict[str, Any]) -> Found:
    """Checks that involve more than one section; ``sec`` holds the sections that validated."""
    out: Found = []
    scored = "scale" in present
    if not scored:
        for name in ("coverage", "tiers", "caps", "rules", "overrides"):
            if name in present:
                out.append(((name,), f"'{name}' needs a [scale] section (the policy has no score)"))
    elif not _given(data, "tiers"):
        out.append((("tiers",), "a scored policy needs at least one tier ([[tiers]])"))
    if not _given(data, "rules") and not _given(data, "lists"):
        out.append(((), "the policy has neither [[rules]] nor [[lists]]: it does nothing"))
    refs = _Refs(_raw_ids(data, "tiers", "name"), _raw_ids(data, "lists", "id"),
                 _raw_ids(data, "caps", "id"))
    if sec.get("tiers") is not None:
        out += _tier_checks(sec["tiers"], sec.get("scale"))
    if sec.get("caps") is not None:
        out += _unique(sec["caps"], "id", "caps")
    if sec.get("rules") is not None:
        out += _rule_checks(sec["rules"], refs)
    if sec.get("overrides") is not None:
        out += _override_checks(sec["overrides"], refs, sec.get("scale"))
    if sec.get("lists") is not None:
        out += _list_checks(sec["lists"], scored)
    if sec.get("consequences") is not None:
        out += _consequence_checks(sec["consequences"], refs, scored)
    return out


def _tier_checks(tiers: list[Tier], scale: Scale | None) -> Found:
    out = _unique(tiers, "name", "tiers")
    if len(tiers) > MAX_TIERS:
        out.append((("tiers",), f"{len(tiers)} tiers; at most {MAX_TIERS} are supported"))
    for i in range(1, len(tiers)):
        hi, lo = tiers[i - 1], tiers[i]
        if lo.min >= hi.min:
            out.append(
                (("tiers", i, "min"),
                 "tiers must be listed best first (each min below the previous)")
            )
        elif lo.max >= hi.min:
            out.append(
                (("tiers", i, "max"), f"overlaps tier {hi.name!r} (which starts at {hi.min})")
            )
        elif lo.max + 1 != hi.min:
            out.append(
                (
                    ("tiers", i, "max"),
                    f"gap: tier {hi.name!r} starts at {hi.min}, so max must be {hi.min - 1}",
                )
            )
    if scale is not None and tiers:
        if tiers[0].max != scale.max:
            out.append((("tiers", 0, "max"), f"the best tier must end at scale.max = {scale.max}"))
        if tiers[-1].min != scale.min:
            out.append(
                (
                    ("tiers", len(tiers) - 1, "min"),
                    f"the worst tier must start at scale.min = {scale.min}",
                )
            )
    return out


def _rule_checks(rules: list[Rule], refs: _Refs) -> Found:
    out = _unique(rules, "id", "rules")
    cap_sign: dict[str, tuple[int, int]] = {}
    for i, r in enumerate(rules):
        if r.cap is None:
            continue
        if refs.unknown(refs.caps, r.cap):
            out.append((("rules", i, "cap"), f"unknown cap {r.cap!r} (no such [[caps]] id)"))
        if r.cap in cap_sign and cap_sign[r.cap][0] != r.sign:
            out.append(
                (
                    ("rules", i, "cap"),
                    f"cap {r.cap!r} mixes rewards and deductions "
                    f"(rules[{cap_sign[r.cap][1]}] has the other sign)",
                )
            )
        cap_sign.setdefault(r.cap, (r.sign, i))
    return out


def _override_checks(overrides: list[Override], refs: _Refs, scale: Scale | None) -> Found:
    out = _unique(overrides, "id", "overrides")
    for i, o in enumerate(overrides):
        if o.on_list is not None and refs.unknown(refs.lists, o.on_list):
            out.append((("overrides", i, "on_list"), f"unknown list {o.on_list!r}"))
        if o.cap_tier is not None and refs.unknown(refs.tiers, o.cap_tier):
            out.append((("overrides", i, "cap_tier"), f"unknown tier {o.cap_tier!r}"))
        if o.cap_score is not None and scale is not None and not (
            scale.min <= o.cap_score <= scale.max
        ):
            out.append(
                (("overrides", i, "cap_score"), f"outside the scale [{scale.min}, {scale.max}]")
            )
    return out


def _list_checks(lists: list[ListDef], scored: bool) -> Found:
    out = _unique(lists, "id", "lists")
    for i, li in enumerate(lists):
        if li.score_below is not None and not scored:
            out.append((("lists", i, "score_below"), "a score list needs a [scale] section"))
        trig = {k for t in li.triggers for k in t.kinds}
        both = sorted(trig & set(li.exit_kinds))
        if both:
            out.append((("lists", i, "exit_kinds"), f"kinds both enter and leave the list: {both}"))
        both = sorted(set(li.aggravating_kinds) & set(li.exit_kinds))
        if both:
            out.append(
                (("lists", i, "aggravating_kinds"), f"kinds both aggravate and end: {both}")
            )
    return out


def _consequence_checks(cons: list[Consequence], refs: _Refs, scored: bool) -> Found:
    out = _unique(cons, "id", "consequences")
    for i, c in enumerate(cons):
        for j, t in enumerate(c.tiers or []):
            if refs.unknown(refs.tiers, t):
                out.append((("consequences", i, "tiers", j), f"unknown tier {t!r}"))
        if c.on_list is not None and refs.unknown(refs.lists, c.on_list):
            out.append((("consequences", i, "on_list"), f"unknown list {c.on_list!r}"))
        if (c.score_min is not None or c.covered or c.tiers) and not scored:
            out.append((("consequences", i), "score- or tier-based consequence needs [scale]"))
    return out


# ----------------------------------------------------------------------------- loading


def policy_from_data(
    data: Any, origin: str = "<policy>", lines: Mapping[Path_, int] | None = None
) -> Policy:
    """Validate already-parsed data (a dict as from TOML) into a :class:`Policy`."""
    lines = lines or {}
    problems: list[Problem] = []

    def add(path: Path_, msg: str) -> None:
        problems.append(Problem(msg, locate(origin, lines, path)))

    if not isinstance(data, dict):
        raise PolicyError([Problem("a policy must be a table of sections", origin)])
    present = set()
    sections: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _SECTIONS:
            add((key,), f"unknown section {key!r}; known: {', '.join(_SECTIONS)}")
            continue
        present.add(key)
        try:
            sections[key] = _SECTIONS[key].validate_python(value, strict=True)
        except ValidationError as e:
            merged: dict[Path_, list[str]] = {}
            for err in e.errors():
                loc = tuple(p for p in err["loc"] if not _is_union_tag(p))
                msgs = merged.setdefault((key, *loc), [])
                if _message(err) not in msgs:
                    msgs.append(_message(err))
            for path, msgs in merged.items():
                add(path, "; or ".join(msgs))
        except (TypeError, ValueError, RecursionError) as e:  # defensive: never a traceback
            add((key,), f"invalid value ({type(e).__name__})")
    if "meta" not in data:
        add(("meta",), "required section [meta] is missing")
    for path, msg in _cross_checks(sections, present, data):
        add(path, msg)
    if problems:
        raise PolicyError(problems)
    return Policy.model_validate(data, strict=True)


def policy_from_text(text: str | bytes, origin: str = "<policy>") -> Policy:
    """Parse TOML text (or bytes) into a :class:`Policy`; raises :class:`PolicyError`."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            line = text[: e.start].count(b"\n") + 1
            raise PolicyError(
                [Problem(f"not UTF-8 text (bad byte at offset {e.start})", f"{origin}:{line}")]
            ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        line = m.group(1) if m else str(len(text.splitlines()) or 1)  # "at end of document"
        loc = f"{origin}:{line}"
        raise PolicyError([Problem(f"not valid TOML: {e}", loc)]) from None
    except (RecursionError, ValueError) as e:
        raise PolicyError([Problem(f"not valid TOML: {type(e).__name__}", origin)]) from None
    return policy_from_data(data, origin, key_lines(text))


# ----------------------------------------------------------------------------- presets


@dataclass(frozen=True)
class PresetInfo:
    """A preset shipped with the package."""

    name: str
    title: str
    description: str
    city: str


def _preset_dir() -> Any:
    return resources.files("creditsim.policy.presets")


def preset_names() -> list[str]:
    """Names of the shipped presets, sorted."""
    return sorted(
        p.name.removesuffix(".toml") for p in _preset_dir().iterdir() if p.name.endswith(".toml")
    )


def preset_text(name: str) -> str:
    """The TOML text of a preset."""
    if name not in preset_names():
        raise PolicyError(
            [Problem(f"no preset named {name!r}; presets: {', '.join(preset_names())}", name)]
        )
    return (_preset_dir() / f"{name}.toml").read_text(encoding="utf-8")


def list_presets() -> list[PresetInfo]:
    """Every preset with its title and one-line description."""
    out = []
    for name in preset_names():
        p = load_policy(name)
        out.append(PresetInfo(name, p.meta.title, p.meta.description, p.meta.city))
    return out


def policy_source(path_or_name: str | Path) -> tuple[str | bytes, str]:
    """The text of a preset (by name) or a policy file, and where it came from."""
    if isinstance(path_or_name, str) and path_or_name in preset_names():
        return preset_text(path_or_name), f"presets/{path_or_name}.toml"
    path = Path(path_or_name)
    if not path.is_file():
        raise PolicyError(
            [Problem(f"no such file, and not a preset ({', '.join(preset_names())})", str(path))]
        )
    try:
        return path.read_bytes(), str(path)
    except OSError as e:
        raise PolicyError([Problem(f"cannot read: {e.strerror}", str(path))]) from None


@dataclass(frozen=True)
class LoadedPolicy:
    """A policy read once: the validated policy, the exact bytes it was parsed from
    (what a run keeps as ``policy.toml``) and where they came from."""

    policy: Policy
    text: bytes
    origin: str


def read_policy(path_or_name: str | Path) -> LoadedPolicy:
    """Read and validate a policy file or preset once; raises :class:`PolicyError`.

    The file is read a single time, so the policy and its text cannot disagree
    (a file replaced after this call does not change either)."""
    text, origin = policy_source(path_or_name)
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return LoadedPolicy(policy_from_text(raw, origin), raw, origin)


def load_policy(path_or_name: str | Path) -> Policy:
    """Load a policy from a TOML file, or a shipped preset by name (e.g. ``"rongcheng"``)."""
    return read_policy(path_or_name).policy
