"""The run directory: atomic creation, Parquet writing, the manifest.

A run is written into a hidden sibling temp directory (``.NAME.partial-PID``)
and renamed into place only after ``manifest.json`` with ``"status": "complete"``
has been written, so an interrupted or failed run never leaves a directory that
looks complete. With ``overwrite``, the old run is replaced only after the new
one is complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from creditsim.errors import RunDirError

MANIFEST = "manifest.json"
#: Rows per row group of scratch tables.
SCRATCH_ROW_GROUP = 1 << 20


def check_out_dir(out: Path, overwrite: bool) -> None:
    """Raise :class:`RunDirError` if ``out`` can't receive a run; writes nothing."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunDirError(f"{out}: exists and is not a directory")
    if out.is_dir():
        if (out / MANIFEST).exists():
            if not overwrite:
                raise RunDirError(f"{out}: already holds a run (use --overwrite to replace it)")
        elif any(out.iterdir()):
            raise RunDirError(f"{out}: exists and is not empty (and holds no run)")
    parent = out.resolve().parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        raise RunDirError(f"{out}: cannot write in {probe}")


class RunWriter:
    """Writes tables into a temp directory and publishes it atomically."""

    def __init__(self, out: Path, overwrite: bool = False):
        self.out = Path(out)
        self.overwrite = overwrite
        check_out_dir(self.out, overwrite)
        self.tmp = self.out.resolve().parent / f".{self.out.name}.partial-{os.getpid()}"
        try:
            self.out.resolve().parent.mkdir(parents=True, exist_ok=True)
            if self.tmp.exists():
                shutil.rmtree(self.tmp)
            self.tmp.mkdir()
        except OSError as e:
            raise RunDirError(f"{self.out}: cannot create the run directory ({e.strerror})") \
                from None
        self.tables: dict[str, dict[str, Any]] = {}
        # Tables are written by two background threads while the next stage
        # computes (Parquet encoding releases the GIL); publish() waits for them.
        # Each file is written by one thread, so its bytes do not depend on this.
        self._io = ThreadPoolExecutor(max_workers=2, thread_name_prefix="creditsim-io")
        self._pending: list[Future[None]] = []

    @property
    def workdir(self) -> Path:
        """Scratch space inside the temp run directory (removed on publish)."""
        p = self.tmp / "_work"
        p.mkdir(exist_ok=True)
        return p

    def write_table(self, rel: str, df: pl.DataFrame) -> None:
        """Queue ``df`` to be written as Parquet at ``rel`` (in the background)."""
        path = self.tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)

        # Everything that touches Polars happens here, on the calling thread: the
        # background threads only run pyarrow. (Polars calls from two threads at once
        # can deadlock: to_arrow waits for a global lock while holding the GIL.)
        table, options = arrow_for_parquet(df)
        meta = {"rows": df.height, "columns": {c: str(t) for c, t in df.schema.items()}}

        def work() -> None:
            write_arrow_parquet(table, options, path)
            self.tables[rel] = {"rows": meta["rows"], "sha256": sha256_file(path),
                                "columns": meta["columns"]}

        self._pending.append(self._io.submit(work))

    def write_scratch(self, rel: str, df: pl.DataFrame) -> Path:
        """Write ``df`` as Parquet under the scratch directory (not part of the run;
        removed on publish) and return its path; :func:`read_scratch` reads it back
        with ``df``'s exact schema.

        Written here, on the calling thread, by Polars (uncompressed; Polars
        dictionary-encodes repeated strings and writes string views without first
        copying them into Arrow strings): at city scale this is about a third of the
        work of converting to Arrow and writing with pyarrow in the background, and
        reading back is about twice as fast."""
        path = self.workdir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        df.write_parquet(path, compression="uncompressed", statistics=False,
                         row_group_size=SCRATCH_ROW_GROUP)
        return path

    def flush(self) -> None:
        """Wait for every queued table; re-raise the first write error."""
        pending, self._pending = self._pending, []
        for f in pending:
            f.result()

    def write_json(self, rel: str, obj: Any) -> None:
        path = self.tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n",
                        encoding="utf-8")

    def publish(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Write the manifest last, then rename the temp directory into place.

        Returns the manifest as written."""
        self.flush()
        self._io.shutdown()
        shutil.rmtree(self.tmp / "_work", ignore_errors=True)
        tables = {k: self.tables[k] for k in sorted(self.tables)}
        manifest = {**manifest, "tables": tables, "status": "complete"}
        self.write_json(MANIFEST, manifest)
        old = None
        if self.out.exists():
            old = self.out.resolve().parent / f".{self.out.name}.old-{os.getpid()}"
            os.replace(self.out, old)
        os.replace(self.tmp, self.out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return manifest

    def abort(self, keep: bool = False) -> None:
        """Stop writing and remove the temp directory (``keep``: leave it, for a
        resume from its checkpoint)."""
        for f in self._pending:
            f.cancel()
        self._io.shutdown(wait=True)
        if not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def arrow_for_parquet(df: pl.DataFrame) -> tuple[Any, dict[str, Any]]:
    """``df`` as an Arrow table plus the fixed Parquet options for it.

    zstd level 1, row groups of 1 Mi rows; dictionary encoding only for
    categorical and low-cardinality string columns (dictionary attempts on
    millions of distinct names or ID numbers cost time and save nothing);
    min/max statistics only for numeric, date and Boolean columns (what DuckDB
    can prune row groups with).
    """
    dict_cols, stat_cols = [], []
    for name, dtype in df.schema.items():
        if isinstance(dtype, (pl.Enum, pl.Categorical)):
            dict_cols.append(name)
        elif dtype == pl.String:
            if df[name].head(100_000).n_unique() <= 4096:
                dict_cols.append(name)
        elif dtype.is_numeric() or dtype in (pl.Date, pl.Boolean):
            stat_cols.append(name)
    options = {"compression": "zstd", "compression_level": 1, "row_group_size": 1 << 20,
               "use_dictionary": dict_cols or False, "write_statistics": stat_cols or False}
    return df.to_arrow(), options


def write_arrow_parquet(table: Any, options: dict[str, Any], path: Path) -> None:
    """Write an Arrow table with :func:`arrow_for_parquet`'s options (pyarrow only)."""
    pq.write_table(table, path, **options)


def write_parquet(df: pl.DataFrame, path: Path) -> None:
    """Write ``df`` as Parquet with fixed, deterministic settings (see
    :func:`arrow_for_parquet`)."""
    table, options = arrow_for_parquet(df)
    write_arrow_parquet(table, options, path)


def read_scratch(path: Path, schema: dict[str, pl.DataType],
                 keep: Any = None) -> pl.DataFrame:
    """A table written by :meth:`RunWriter.write_scratch`, cast back to ``schema``;
    with ``keep`` (a boolean numpy mask over its rows) only those rows, read a few
    row groups at a time so the whole table is never in memory at once."""
    if keep is None:
        return _cast_changed(pl.read_parquet(path), schema)
    keep = np.asarray(keep, dtype=bool)
    n = pl.scan_parquet(path).select(pl.len()).collect().item()
    if n != len(keep):
        raise ValueError(f"{path}: {n} rows, mask of {len(keep)}")
    step = 4 * SCRATCH_ROW_GROUP
    pieces = []
    for off in range(0, n, step):
        m = keep[off: off + step]
        if not m.any():
            continue
        df = pl.scan_parquet(path).slice(off, len(m)).collect()
        pieces.append(df if m.all() else df.filter(pl.Series(m)))
    out = pl.concat(pieces, rechunk=False) if pieces else \
        pl.scan_parquet(path).head(0).collect()
    return _cast_changed(out, schema)


def _cast_changed(df: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """``df`` cast to ``schema``, touching only the columns whose type differs."""
    diff = {c: t for c, t in schema.items() if df.schema[c] != t}
    return df.cast(diff) if diff else df  # type: ignore[arg-type]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(run: Path) -> dict[str, Any]:
    p = Path(run) / MANIFEST
    if not p.exists():
        raise RunDirError(f"{run}: no {MANIFEST}; not a complete creditsim run")
    m = json.loads(p.read_text(encoding="utf-8"))
    if m.get("status") != "complete":
        raise RunDirError(f"{run}: run is not complete")
    return m
