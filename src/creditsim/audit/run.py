"""Opening a finished run directory for reading: the manifest, the tables, what is missing.

:class:`RunData` checks once that ``DIR`` is a complete, published run (not the
temporary directory of an unfinished one; a manifest of the right shape with
``"status": "complete"``; every file it lists present inside the directory, with
the size, sha256, Parquet row count and column types the manifest records: see
:mod:`creditsim.audit.verify`) and then gives lazy, typed Polars access to each
table by name (``"residents"``, ``"links"``, ``"records/court"``, ``"decisions"``,
…). Only files inside the run directory are read. Tables written by later stages
(``decisions``, ``demand``, ``appeals``) may be absent in runs made before those
stages existed; :meth:`RunData.has` says which, and the audit reports them as
missing instead of failing.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from creditsim import fsops
from creditsim.audit.verify import check_manifest, resolve_files, verify_files
from creditsim.cities import city_from_text
from creditsim.errors import CreditsimError, Problem, RunDirError
from creditsim.policy import load_policy, preset_names, preset_text
from creditsim.rundir import unpublished

#: Tables the audit knows, in pipeline order (records are ``records/<department>``).
KNOWN_TABLES: tuple[str, ...] = (
    "residents", "events", "links", "ledger", "scores", "list_spells",
    "decisions", "demand", "appeals",
)


class AuditError(CreditsimError):
    """Bad input to the audit, explain, compare or report commands."""


class RunData:
    """A complete run directory, read lazily.

    Args:
        path: the run directory (made by ``creditsim run``).
        verify: check the sha256 of every file against the manifest (cached: see
            :mod:`creditsim.audit.verify`). Sizes, Parquet row counts and column
            types are checked either way.

    Raises:
        RunDirError: not a directory, a temporary directory of an unfinished run, no
            manifest, a malformed manifest, not complete, a file the manifest lists
            missing, outside the directory or different from the manifest.
    """

    def __init__(self, path: str | Path, verify: bool = True):

        self.path = Path(path)
        self.root = _root(self.path)
        if unpublished(self.root):
            raise RunDirError(f"{self.path}: the temporary directory of an unfinished or "
                              "interrupted run, not a published run")
        manifest = _read_manifest(self.path, self.root)
        problems = check_manifest(manifest, str(self.path / "manifest.json"))
        if problems:
            raise RunDirError(problems)
        status = manifest.get("status")
        if status != "complete":
            raise RunDirError(f"{self.path}: the run is not complete (manifest status "
                              f"{status!r})")
        self.manifest: dict[str, Any] = manifest
        tables = manifest.get("tables") or {}
        found, missing = resolve_files(self.root, manifest)
        if "residents.parquet" not in tables:
            missing.insert(0, "residents.parquet")
        if missing:
            raise RunDirError(f"{self.path}: incomplete run, missing {', '.join(sorted(missing))}")
        verify_files(self.path, manifest, found, hashes=verify)
        self._found = found
        self._files: dict[str, Path] = {rel.removesuffix(".parquet"): found[rel]
                                        for rel in tables if rel.endswith(".parquet")}
        self._cache: dict[str, pl.DataFrame] = {}

    # --- what the run is -------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The resolved run configuration from the manifest."""
        return dict(self.manifest.get("config") or {})

    @property
    def seed(self) -> int | None:
        return self.manifest.get("seed", self.config.get("seed"))

    @property
    def days(self) -> int:
        return int(self.config.get("days") or 0)

    @property
    def burn_in_days(self) -> int:
        """Days simulated before day 0 (their rows have negative days)."""
        return int(self.config.get("burn_in_days") or 0)

    def windowed(self, name: str, day: str = "day") -> pl.DataFrame:
        """The rows of table ``name`` whose ``day`` lies in the results window
        ``[0, days)``: the burn-in's rows (negative days) are left out."""
        return self.table(name).filter((pl.col(day) >= 0) & (pl.col(day) < self.days))

    @property
    def start_date(self) -> dt.date:
        s = self.config.get("start_date")
        return dt.date.fromisoformat(s) if s else dt.date(2021, 1, 1)

    @cached_property
    def policy_name(self) -> str:
        """The policy preset name or file the run used: its ``policy`` option, else its
        city's default policy (named in the run's own ``city.toml``)."""
        if self.config.get("policy"):
            return str(self.config["policy"])
        try:
            city = city_from_text(fsops.contained(self.root, "city.toml").read_bytes())
            return city.default_policy
        except (CreditsimError, OSError, ValueError):  # a run without its city file
            return str(self.config.get("city") or "")

    def sha256(self, name: str) -> str | None:
        """The manifest's checksum of a table (``"residents"``), if recorded."""
        meta = (self.manifest.get("tables") or {}).get(f"{name}.parquet") or {}
        return meta.get("sha256")

    # --- tables -------------------------------------------------------------------------

    @property
    def tables(self) -> list[str]:
        """Names of the tables in this run (``records/<department>`` included)."""
        return sorted(self._files)

    @property
    def departments(self) -> list[str]:
        return [n.removeprefix("records/") for n in self.tables if n.startswith("records/")]

    def has(self, name: str) -> bool:
        return name in self._files

    def missing(self, *names: str) -> list[str]:
        """Which of ``names`` this run does not have."""
        return [n for n in names if not self.has(n)]

    def scan(self, name: str) -> pl.LazyFrame:
        """A lazy scan of one table (predicates are pushed into the Parquet reader)."""
        if name not in self._files:
            raise AuditError(f"{self.path}: this run has no {name} table")
        return pl.scan_parquet(self._files[name])

    def table(self, name: str) -> pl.DataFrame:
        """One table, read once and kept."""
        if name not in self._cache:
            self._cache[name] = self.scan(name).collect()
        return self._cache[name]

    def columns(self, name: str) -> list[str]:
        return list(self.scan(name).collect_schema().names())

    def records_truth(self) -> pl.DataFrame:
        """(record_id, department, kind, day_event, day_recorded, truth_resident_id,
        truth_faults) of every department's records — the auditor's view."""
        if "records_truth" not in self._cache:
            cols = ["record_id", "department", "kind", "day_event", "day_recorded",
                    "truth_resident_id", "truth_faults"]
            parts = []
            for d in self.departments:
                lf = self.scan(f"records/{d}")
                have = set(lf.collect_schema().names())
                parts.append(lf.select([pl.col(c) if c in have else pl.lit(None).alias(c)
                                        for c in cols]))
            self._cache["records_truth"] = (pl.concat(parts).collect() if parts else
                                            pl.DataFrame(schema={c: pl.Int64 for c in cols}))
        return self._cache["records_truth"]

    @cached_property
    def n_residents(self) -> int:
        meta = (self.manifest.get("tables") or {}).get("residents.parquet") or {}
        if "rows" in meta:
            return int(meta["rows"])
        return int(self.scan("residents").select(pl.len()).collect().item())

    def _policy_file(self) -> Path | None:
        """The run's own ``policy.toml``, if it has one (inside the run directory)."""

        if "policy.toml" in self._found:
            return self._found["policy.toml"]
        try:
            return fsops.contained(self.root, "policy.toml")
        except (OSError, ValueError):
            return None

    @cached_property
    def policy(self) -> Any:
        """The run's policy (:class:`creditsim.policy.Policy`): its own ``policy.toml``,
        else the preset it names; None if neither exists (a run whose policy was a file
        kept outside the run: only files inside the run directory are read).

        Raises AuditError if the run's ``policy.toml`` does not load."""

        local = self._policy_file()
        if local is not None:
            try:
                return load_policy(local)
            except CreditsimError as e:
                raise AuditError([Problem(f"the run's policy does not load: {p.message}",
                                          p.location or str(self.path / "policy.toml"))
                                  for p in e.problems]) from None
        return load_policy(self.policy_name) if self.policy_name in preset_names() else None

    def policy_text(self) -> str | None:
        """The policy's TOML text (the run's ``policy.toml``, else a preset's), if
        available; never a file outside the run directory."""

        local = self._policy_file()
        if local is not None:
            try:
                return local.read_bytes().decode("utf-8")
            except UnicodeDecodeError as e:
                raise AuditError(f"{self.path / 'policy.toml'}: not UTF-8 text (bad byte at "
                                 f"offset {e.start}); the run directory is damaged") from None
        name = self.policy_name
        return preset_text(name) if name in preset_names() else None


def _root(path: Path) -> Path:
    if not path.exists():
        raise RunDirError(f"{path}: no such directory")
    if not path.is_dir():
        raise RunDirError(f"{path}: not a directory (expected a creditsim run)")
    try:
        return path.resolve(strict=True)
    except (RuntimeError, OSError):
        raise RunDirError(f"{path}: cannot be resolved (a symbolic link loop?)") from None


def _read_manifest(path: Path, root: Path) -> Any:

    mpath = path / "manifest.json"
    try:
        real = fsops.contained(root, "manifest.json")
    except FileNotFoundError:
        raise RunDirError(f"{path}: no manifest.json; not a creditsim run "
                          "(or the run did not finish)") from None
    except ValueError as e:
        raise RunDirError(f"{mpath}: {e}; refused") from None
    try:
        return json.loads(real.read_bytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise RunDirError(f"{mpath}: unreadable manifest ({e})") from None
    except OSError as e:
        raise RunDirError(f"{mpath}: cannot read ({e.strerror})") from None
