"""File-system operations the run directory and the report rely on for safety.

- :func:`take_lock`: an exclusive, non-blocking ``flock`` on a lock file that is
  opened without following symbolic links and removed by its holder on release;
- :func:`exchange` / :func:`rename_noreplace`: ``renameat2`` (Linux) through
  ctypes, so replacing a run is one atomic step and publishing never replaces
  something that appeared meanwhile;
- :func:`write_atomic`: a file written under an unpredictable temporary name made
  exclusively (``tempfile.mkstemp``) beside its destination, then renamed over it;
- :func:`pid_alive`: whether the process that made a temporary directory may still
  be running (``kill(pid, 0)``, and on Linux the process's start time from
  ``/proc``, so a reused PID is not mistaken for the original process);
- :func:`contained`: a path named by a run's manifest, resolved, if it stays
  inside the run directory.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
#: errno values meaning "this system or file system cannot do that rename".
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP}


class LockBusy(Exception):
    """The lock is held by another process (``holder``: its PID, if it wrote one)."""

    def __init__(self, path: Path, holder: int | None):
        self.path, self.holder = path, holder
        super().__init__(f"{path}: locked by pid {holder}")


@dataclass
class Lock:
    """A held lock; :meth:`release` removes the lock file, then unlocks it."""

    path: Path
    fd: int

    def release(self) -> None:
        if self.fd < 0:
            return
        try:
            # Unlinked while still locked: a process that opened the old file meanwhile
            # sees that its inode is no longer at the path and opens the new one.
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = -1


def take_lock(path: Path) -> Lock:
    """Lock ``path`` exclusively or raise :class:`LockBusy` at once.

    The file is opened with ``O_NOFOLLOW`` (a symbolic link planted at its name is
    refused with ``OSError``, never followed) and holds the holder's PID."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise LockBusy(path, holder) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            st, mine = os.stat(path, follow_symlinks=False), os.fstat(fd)
            same = (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)
        except FileNotFoundError:
            same = False
        if not same:  # the previous holder removed it between our open and flock
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return Lock(path, fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None


def _renameat2() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # a C library older than glibc 2.28
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def _rename2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2(src, dst, flags)``; False if unsupported here (nothing changed)."""
    fn = RENAMEAT2
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in _UNSUPPORTED:
        return False
    raise OSError(err, os.strerror(err), str(dst))


#: ``renameat2`` of the C library, or None where there is none (tests set it to None
#: to exercise the fallback).
RENAMEAT2 = _renameat2()


def exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` atomically (both must exist); False if this system or
    file system cannot, in which case nothing changed."""
    return _rename2(a, b, _RENAME_EXCHANGE)


def rename_noreplace(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst``, failing with ``FileExistsError`` if ``dst`` exists
    (atomically where ``renameat2`` exists; elsewhere checked just before)."""
    if _rename2(src, dst, _RENAME_NOREPLACE):
        return
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst))
    os.rename(src, dst)


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def write_atomic(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through a temporary file made exclusively, under an
    unpredictable name, in the same directory, then renamed over ``path`` (a
    symbolic link at ``path`` is replaced, not followed). On any failure or
    interruption the temporary file is removed and ``path`` is untouched."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a written file follows umask
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _boot_time() -> float | None:
    try:
        with open("/proc/stat", encoding="ascii") as f:
            for line in f:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _process_start(pid: int) -> tuple[float, str] | None:
    """(start time as a Unix time, state letter) of ``pid`` from ``/proc``, or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    boot = _boot_time()
    if boot is None or len(rest) < 20:
        return None
    return boot + int(rest[19]) / os.sysconf("SC_CLK_TCK"), rest[0]


def pid_alive(pid: int, made_before: float | None = None) -> bool:
    """Whether process ``pid`` is running and may be the one that made something
    last changed at Unix time ``made_before`` (its creator started earlier than
    that: a process that started later holds a reused PID)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, and belongs to another user
        pass
    info = _process_start(pid)
    if info is None:
        return True
    start, state = info
    if state in ("Z", "X"):  # exited, not yet reaped
        return False
    # /proc's boot time has whole-second resolution: allow two seconds.
    return made_before is None or start <= made_before + 2.0


def unwritable_ancestor(path: Path) -> str | None:
    """Why nothing can be created at ``path``: its nearest existing ancestor (a link
    counts as existing) is not a directory, or cannot be written; None if it can."""
    probe = path.parent
    while not os.path.lexists(probe):
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is not a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"cannot write in {probe}"
    return None


def contained(root: Path, rel: object) -> Path:
    """``root / rel`` resolved, if ``rel`` is a relative path of plain names that
    stays inside ``root`` (already resolved) after following symbolic links.

    Raises ValueError saying why not (FileNotFoundError if it does not exist)."""
    if not isinstance(rel, str) or not rel or "\0" in rel:
        raise ValueError("not a file name")
    p = Path(rel)
    if p.is_absolute() or any(part in ("..", "") for part in rel.split("/")):
        raise ValueError("not a path inside the run directory")
    try:
        full = (root / p).resolve(strict=True)
    except RuntimeError:  # Python < 3.13: a symbolic link loop
        raise ValueError("a symbolic link loop") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise ValueError("a symbolic link loop") from None
        raise
    if not full.is_relative_to(root):
        raise ValueError("a symbolic link to a file outside the run directory")
    return full
