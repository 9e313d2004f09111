"""The run directory: destination checks, locking, Parquet writing, the manifest,
atomic publication.

A run is written into a hidden sibling directory ``.NAME.partial-PID-RANDOM`` made
exclusively (``mkdir``; the random part makes the name unpredictable), while an
exclusive lock on ``.NAME.lock`` beside it keeps a second run from writing to the
same destination. The manifest (``"status": "complete"``, with the size and sha256
of every file) is written last, and the directory is then put in place in one
step: renamed to ``NAME`` if nothing is there, or, with ``overwrite``, swapped
with the old run atomically (``renameat2(RENAME_EXCHANGE)``) and the old one
removed. Where the system cannot swap, the old run is first parked as
``.NAME.old-PID-RANDOM``; a run interrupted between the two renames leaves that
park behind, and the next run into ``NAME`` puts it back (see :func:`recover`).

Readers refuse directories with a ``.partial-``/``.old-`` name (not published) and
verify every file against the manifest (:mod:`creditsim.audit.verify`). Signals
during a run are handled with :mod:`creditsim.signals`: the renames and the clean-up
are never cut in half, and a run that received a signal is not published.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from creditsim import fsops, signals
from creditsim.errors import RunDirError

MANIFEST = "manifest.json"
#: Rows per row group of scratch tables.
SCRATCH_ROW_GROUP = 1 << 20
#: A temp directory holding this file is a checkpointed run kept for ``--resume``
#: (creditsim.checkpoint): the cleanup of dead runs' directories leaves it.
CHECKPOINT_STATE = Path("_work") / "checkpoint" / "state.json"

#: Names of a run's temporary (``partial``) and parked (``old``) directories: the
#: run's name, the PID of the process that made it, and a random part.
TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<pid>\d+)(?:-[0-9a-f]+)?$")

log = logging.getLogger("creditsim.rundir")


def destination(out: Path) -> Path:
    """The absolute path a run at ``out`` is published to, or :class:`RunDirError`.

    Refused: an empty path, ``.``, ``..`` or a path ending in them; a path through a
    symbolic link loop; a dangling symbolic link. A symbolic link to a directory
    stands for that directory (the run is published there; the link stays)."""
    out = Path(out)
    if str(out) in ("", ".") or out.name in ("", ".", ".."):
        raise RunDirError(f"{str(out)!r}: not a usable run directory; give it a name "
                          "(e.g. runs/my-run)")
    try:
        dest = out.parent.resolve() / out.name
        if dest.is_symlink():
            dest = dest.resolve(strict=True)
    except FileNotFoundError:
        raise RunDirError(f"{out}: a symbolic link to nothing ({os.readlink(dest)}); remove "
                          "it or point it at a directory") from None
    except (RuntimeError, OSError) as e:  # RuntimeError: a symlink loop (Python < 3.13)
        why = getattr(e, "strerror", None) or "a symbolic link loop"
        raise RunDirError(f"{out}: cannot be used as a run directory ({why})") from None
    return dest


def check_out_dir(out: Path, overwrite: bool) -> Path:
    """The destination of a run at ``out`` (:func:`destination`), or
    :class:`RunDirError` if it can't receive one (also: another run is writing to
    it); writes nothing."""
    dest = _check_dest(out, overwrite)
    _check_lock(out, dest.parent / f".{dest.name}.lock")
    return dest


def _check_dest(out: Path, overwrite: bool) -> Path:
    dest = destination(out)
    if dest.exists() and not dest.is_dir():
        raise RunDirError(f"{out}: exists and is not a directory")
    if dest.is_dir():
        if (dest / MANIFEST).exists():
            if not overwrite:
                raise RunDirError(f"{out}: already holds a run (use --overwrite to replace it)")
        elif any(dest.iterdir()):
            raise RunDirError(f"{out}: exists and is not empty (and holds no run)")
    why = fsops.unwritable_ancestor(dest)
    if why is not None:
        raise RunDirError(f"{out}: {why}")
    return dest


def recover(dest: Path) -> list[str]:
    """Tidy what interrupted runs left beside ``dest``; call with its lock held.

    A parked ``.NAME.old-PID-*`` of a process no longer running is put back at
    ``NAME`` if nothing is there (the run stopped between the two renames of
    ``--overwrite``), and removed otherwise; a ``.NAME.partial-PID-*`` of a process no
    longer running is removed. A directory whose process is still running is left
    alone. Returns one line per thing done (also logged, at level INFO, to the
    ``creditsim.rundir`` logger)."""
    done = []
    try:
        entries = sorted(dest.parent.iterdir())
    except OSError:
        return done
    for p in entries:
        m = TEMP_NAME.match(p.name)
        if not m or m["name"] != dest.name or not p.is_dir() or p.is_symlink():
            continue
        pid = int(m["pid"])
        if fsops.pid_alive(pid, made_before=p.lstat().st_ctime):
            continue
        if m["kind"] == "partial" and (p / CHECKPOINT_STATE).is_file():
            continue  # kept on purpose: ``run --resume`` continues it
        if m["kind"] == "old" and not os.path.lexists(dest):
            fsops.rename_noreplace(p, dest)
            done.append(f"restored {dest}: an --overwrite run (pid {pid}) stopped after "
                        f"setting it aside as {p.name}")
        else:
            shutil.rmtree(p)
            done.append(f"removed {p}, left by an interrupted run (pid {pid}, no longer "
                        "running)")
    for line in done:
        log.info(line)
    return done


def tidy(out: Path) -> list[str]:
    """:func:`recover` beside the destination of ``out`` under its lock (taken and
    released here); nothing if its parent does not exist yet. Raises
    :class:`RunDirError` if another run holds the lock."""
    dest = destination(out)
    if not dest.parent.is_dir():
        return []
    _check_lock(out, dest.parent / f".{dest.name}.lock")
    try:
        lock = _lock(out, dest.parent / f".{dest.name}.lock")
    except OSError:  # cannot write there: check_out_dir says so
        return []
    try:
        return recover(dest)
    finally:
        lock.release()


#: Writers that have made a temporary directory and not yet published or aborted
#: it (:func:`abort_unfinished` cleans up after an interruption that came before the
#: caller's own clean-up could run).
_UNFINISHED: list[RunWriter] = []


def abort_unfinished() -> None:
    """Abort every writer that has neither published nor aborted."""
    for w in list(_UNFINISHED):
        w.abort()


class RunWriter:
    """Writes tables into a temp directory and publishes it atomically."""

    def __init__(self, out: Path, overwrite: bool = False):
        self.out = Path(out)
        self.overwrite = overwrite
        self.dest = check_out_dir(self.out, overwrite)
        self.published = False
        self._signals = signals.count()
        self.tables: dict[str, dict[str, Any]] = {}
        # Tables are written by two background threads while the next stage
        # computes (Parquet encoding releases the GIL); publish() waits for them.
        # Each file is written by one thread, so its bytes do not depend on this.
        self._io = ThreadPoolExecutor(max_workers=2, thread_name_prefix="creditsim-io")
        self._pending: list[Future[None]] = []
        parent = self.dest.parent
        with signals.held():
            try:
                parent.mkdir(parents=True, exist_ok=True)
                self._lock = _lock(self.out, parent / f".{self.dest.name}.lock")
            except OSError as e:
                raise RunDirError(f"{self.out}: cannot create the run directory "
                                  f"({e.strerror})") from None
            try:
                recover(self.dest)
                _check_dest(self.out, overwrite)  # again: another run may have finished
                self.tmp = _make_temp_dir(parent, self.dest.name, "partial")
            except BaseException as e:
                self._lock.release()
                if isinstance(e, OSError):
                    raise RunDirError(f"{self.out}: cannot create the run directory "
                                      f"({e.strerror})") from None
                raise
            _UNFINISHED.append(self)

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
            self.tables[rel] = {"rows": meta["rows"], "bytes": path.stat().st_size,
                                "sha256": sha256_file(path), "columns": meta["columns"]}

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
        """Write the manifest last, then put the run in place in one step.

        The manifest lists every table (rows, bytes, sha256, columns) and every other
        file (bytes, sha256). A run during which a signal arrived is not published
        (:class:`creditsim.signals.Interrupted`), even if the code it interrupted
        swallowed the exception. Returns the manifest as written."""
        self.flush()
        self._io.shutdown()
        shutil.rmtree(self.tmp / "_work", ignore_errors=True)
        tables = {k: self.tables[k] for k in sorted(self.tables)}
        files = {rel: {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
                 for rel, p in _files_of(self.tmp) if rel not in tables}
        manifest = {**manifest, "tables": tables, "files": files, "status": "complete"}
        try:
            with signals.held():
                if signals.count() != self._signals:
                    raise signals.Interrupted(signals.first_since(self._signals))
                self.write_json(MANIFEST, manifest)
                self._put_in_place()
                self.published = True
                self._finish()
        except signals.Interrupted as e:
            if self.published:
                e.published = self.out
            raise
        return manifest

    def _put_in_place(self) -> None:
        """Rename the temp directory to the destination; an existing directory there
        (an empty one, or the run ``--overwrite`` replaces) is swapped out
        atomically where the system can, else parked under a name :func:`recover`
        knows, and removed."""
        dest = self.dest
        if not os.path.lexists(dest):
            fsops.rename_noreplace(self.tmp, dest)
            return
        if fsops.exchange(self.tmp, dest):
            shutil.rmtree(self.tmp, ignore_errors=True)  # now the replaced run
            return
        old = _make_temp_dir(dest.parent, dest.name, "old", create=False)
        os.rename(dest, old)
        try:
            os.rename(self.tmp, dest)
        except BaseException:
            os.rename(old, dest)
            raise
        shutil.rmtree(old, ignore_errors=True)

    def _finish(self) -> None:
        if self in _UNFINISHED:
            _UNFINISHED.remove(self)
        self._lock.release()

    def abort(self, keep: bool = False) -> None:
        """Stop the background writes and remove the temp directory (idempotent; a
        published run is left alone; ``keep``: leave it, for a resume from its
        checkpoint)."""
        with signals.held():
            for f in self._pending:
                f.cancel()
            self._io.shutdown(wait=True)
            if not self.published and not keep:
                _rmtree_fully(self.tmp)
            self._finish()


def _busy(out: Path, holder: int | None) -> RunDirError:
    who = f"pid {holder}" if holder else "another process"
    return RunDirError(f"{out}: another creditsim run ({who}) is writing to it; wait for it "
                       "to finish or choose another --out")


def _check_lock(out: Path, path: Path) -> None:
    """Refuse early, without locking: a symbolic link at the lock's name, or a lock
    file naming a live process (the lock itself is taken by :class:`RunWriter`)."""
    if path.is_symlink():
        raise RunDirError(f"{path}: is a symbolic link; refusing to use it as the lock of "
                          "this run (remove it)")
    try:
        st = path.stat()
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return
    if text.isdigit() and \
            fsops.pid_alive(int(text), made_before=st.st_ctime):
        raise _busy(out, int(text))


def _lock(out: Path, path: Path) -> fsops.Lock:
    try:
        return fsops.take_lock(path)
    except fsops.LockBusy as e:
        raise _busy(out, e.holder) from None
    except OSError as e:
        if e.errno == errno.ELOOP:  # O_NOFOLLOW met a symbolic link at the lock's name
            raise RunDirError(f"{path}: is a symbolic link; refusing to use it as the lock "
                              "of this run (remove it)") from None
        raise


def _make_temp_dir(parent: Path, name: str, kind: str, create: bool = True) -> Path:
    """A fresh ``.NAME.KIND-PID-RANDOM`` path in ``parent``, made exclusively by
    ``mkdir`` (which never follows a symbolic link) unless ``create`` is False."""
    while True:
        p = parent / f".{name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"
        if not create:
            if not os.path.lexists(p):
                return p
            continue
        try:
            p.mkdir()
            return p
        except FileExistsError:
            continue


def _rmtree_fully(path: Path) -> None:
    """Remove ``path``; again if a file appeared in it while it was being removed
    (a library closing a file late)."""
    for _ in range(3):
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.lexists(path):
            return


def _files_of(root: Path) -> list[tuple[str, Path]]:
    """(relative POSIX path, path) of every regular file under ``root``, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in sorted(filenames):
            p = Path(dirpath) / f
            out.append((p.relative_to(root).as_posix(), p))
    return sorted(out)


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


def unpublished(run: Path) -> bool:
    """Whether ``run`` (resolved) is a temporary or parked directory, not a published run."""
    return TEMP_NAME.match(Path(run).name) is not None


def read_manifest(run: Path) -> dict[str, Any]:
    """The manifest of the complete, published run ``run`` (not verified: see
    :class:`creditsim.audit.RunData` for the checked read)."""
    p = Path(run) / MANIFEST
    if unpublished(Path(run).resolve()):
        raise RunDirError(f"{run}: the temporary directory of an unfinished run, not a "
                          "published run")
    if not p.exists():
        raise RunDirError(f"{run}: no {MANIFEST}; not a complete creditsim run")
    m = json.loads(p.read_text(encoding="utf-8"))
    if m.get("status") != "complete":
        raise RunDirError(f"{run}: run is not complete")
    return m
