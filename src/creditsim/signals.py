"""SIGINT, SIGTERM and SIGHUP during a run: a clean stop instead of a silent death.

:func:`interruptible` (used by the CLI around a run or a report) turns each of the
three signals into :class:`Interrupted`, raised in the main thread, so the run's
``except`` path removes its temporary directory. A signal that arrives inside
:func:`held` (the renames of publishing, the removal of a temporary directory) is
delivered when the section ends, so those steps are never cut in half.

DuckDB turns an exception raised by a signal handler during a query into its own
error ("Query interrupted"), so the original exception can be lost on the way
out; :attr:`Guard.signal` remembers the first signal either way, and
:func:`count` lets a run refuse to publish after any signal (see
:meth:`creditsim.rundir.RunWriter.publish`).

Handlers are installed only in the main thread, and a signal the process was told
to ignore (``nohup``, a background job's SIGINT) stays ignored.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))

#: Every signal the handler has seen, in order (a run compares lengths: see count()).
_seen: list[int] = []
_state = {"held": 0, "pending": 0}


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal. ``published`` is the run's path if the signal came
    after the run was already in place (it is complete then)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
        self.published: Path | None = None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def count() -> int:
    """How many signals :func:`interruptible`'s or :func:`held`'s handler has seen."""
    return len(_seen)


def first_since(n: int) -> int:
    """The first signal seen after the first ``n`` (SIGINT if none)."""
    return _seen[n] if len(_seen) > n else signal.SIGINT


def _handler(signum: int, _frame: Any) -> None:
    _seen.append(signum)
    if _state["held"]:
        _state["pending"] = _state["pending"] or signum
        return
    raise Interrupted(signum)


@dataclass
class Guard:
    """What :func:`interruptible` saw: the first signal received, if any."""

    start: int

    @property
    def signal(self) -> int | None:
        return _seen[self.start] if len(_seen) > self.start else None


@contextmanager
def interruptible() -> Iterator[Guard]:
    """Turn SIGINT, SIGTERM and SIGHUP into :class:`Interrupted` for the duration."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for s in SIGNALS:
            old = signal.getsignal(s)
            if old is signal.SIG_IGN:
                continue
            previous[s] = old
            signal.signal(s, _handler)
    try:
        yield Guard(start=len(_seen))
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


@contextmanager
def held() -> Iterator[None]:
    """Deliver SIGINT/SIGTERM/SIGHUP only after this block (nested blocks: after the
    outermost). In the main thread, Python's own SIGINT handler is replaced for the
    block too, so library callers get the same protection."""
    swapped = None
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        swapped = signal.signal(signal.SIGINT, _handler)
    _state["held"] += 1
    try:
        yield
    finally:
        _state["held"] -= 1
        if swapped is not None:
            signal.signal(signal.SIGINT, swapped)
        if not _state["held"] and _state["pending"]:
            signum, _state["pending"] = _state["pending"], 0
            raise Interrupted(signum)
