"""Every citation resolves to an entry of the source notes in ``docs/sources/``.

A citation is a ``sources#<anchor>`` token (grammar: ``docs/sources/README.md``). It may appear
in a ``Cited`` source string, a preset's ``source`` field or ``[meta] sources``, or in any
comment or docstring under ``src/``. Every ``Cited`` value either cites an entry or says it is
an assumption. The notes themselves are checked for what makes them usable: unique anchors, a
status on every entry, an address unless it is an assumption, an index that lists them all.
Nothing in the repository names a file outside it (a brief kept elsewhere, a machine's path).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import creditsim
from creditsim.params import Cited
from creditsim.policy import load_policy, preset_names

REPO = Path(__file__).resolve().parents[1]
NOTES = REPO / "docs" / "sources"
SRC = REPO / "src" / "creditsim"

ANCHOR = r"[a-z0-9]+(?:-[a-z0-9]+)*"
HEADING = re.compile(rf'^(#+) <a id="({ANCHOR})"></a>\S', re.M)
ANY_ID = re.compile(r'<a\s+id="([^"]*)"')
TOKEN = re.compile(r"sources#(\S*)")
CITE = re.compile(rf"sources#({ANCHOR})")
#: The grammar's own placeholder, as the docstrings that explain it write it.
PLACEHOLDER = "sources#<anchor>"
STATUS = re.compile(r"^- \*\*Status:\*\* (published|secondary|low quality|assumption)\b", re.M)
LINK = re.compile(r"\]\(([a-z0-9-]*\.md)?#([^)\s]*)\)")
#: A file that is not part of the repository: the project's brief, or another machine's path.
OUTSIDE = re.compile(
    r"\bfacts" r"\.md\b|(?:^|[\s\"'`(=,:])(?:/work|/home|/root|/Users|/mnt)/|[A-Z]:\\Users\\",
    re.M,
)
TMP_PATH = re.compile(r"(?:^|[\s\"'`(=,:])/tmp/", re.M)


@dataclass(frozen=True)
class Entry:
    anchor: str
    file: str
    text: str  # the entry, from its heading to the next heading

    @property
    def status(self) -> str | None:
        m = STATUS.search(self.text)
        return m.group(1) if m else None


def _note_files() -> list[Path]:
    """The files holding entries (the README is the index and explains the format)."""
    return [p for p in sorted(NOTES.glob("*.md")) if p.name != "README.md"]


@cache
def entries() -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    for path in _note_files():
        text = path.read_text(encoding="utf-8")
        for m in HEADING.finditer(text):
            nxt = re.compile(r"^#+ ", re.M).search(text, m.end())
            end = nxt.start() if nxt else len(text)
            anchor = m.group(2)
            assert anchor not in out, f"anchor {anchor} in {out[anchor].file} and {path.name}"
            out[anchor] = Entry(anchor, path.name, text[m.start():end])
    return out


def unresolved(text: str) -> list[str]:
    """Citation tokens in ``text`` that are malformed or name no entry."""
    bad = []
    for m in TOKEN.finditer(text.replace(PLACEHOLDER, "")):
        tail = m.group(1)
        ok = CITE.match(m.group(0))
        anchor = ok.group(1) if ok else None
        if anchor is None or anchor not in entries():
            bad.append(f"sources#{tail}")
    return bad


def check_source(where: str, source: str) -> list[str]:
    """Problems of one source string: unresolved tokens, or neither a citation nor an
    assumption."""
    problems = [f"{where}: {t} names no entry" for t in unresolved(source)]
    if not CITE.search(source) and not source.strip().lower().startswith("assumption"):
        problems.append(f"{where}: cites no entry and is not an assumption: {source!r}")
    return problems


# --- the notes --------------------------------------------------------------------------------


def test_anchors_are_headings_well_formed_and_unique() -> None:
    ids: list[tuple[str, str]] = []
    for path in _note_files():
        text = path.read_text(encoding="utf-8")
        ids += [(path.name, i) for i in ANY_ID.findall(text)]
        assert len(ANY_ID.findall(text)) == len(HEADING.findall(text)), (
            f"{path.name}: every anchor opens a heading: ### <a id=\"...\"></a>Title")
    bad = [(f, i) for f, i in ids if not re.fullmatch(ANCHOR, i)]
    assert not bad, bad
    names = [i for _, i in ids]
    assert len(names) == len(set(names)), sorted({i for i in names if names.count(i) > 1})
    assert len(entries()) == len(ids) and len(ids) > 50


def test_every_entry_has_a_status_and_unless_assumed_an_address() -> None:
    no_status = [e.anchor for e in entries().values() if e.status is None]
    assert not no_status, no_status
    no_address = [e.anchor for e in entries().values() if e.status != "assumption"
                  and ("**Source:**" not in e.text or "http" not in e.text)]
    assert not no_address, no_address


def test_the_index_lists_every_entry_with_its_status() -> None:
    readme = (NOTES / "README.md").read_text(encoding="utf-8")
    rows = re.findall(rf"^\| \[`({ANCHOR})`\]\(([a-z0-9-]+\.md)#({ANCHOR})\) \|.*\| "
                      r"(published|secondary|low quality|assumption) \|$", readme, re.M)
    listed = {a: (f, s) for a, f, b, s in rows if a == b}
    assert len(listed) == len(rows), "an index row links to another anchor than it names"
    assert listed == {a: (e.file, e.status) for a, e in entries().items()}


def test_links_between_the_notes_resolve() -> None:
    bad = []
    for path in sorted(NOTES.glob("*.md")):
        for target, anchor in LINK.findall(path.read_text(encoding="utf-8")):
            file = target or path.name
            e = entries().get(anchor)
            if not (NOTES / file).exists() or e is None or e.file != file:
                bad.append(f"{path.name}: {target}#{anchor}")
    assert not bad, bad


def test_an_unknown_or_malformed_citation_is_caught() -> None:
    some = next(iter(entries()))
    assert unresolved(f"x (sources#{some}), y") == []
    assert unresolved("x sources#no-such-entry-anywhere") == ["sources#no-such-entry-anywhere"]
    assert unresolved("x sources#Census") == ["sources#Census"]
    assert unresolved(f"the grammar is {PLACEHOLDER}") == []
    assert check_source("p", "assumption: because") == []
    assert check_source("p", "a figure, somewhere") != []


# --- citations in the code and the presets ----------------------------------------------------


def _source_files() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and p.suffix in
            {".py", ".toml", ".json", ".md", ".txt", ".html", ".css", ".js"}]


def test_every_citation_in_the_source_text_resolves() -> None:
    files = _source_files()
    assert any(p.suffix == ".toml" for p in files) and len(files) > 50
    bad = []
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            bad += [f"{path.relative_to(REPO)}:{n}: {t}" for t in unresolved(line)]
    assert not bad, "\n".join(bad)


def _walk(obj: Any, where: str, out: dict[str, str], seen: set[int]) -> None:
    """Collect the source of every Cited value reachable from ``obj``."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, Cited):
        out[where] = obj.source
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            val = getattr(obj, f.name)
            if f.name.endswith("source") and isinstance(val, str):
                out[f"{where}.{f.name}"] = val
            _walk(val, f"{where}.{f.name}", out, seen)
    elif isinstance(obj, tuple | list):
        for i, v in enumerate(obj):
            _walk(v, f"{where}[{i}]", out, seen)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _walk(v, f"{where}[{k!r}]", out, seen)


def _defaults(cls: type) -> dict[str, Any]:
    """The default value of every field of a dataclass that has one."""
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


@cache
def cited_sources() -> dict[str, str]:
    """Every Cited source (and ``*source`` text field) reachable from a creditsim module:
    module-level values and the defaults of every dataclass, whatever module holds them."""
    out: dict[str, str] = {}
    seen: set[int] = set()
    for info in pkgutil.walk_packages(creditsim.__path__, "creditsim."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, val in vars(module).items():
            if isinstance(val, type):
                if val.__module__ == module.__name__ and dataclasses.is_dataclass(val):
                    for field, default in _defaults(val).items():
                        _walk(default, f"{info.name}.{name}.{field}", out, seen)
            else:
                _walk(val, f"{info.name}.{name}", out, seen)
    return out


def test_every_cited_value_cites_an_entry_or_is_an_assumption() -> None:
    sources = cited_sources()
    assert len(sources) > 150  # the defaults of the city, behaviour, records, services, loop
    bad = [p for where, s in sorted(sources.items()) for p in check_source(where, s)]
    assert not bad, "\n".join(bad)


def _preset_sources(obj: Any, where: str) -> list[tuple[str, str]]:
    """Every ``source`` (and ``sources`` item) of a parsed policy, recursively."""
    out: list[tuple[str, str]] = []
    if isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            out += _preset_sources(v, f"{where}[{i}]")
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            val = getattr(obj, name)
            if name == "source" and isinstance(val, str):
                out.append((f"{where}.source", val))
            elif name == "sources" and isinstance(val, list):
                out += [(f"{where}.sources[{i}]", s) for i, s in enumerate(val)]
            else:
                out += _preset_sources(val, f"{where}.{name}")
    return out


@pytest.mark.parametrize("name", sorted(preset_names()))
def test_every_preset_source_cites_an_entry_or_is_an_assumption(name: str) -> None:
    fields = _preset_sources(load_policy(name), name)
    assert len(fields) > 5
    bad = []
    for where, source in fields:
        if where.endswith("]") and ".sources[" in where and source.startswith("http"):
            continue  # a preset may list the pages it was built from next to its entries
        bad += check_source(where, source)
    assert not bad, "\n".join(bad)
    assert any(CITE.search(s) for w, s in fields if ".sources[" in w), "meta cites no entry"


# --- nothing outside the repository -----------------------------------------------------------


def _repo_text_files() -> list[Path]:
    try:
        names = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                               check=True).stdout.splitlines()
        files = [REPO / n for n in names]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "__pycache__", ".pytest_cache", "build", "dist"}
        files = [p for p in REPO.rglob("*") if not skip & set(p.relative_to(REPO).parts)]
    out = []
    for p in files:
        if p.is_file():
            try:
                p.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            out.append(p)
    return out


def test_nothing_names_a_file_outside_the_repository() -> None:
    files = _repo_text_files()
    assert len(files) > 50
    bad = []
    for path in files:
        rel = path.relative_to(REPO).as_posix()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if OUTSIDE.search(line) or (TMP_PATH.search(line) and not rel.startswith("tests/")):
                bad.append(f"{rel}:{n}: {line.strip()[:120]}")
    assert not bad, "\n".join(bad)


def test_the_outside_patterns_catch_what_they_should() -> None:
    brief = "facts" ".md"
    # written in pieces so that this file does not match its own patterns
    for line in (f"see {brief} §4.3", "read /wo" "rk/shared/x", "at /ho" "me/me/x",
                 'p = "/ro' 'ot/a"'):
        assert OUTSIDE.search(line), line
    for line in ("https://example.org/home/page", "a/work/b", "sources#gap-tax"):
        assert not OUTSIDE.search(line), line
    assert TMP_PATH.search("write to /tmp/charts") and not TMP_PATH.search("x/tmp/y")


# --- the manifest of a run --------------------------------------------------------------------


@pytest.mark.slow
def test_the_manifest_of_a_run_resolves_and_is_covered(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from creditsim.cli import app
    from creditsim.rundir import read_manifest

    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["run", "--residents", "2000", "--days", "30", "--burn-in-days",
                                   "0", "--seed", "1",
                                   "--quiet", "--out", str(out)])
    assert res.exit_code == 0, res.output
    params = read_manifest(out)["parameters"]
    assert len(params) > 100
    bad = [p for k, v in sorted(params.items()) for p in check_source(k, v["source"])]
    assert not bad, "\n".join(bad)
    # the module walk above sees every parameter a run records (so it checks them all)
    missing = sorted({v["source"] for v in params.values()} - set(cited_sources().values()))
    assert not missing, missing
