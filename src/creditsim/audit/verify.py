"""Checking a run directory before reading it: the manifest's shape, containment,
and every file against the manifest (size, sha256, Parquet rows and column types).

:func:`check_manifest` lists every problem of a manifest's structure at once (a
``config`` field of the wrong type, a table entry without a checksum, …).
:func:`verify_files` resolves each file the manifest names inside the run
directory (a path that leaves it, also through a symbolic link, is refused), then
compares sizes, and with ``hashes`` the sha256 of every file, and the row count and
column types in each Parquet footer, with the manifest.

Hashing a city-scale run takes seconds, so digests are cached outside the run
directory, in ``$CREDITSIM_CACHE_DIR`` (default ``$XDG_CACHE_HOME/creditsim``, else
``~/.cache/creditsim``), file ``verified/<sha256 of the run's resolved path>.json``:
per file, the sha256 computed from its bytes, keyed by size, mtime_ns, ctime_ns,
inode and device. A file whose stat differs is hashed again; the comparison with
the manifest is made on every open, so an edited manifest is still caught. A
cache that cannot be written is skipped; past :data:`CACHE_ENTRIES` files, those of
runs that no longer exist are removed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from creditsim import fsops
from creditsim.errors import Problem, RunDirError
from creditsim.rundir import sha256_file

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
#: config fields readers use, with the types they must have (None: may be null).
_CONFIG_TYPES: dict[str, tuple[type, ...]] = {
    "city": (str,), "residents": (int,), "days": (int,), "seed": (int, type(None)),
    "start_date": (str, type(None)), "policy": (str, type(None)),
}


_INT = re.compile(r"^U?Int(8|16|32|64)$")
#: The kind of value each column the readers use holds, by column name, whatever
#: the table (the run directory's format: DESIGN.md §5). A table whose column has
#: another type is refused, even if its manifest agrees.
COLUMN_KINDS: dict[str, str] = {
    **dict.fromkeys((
        "resident_id", "household_id", "father_id", "mother_id", "via_resident_id",
        "truth_resident_id", "event_id", "record_id", "ref_event_id", "truth_event_id",
        "spell_record_id", "day", "day_event", "day_recorded", "start_day", "end_day",
        "expires_day", "filed_day", "decided_day", "spell_start_day", "points", "score",
        "income_decile", "truth_faults", "allowed", "demands", "denied", "discounted",
        "expedited", "n_candidates"), "integer"),
    **dict.fromkeys(("wrongful", "drives_car", "boost"), "Boolean"),
    **dict.fromkeys(("birth_date", "month"), "Date"),
    **dict.fromkeys(("amount", "income", "rate", "match_probability", "posterior",
                     "truth_civic", "truth_propensity", "years_in_city"), "number"),
    **dict.fromkeys(("list", "kind", "department", "district", "hukou", "sex", "education",
                     "relation", "service", "decision", "tier", "cause", "cause_type",
                     "wrongful_cause", "exit_reason", "method", "outcome", "rule_id",
                     "consequence", "name", "id_number"), "text"),
}


def _fits(dtype: str, kind: str) -> bool:
    if dtype == "Null":  # a column with no values
        return True
    if kind == "integer":
        return bool(_INT.match(dtype))
    if kind == "number":
        return bool(_INT.match(dtype)) or dtype in ("Float32", "Float64")
    if kind == "text":
        return dtype == "String" or dtype.startswith(("Enum(", "Categorical"))
    return dtype == kind


def _kind(v: Any) -> str:
    return {bool: "a Boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "an object", type(None): "null"}.get(type(v), type(v).__name__)


def _want(types: tuple[type, ...]) -> str:
    return " or ".join(_kind(t()) if t is not type(None) else "null" for t in types)


def _typed(v: Any, types: tuple[type, ...]) -> bool:
    return isinstance(v, types) and not (isinstance(v, bool) and bool not in types)


def check_manifest(m: Any, where: str) -> list[Problem]:
    """Every structural problem of manifest ``m`` (empty: readers may use it)."""
    if not isinstance(m, dict):
        return [Problem(f"not a JSON object but {_kind(m)}", where)]
    out = []
    cfg = m.get("config", {})
    if not isinstance(cfg, dict):
        out.append(Problem(f"config is {_kind(cfg)}, expected an object", where))
        cfg = {}
    for key, types in _CONFIG_TYPES.items():
        if key in cfg and not _typed(cfg[key], types):
            out.append(Problem(f"config.{key} is {_kind(cfg[key])} ({cfg[key]!r:.40}), "
                               f"expected {_want(types)}", where))
    if _typed(cfg.get("days"), (int,)) and cfg["days"] < 0:
        out.append(Problem(f"config.days is {cfg['days']}, expected at least 0", where))
    if isinstance(cfg.get("start_date"), str):
        try:
            dt.date.fromisoformat(cfg["start_date"])
        except ValueError:
            out.append(Problem(f"config.start_date {cfg['start_date']!r:.40} is not a date "
                               "(YYYY-MM-DD)", where))
    if "seed" in m and not _typed(m["seed"], (int, type(None))):
        out.append(Problem(f"seed is {_kind(m['seed'])}, expected an integer", where))
    for key in ("parameters", "files"):
        if key in m and not isinstance(m[key], dict):
            out.append(Problem(f"{key} is {_kind(m[key])}, expected an object", where))
    tables = m.get("tables")
    if not isinstance(tables, dict):
        out.append(Problem(f"tables is {_kind(tables)}, expected an object", where))
        tables = {}
    for rel, meta in tables.items():
        out += _check_entry(f"tables.{rel}", meta, where, table=True)
    files = m.get("files") if isinstance(m.get("files"), dict) else {}
    for rel, meta in files.items():
        out += _check_entry(f"files.{rel}", meta, where, table=False)
    return out


def _check_entry(key: str, meta: Any, where: str, table: bool) -> list[Problem]:
    if not isinstance(meta, dict):
        return [Problem(f"{key} is {_kind(meta)}, expected an object", where)]
    out = []
    if not isinstance(meta.get("sha256"), str) or not _HEX64.match(meta["sha256"]):
        out.append(Problem(f"{key}.sha256 is not a sha256 (64 hexadecimal digits)", where))
    for k in ("bytes", "rows") if table else ("bytes",):
        if (k in meta or k == "rows") and not (_typed(meta.get(k), (int,)) and meta[k] >= 0):
            out.append(Problem(f"{key}.{k} is {meta.get(k)!r:.40}, expected a count", where))
    if table:
        cols = meta.get("columns")
        if not isinstance(cols, dict) or not all(isinstance(v, str) for v in cols.values()):
            out.append(Problem(f"{key}.columns is not an object of column types", where))
    return out


def resolve_files(root: Path, manifest: dict[str, Any]) -> tuple[dict[str, Path], list[str]]:
    """(relative name → resolved path inside ``root``, missing names) of every file
    the manifest lists; :class:`RunDirError` for a name that leads outside."""
    names = list(manifest.get("tables") or {}) + list(manifest.get("files") or {})
    found, missing, bad = {}, [], []
    for rel in names:
        try:
            found[rel] = fsops.contained(root, rel)
        except FileNotFoundError:
            missing.append(rel)
        except ValueError as e:
            bad.append(Problem(f"{rel!r}: {e}; refused", str(root)))
    if bad:
        raise RunDirError(bad)
    for rel, p in found.items():
        if not p.is_file():
            bad.append(Problem(f"{rel}: not a regular file", str(root)))
    if bad:
        raise RunDirError(bad)
    return found, missing


def verify_files(root: Path, manifest: dict[str, Any], files: dict[str, Path],
                 hashes: bool = True) -> None:
    """Raise :class:`RunDirError`, one line per file, where a file differs from the
    manifest: size, sha256 (with ``hashes``), Parquet rows and column types."""
    entries = {**(manifest.get("files") or {}), **(manifest.get("tables") or {})}
    problems: list[Problem] = []
    sizes = {rel: p.stat().st_size for rel, p in files.items()}
    for rel, meta in entries.items():
        if "bytes" in meta and sizes[rel] != meta["bytes"]:
            problems.append(Problem(f"{sizes[rel]:,} bytes, the manifest says "
                                    f"{meta['bytes']:,}", str(root / rel)))
    if hashes and not problems:
        for rel, digest in _digests(root, files).items():
            if digest != entries[rel]["sha256"]:
                problems.append(Problem(
                    f"sha256 {digest[:12]}…, the manifest says {entries[rel]['sha256'][:12]}…"
                    " (changed since the run was written, or from another run; --no-verify"
                    " reads it anyway)",
                    str(root / rel)))
    if not problems:
        for rel, meta in (manifest.get("tables") or {}).items():
            problems += _check_parquet(root / rel, files[rel], meta)
    if problems:
        raise RunDirError(problems)


def _check_parquet(shown: Path, path: Path, meta: dict[str, Any]) -> list[Problem]:

    try:
        rows = pq.read_metadata(path).num_rows
        schema = {c: str(t) for c, t in pl.read_parquet_schema(path).items()}
    except Exception as e:  # noqa: BLE001 - any reader error means a damaged file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        return [Problem(f"not a readable Parquet file ({first[:120]})", str(shown))]
    out = []
    if rows != meta["rows"]:
        out.append(Problem(f"{rows:,} rows, the manifest says {meta['rows']:,}", str(shown)))
    want = meta["columns"]
    for c in want:
        if c not in schema:
            out.append(Problem(f"no column {c!r} (the manifest lists it)", str(shown)))
        elif schema[c] != want[c]:
            out.append(Problem(f"column {c!r} is {schema[c][:60]}, the manifest says "
                               f"{want[c][:60]}", str(shown)))
    for c, dtype in schema.items():
        kind = COLUMN_KINDS.get(c)
        if kind is not None and not _fits(dtype, kind):
            what = {"integer": "an integer type", "number": "a numeric type",
                    "text": "String or Enum"}.get(kind, kind)
            out.append(Problem(f"column {c!r} is {dtype[:60]}, expected {what}", str(shown)))
    extra = [c for c in schema if c not in want]
    if extra:
        out.append(Problem(f"columns {', '.join(map(repr, extra))} are not in the manifest",
                           str(shown)))
    return out


def cache_dir() -> Path:
    if os.environ.get("CREDITSIM_CACHE_DIR"):
        return Path(os.environ["CREDITSIM_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "creditsim"


def _stat_key(p: Path) -> list[int]:
    st = p.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def _digests(root: Path, files: dict[str, Path]) -> dict[str, str]:
    """sha256 of every file, from the cache where its stat is unchanged."""
    root = root.resolve()
    cache_file = cache_dir() / "verified" / (
        hashlib.sha256(os.fsencode(root)).hexdigest()[:32] + ".json")
    try:
        cached = json.loads(cache_file.read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        cached = {}
    keys = {rel: _stat_key(p) for rel, p in files.items()}
    out = {rel: c["sha256"] for rel, c in cached.items() if rel in keys
           and isinstance(c, dict) and c.get("stat") == keys[rel]}
    todo = [rel for rel in files if rel not in out]
    if todo:

        with ThreadPoolExecutor(max_workers=2) as pool:  # hashlib releases the GIL
            out.update(zip(todo, pool.map(lambda rel: sha256_file(files[rel]), todo)))
        doc = {"run": str(root), "files": {rel: {"stat": keys[rel], "sha256": out[rel]}
                                           for rel in files}}
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            fsops.write_atomic(cache_file, lambda f: f.write(json.dumps(doc).encode()))
            _prune(cache_file.parent)
        except OSError:
            pass
    return out


#: Entries kept in the cache before those of runs that no longer exist are dropped.
CACHE_ENTRIES = 256


def _prune(folder: Path) -> None:
    entries = list(folder.glob("*.json"))
    if len(entries) <= CACHE_ENTRIES:
        return
    for e in entries:
        try:
            if not Path(json.loads(e.read_text(encoding="utf-8"))["run"]).is_dir():
                e.unlink()
        except (OSError, ValueError, KeyError, TypeError):
            e.unlink(missing_ok=True)
