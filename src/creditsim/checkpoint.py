"""Checkpoints of a run's completed stages, so that a killed or failed run resumes.

With checkpointing on, after each stage but the last the run keeps, in its temp
directory (``.NAME.partial-PID/_work/checkpoint/``, removed on publish):

* the stage's tables that a later stage reads or that the run publishes, as
  uncompressed Parquet (:meth:`RunWriter.write_scratch`'s format);
* named schemas and files of the run directory that later stages use (the
  records stage's spilled columns, linkage's charts), by sha256;
* the stage's JSON documents and its timing entry;

and then rewrites ``state.json``: the format, the :class:`RunKey` (configuration,
policy text, package versions) and, per completed stage, every file's sha256.
``state.json`` is replaced atomically after the stage's files are complete, so a
kill at any moment leaves the checkpoint of the last stage that finished.

A resume claims the partial directory of a dead run for the same output (no live
process has the PID in its name) whose key equals this run's, verifies each
stage's files in order, and restarts after the last stage whose files and those
of every stage before it are intact: a corrupt checkpoint is recomputed, never
read. Everything else left in the directory is removed first, so nothing the
dead run was writing can reach the published run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from creditsim.errors import RunDirError
from creditsim.rundir import CHECKPOINT_STATE, sha256_file

FORMAT = 1
#: The checkpoint's place inside the run's temp directory.
HOME = Path("_work") / "checkpoint"
STATE = "state.json"
assert HOME / STATE == CHECKPOINT_STATE  # the run directory's cleanup keeps these
#: The process id in a temp directory's name: ``.NAME.partial-PID[-RANDOM]`` or
#: ``.NAME.resuming-PID``.
_TEMP_PID = re.compile(r"\.(?:partial|resuming)-(?P<pid>\d+)(?:-[0-9a-f]+)?$")


@dataclass(frozen=True)
class RunKey:
    """What a checkpoint must share with a run to be used by it."""

    config: dict[str, Any]
    policy_sha256: str
    packages: dict[str, str]

    @classmethod
    def of(cls, config: dict[str, Any], policy_text: str | bytes, packages: dict[str, str]
           ) -> RunKey:
        raw = policy_text.encode("utf-8") if isinstance(policy_text, str) else policy_text
        return cls(config=config, policy_sha256=hashlib.sha256(raw).hexdigest(),
                   packages=packages)

    def as_json(self) -> dict[str, Any]:
        return {"config": self.config, "policy_sha256": self.policy_sha256,
                "packages": self.packages}

    def differences(self, other: Mapping[str, Any]) -> list[str]:
        """What differs between this key and ``other`` (a key's JSON), one phrase each."""
        out = [f"{k} {other.get('config', {}).get(k)!r} (this run: {v!r})"
               for k, v in self.config.items() if other.get("config", {}).get(k) != v]
        if other.get("policy_sha256") != self.policy_sha256:
            out.append("the policy's text")
        out += [f"{k} {other.get('packages', {}).get(k)} (this run: {v})"
                for k, v in self.packages.items() if other.get("packages", {}).get(k) != v]
        return out


@dataclass(frozen=True)
class Options:
    """Checkpointing of a run: ``resume`` to continue a dead run's checkpoint;
    ``note`` receives one line per thing worth telling the user."""

    resume: bool = False
    note: Callable[[str], None] = lambda _line: None


@dataclass
class Completed:
    """What a checkpoint keeps of one completed stage."""

    stage: str
    tables: Mapping[str, pl.DataFrame]
    #: named schemas (e.g. of a table kept in pieces) later stages need
    schemas: Mapping[str, Mapping[str, pl.DataType]] = field(default_factory=dict)
    #: named files inside the run directory later stages read
    files: Mapping[str, Path] = field(default_factory=dict)
    documents: Mapping[str, Any] = field(default_factory=dict)
    timing: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Restored:
    """The verified checkpoint of a run's first stages."""

    run_dir: Path
    stages: list[str] = field(default_factory=list)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    schemas: dict[str, dict[str, pl.DataType]] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    documents: list[tuple[str, str, Any]] = field(default_factory=list)
    timings: list[dict[str, Any]] = field(default_factory=list)

    def load(self, name: str) -> pl.DataFrame:
        entry = self.tables[name]
        df = pl.read_parquet(self.run_dir / entry["file"])
        return _cast_back(df, entry["schema"])


def _cast_back(df: pl.DataFrame, schema: Mapping[str, str]) -> pl.DataFrame:
    if {c: str(t) for c, t in df.schema.items()} != dict(schema):
        raise RunDirError("checkpoint table's schema changed after it was verified")
    return df


class Checkpointer:
    """Writes the checkpoint of each completed stage into ``run_dir``."""

    def __init__(self, run_dir: Path, key: RunKey, restored: Restored | None = None):
        self.run_dir = Path(run_dir)
        self.home = self.run_dir / HOME
        self.key = key
        self.restored = restored or Restored(self.run_dir)
        self._state = _read_state(self.home) if restored and restored.stages else None
        if self._state is None:
            self._state = {"format": FORMAT, "key": key.as_json(), "stages": []}
        self._state["stages"] = self._state["stages"][: len(self.restored.stages)]
        self.home.mkdir(parents=True, exist_ok=True)
        self._write_state()

    @classmethod
    def start(cls, out: Path, run_dir: Path, key: RunKey, claimed: Path | None,
              plan: tuple[list[str], Options]) -> Checkpointer:
        """The checkpointer of a run of ``out`` in ``run_dir``; with a ``claimed``
        dead run (:func:`claim`), its directory becomes ``run_dir`` and the stages
        of ``plan`` (names, options) its checkpoint verifies are restored."""
        names, options = plan
        restored = None
        if claimed is not None:
            adopt(claimed, run_dir)
            restored = restore(run_dir, key, names, options.note)
            options.note(f"resuming {out} after stage {restored.stages[-1]}"
                         if restored.stages else f"resuming {out} from its first stage")
        elif options.resume:
            options.note(f"no interrupted run of {out} to resume; starting from the first stage")
        return cls(run_dir, key, restored)

    def save(self, done: Completed) -> None:
        """Write ``done``'s tables and schemas, record its files, then the state."""
        base = self.home / done.stage
        shutil.rmtree(base, ignore_errors=True)
        entry: dict[str, Any] = {"stage": done.stage, "tables": {}, "schemas": {}, "files": {},
                                 "documents": dict(done.documents), "timing": dict(done.timing)}
        for name, df in done.tables.items():
            entry["tables"][name] = self._write(base / "tables" / f"{name}.parquet", df)
        for name, schema in done.schemas.items():
            empty = pl.DataFrame(schema=dict(schema))
            entry["schemas"][name] = self._write(base / "schemas" / f"{name}.parquet", empty)
        recorded = {f["file"] for st in self._state["stages"] for f in st["files"].values()}
        named = {**done.files, **{f"run/{p}": self.run_dir / p
                                  for p in _documents_on_disk(self.run_dir) - recorded}}
        for name, path in named.items():
            rel = Path(path).relative_to(self.run_dir).as_posix()
            entry["files"][name] = {"file": rel, "sha256": sha256_file(path)}
        self._state["stages"].append(entry)
        self._write_state()

    def _write(self, path: Path, df: pl.DataFrame) -> dict[str, Any]:
        path.parent.mkdir(parents=True, exist_ok=True)
        df.write_parquet(path, compression="uncompressed", statistics=False)
        return {"file": path.relative_to(self.run_dir).as_posix(), "sha256": sha256_file(path),
                "rows": df.height, "schema": {c: str(t) for c, t in df.schema.items()}}

    def _write_state(self) -> None:
        tmp = self.home / f"{STATE}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self._state, f, indent=1, default=str)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.home / STATE)


def _documents_on_disk(run_dir: Path) -> set[str]:
    """Files a stage wrote into the run directory itself, besides the published
    tables (which a resume writes again from the checkpointed tables)."""
    return {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*")
            if p.is_file() and p.suffix != ".parquet"
            and p.relative_to(run_dir).parts[0] != "_work"}


def _read_state(home: Path) -> dict[str, Any] | None:
    try:
        state = json.loads((home / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and state.get("format") == FORMAT else None


def _pid_alive(pid: int) -> bool:
    """Whether another process has this PID (this process's own stale directory
    is not alive: a run here would have the same temp directory)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dead_partials(out: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Temp directories of dead runs for ``out`` that hold a readable checkpoint
    state, with that state."""
    out = Path(out)
    found = []
    # ".resuming-PID": claimed by a resume that died before it made it its own
    for p in sorted([*out.resolve().parent.glob(f".{out.name}.partial-*"),
                     *out.resolve().parent.glob(f".{out.name}.resuming-*")]):
        m = _TEMP_PID.search(p.name)
        if m is None or _pid_alive(int(m["pid"])):
            continue
        state = _read_state(p / HOME)
        if state is not None:
            found.append((p, state))
    return found


def claim(out: Path, key: RunKey) -> Path | None:
    """Move the partial directory of the dead run of ``out`` with ``key`` (the one
    with most completed stages) aside for this process, and return it; None when
    there is none. Raises :class:`RunDirError` if dead runs with checkpoints exist
    but none has this run's key, naming what differs; nothing is written then."""
    found = dead_partials(out)
    same = [(p, s) for p, s in found if s.get("key") == key.as_json()]
    if not same:
        if found:
            p, s = found[-1]
            raise RunDirError(
                f"{p}: the interrupted run there has a different configuration "
                f"({'; '.join(key.differences(s.get('key', {}))) or 'its key'}); "
                "resume it with its own options, or run without --resume")
        return None
    src = max(same, key=lambda ps: len(ps[1].get("stages", [])))[0]
    dst = src.parent / f".{Path(out).name}.resuming-{os.getpid()}"
    try:
        os.rename(src, dst)
    except OSError:  # another resume took it first
        return None
    return dst


def adopt(claimed: Path, run_dir: Path) -> None:
    """Make the claimed directory the run's (empty, freshly made) temp directory."""
    run_dir.rmdir()
    os.rename(claimed, run_dir)


def restore(run_dir: Path, key: RunKey, plan: list[str], note: Callable[[str], None]
            ) -> Restored:
    """The checkpoint in ``run_dir``, verified: the longest prefix of ``plan`` whose
    stages' files all have their recorded sha256. Removes every other file of the
    directory (stale output of the dead run, later or corrupt checkpoints)."""
    out = Restored(Path(run_dir))
    state = _read_state(out.run_dir / HOME)
    keep: set[str] = {(HOME / STATE).as_posix()}
    if state is not None and state.get("key") == key.as_json():
        for want, entry in zip(plan, state.get("stages", []), strict=False):
            bad = _verify(out.run_dir, entry) if entry.get("stage") == want else \
                f"stage {entry.get('stage')!r} is not the plan's {want!r}"
            if bad:
                note(f"checkpoint of stage {want} not used ({bad}); it runs again")
                break
            _add(out, entry)
            keep |= {f["file"] for kind in ("tables", "schemas", "files")
                     for f in entry[kind].values()}
    for p in sorted(out.run_dir.rglob("*"), reverse=True):
        rel = p.relative_to(out.run_dir).as_posix()
        if p.is_file() and rel not in keep:
            p.unlink()
        elif p.is_dir() and not any(p.iterdir()):
            p.rmdir()
    (out.run_dir / HOME).mkdir(parents=True, exist_ok=True)
    return out


def _verify(run_dir: Path, entry: Mapping[str, Any]) -> str:
    """Why ``entry``'s files cannot be used ('' if they can)."""
    try:
        for kind in ("tables", "schemas", "files"):
            for name, f in entry[kind].items():
                path = run_dir / f["file"]
                if not path.is_file():
                    return f"{name}: {f['file']} is missing"
                if sha256_file(path) != f["sha256"]:
                    return f"{name}: {f['file']} does not match its sha256"
    except (KeyError, TypeError, AttributeError):
        return "its entry in state.json is malformed"
    return ""


def _add(out: Restored, entry: Mapping[str, Any]) -> None:
    stage = entry["stage"]
    out.stages.append(stage)
    out.tables.update(entry["tables"])
    for name, f in entry["schemas"].items():
        out.schemas[name] = dict(pl.read_parquet(out.run_dir / f["file"]).schema)
    out.files.update({name: out.run_dir / f["file"] for name, f in entry["files"].items()})
    out.documents += [(stage, name, doc) for name, doc in entry["documents"].items()]
    out.timings.append({**entry["timing"], "from_checkpoint": True})


def kept(out: Path) -> Path | None:
    """This process's temp directory for ``out`` if it holds a checkpoint (after a
    failed or interrupted run with checkpointing on)."""
    parent, name = Path(out).resolve().parent, Path(out).name
    for p in sorted(parent.glob(f".{name}.partial-{os.getpid()}*")):
        m = _TEMP_PID.search(p.name)
        if m is not None and int(m["pid"]) == os.getpid() and (p / HOME / STATE).is_file():
            return p
    return None
