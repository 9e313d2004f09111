"""What a run needs from the machine: memory and disk, estimated before any work,
and a full disk reported as one located line.

Both estimates are linear in the residents and the resident-years (records grow
with both), fitted to measured peaks and rounded up so that each measured peak is
at or below its estimate:

* memory, peak resident set of the whole process (``peak_rss_gb`` in the
  manifest): ``benchmarks/results/b100k.json``, ``b1m.json``, ``b5m.json`` and
  ``full.json`` (21,893,095 residents x 365 days: 10.28-10.54 GiB over three
  repeats), plus ``benchmarks/results/resources.json`` for horizons of 30 and
  1,460 days, ``horizon-memory-219000.json`` and ``horizon-memory-1000000.json``
  (1, 3 and 10 years) and ``cold-start-1m.json`` (1M residents x 10 years: 4.56 GiB,
  the point that sets the per-resident-year term);
* disk, the run's temporary directory at its largest (tables, Splink's charts,
  scratch files and DuckDB's spill), sampled during the runs of
  ``benchmarks/results/resources.json``.
"""

from __future__ import annotations

import errno
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import psutil

from creditsim.errors import ConfigError, CreditsimError, Problem

GiB = 1 << 30

#: Memory: imports, Splink and DuckDB (fixed), per resident, per resident-year.
MEMORY_FIXED = int(1.35 * GiB)
MEMORY_PER_RESIDENT = 145
MEMORY_PER_RESIDENT_YEAR = 330
#: Disk: Splink's charts (fixed), per resident, per resident-year.
DISK_FIXED = 4 << 20
DISK_PER_RESIDENT = 40
DISK_PER_RESIDENT_YEAR = 100


@dataclass(frozen=True)
class Needs:
    """Estimated peaks of a run, in bytes."""

    memory: int
    disk: int


def estimate(residents: int, days: int) -> Needs:
    """The estimated peak memory and disk of a run of ``residents`` x ``days``, where
    ``days`` is every simulated day: the burn-in and the results window
    (``RunConfig.simulated_days``)."""
    years = residents * days / 365
    return Needs(
        memory=int(MEMORY_FIXED + MEMORY_PER_RESIDENT * residents
                   + MEMORY_PER_RESIDENT_YEAR * years),
        disk=int(DISK_FIXED + DISK_PER_RESIDENT * residents + DISK_PER_RESIDENT_YEAR * years),
    )


def gib(n: float) -> str:
    """Bytes as GiB (or MiB below one GiB), for messages."""
    return f"{n / GiB:,.1f} GiB" if n >= GiB else f"{n / (1 << 20):,.1f} MiB"


def available_memory() -> int:
    return int(psutil.virtual_memory().available)


def free_disk(path: Path) -> tuple[Path, int]:
    """The nearest existing directory at or above ``path`` and its free bytes."""
    probe = Path(path).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe, int(shutil.disk_usage(probe).free)


def preflight(residents: int, days: int, out: Path, *, force: bool) -> list[str]:
    """Compare a run's estimated needs with the memory available and the disk free
    where ``out`` will be written (``days``: every simulated day, the burn-in
    included, as the messages say). Raises :class:`ConfigError` naming both figures
    if either estimate exceeds them; with ``force``, returns the same findings as
    warnings instead."""
    need = estimate(residents, days)
    hint = "" if force else (" (use fewer residents or days, a shorter --burn-in-days, or "
                             "--force to try anyway)")
    found = []
    have = available_memory()
    if need.memory > have:
        found.append(Problem(
            f"a run of {residents:,} residents x {days} days needs about {gib(need.memory)} "
            f"of memory at its peak (estimated from measured runs); {gib(have)} is "
            f"available{hint}", "--residents"))
    where, free = free_disk(Path(out).absolute().parent)
    if need.disk > free:
        found.append(Problem(
            f"the run needs about {gib(need.disk)} of disk here at its peak (estimated "
            f"from measured runs); {gib(free)} is free{hint}", str(where)))
    if found and not force:
        raise ConfigError(found)
    return [str(p) for p in found]


# ----------------------------------------------------------------------------- full disks

#: How a full disk shows in the messages of Polars, pyarrow and DuckDB (which do not
#: always raise an OSError with an errno): ENOSPC by name or number, or DuckDB's
#: temporary-directory limit, which is the free space of that disk by default.
_FULL = re.compile(r"No space left on device|os error 28|errno 28|\"errno\":\s*\"28\"|"
                   r"max_temp_directory_size", re.IGNORECASE)
#: DuckDB names the file it could not write: Could not write file "PATH"
_DUCKDB_PATH = re.compile(r"Could not write file \\*\"([^\"\\]+)\\*\"")


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        out.append(e)
        todo += [e.__cause__, e.__context__]
    return out


def disk_full_path(exc: BaseException) -> tuple[bool, str | None]:
    """Whether ``exc`` (or an exception it was raised from) is a full disk, and the
    file being written if any message names it."""
    full, path = False, None
    for e in _chain(exc):
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            full = True
            path = path or (str(e.filename) if e.filename else None)
        elif _FULL.search(str(e)):
            full = True
            m = _DUCKDB_PATH.search(str(e))
            path = path or (m.group(1) if m else None)
    return full, path


class DiskFullError(CreditsimError):
    """A write failed because the disk is full (one problem: where, and how much)."""


def disk_full_error(exc: BaseException, target: Path, need: int) -> DiskFullError | None:
    """A :class:`DiskFullError` for ``exc`` if it is a full disk while writing
    ``target`` (a run directory or a report): located at the file that could not be
    written (or ``target``), with the space ``need``-ed beside ``target`` and the
    space free there now."""
    full, path = disk_full_path(exc)
    if not full:
        return None
    probe, free = free_disk(Path(target).absolute().parent)
    return DiskFullError(Problem(
        f"no space left on device; about {gib(need)} is needed in {probe} "
        f"({gib(free)} free now)", path or str(target)))
