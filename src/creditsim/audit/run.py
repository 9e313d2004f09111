"""Opening a finished run directory for reading: the manifest, the tables, what is missing.

:class:`RunData` checks once that ``DIR`` is a complete run (a manifest with
``"status": "complete"`` and every table it lists present on disk) and then gives
lazy, typed Polars access to each table by name (``"residents"``, ``"links"``,
``"records/court"``, ``"decisions"``, …). Tables written by later stages
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

from creditsim.errors import CreditsimError, RunDirError
from creditsim.policy import load_policy, preset_names, preset_text

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

    Raises:
        RunDirError: not a directory, no manifest, not complete, or a table the
            manifest lists is missing on disk.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise RunDirError(f"{self.path}: no such directory")
        if not self.path.is_dir():
            raise RunDirError(f"{self.path}: not a directory (expected a creditsim run)")
        mpath = self.path / "manifest.json"
        if not mpath.exists():
            raise RunDirError(f"{self.path}: no manifest.json; not a creditsim run "
                              "(or the run did not finish)")
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise RunDirError(f"{mpath}: unreadable manifest ({e})") from None
        status = manifest.get("status") if isinstance(manifest, dict) else None
        if status != "complete":
            raise RunDirError(f"{self.path}: the run is not complete (manifest status "
                              f"{status!r})")
        self.manifest: dict[str, Any] = manifest
        tables = manifest.get("tables") or {}
        missing = [rel for rel in tables if not (self.path / rel).is_file()]
        if "residents.parquet" not in tables:
            missing.insert(0, "residents.parquet")
        if missing:
            raise RunDirError(f"{self.path}: incomplete run, missing {', '.join(sorted(missing))}")
        self._files: dict[str, Path] = {rel.removesuffix(".parquet"): self.path / rel
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
    def start_date(self) -> dt.date:
        s = self.config.get("start_date")
        return dt.date.fromisoformat(s) if s else dt.date(2021, 1, 1)

    @property
    def policy_name(self) -> str:
        """The policy preset name or file the run used."""
        return str(self.config.get("policy") or self.config.get("preset") or "")

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

    @cached_property
    def policy(self) -> Any:
        """The run's policy (:class:`creditsim.policy.Policy`), or None if it cannot
        be loaded any more (a policy file that has moved)."""
        local = self.path / "policy.toml"
        try:
            return load_policy(local if local.is_file() else self.policy_name)
        except CreditsimError:
            return None

    def policy_text(self) -> str | None:
        """The policy's TOML text (a preset's or the file's), if available."""
        local = self.path / "policy.toml"
        if local.is_file():
            return local.read_text(encoding="utf-8")
        name = self.policy_name
        if name in preset_names():
            return preset_text(name)
        p = Path(name)
        return p.read_text(encoding="utf-8") if p.is_file() else None
