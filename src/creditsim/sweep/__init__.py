"""Experiments: arms × design points × replicates of runs, on a pool of workers.

``creditsim sweep SPEC.toml --out DIR`` (:mod:`creditsim.sweep.cli`), or from Python
``creditsim.sweep(SPEC, out=DIR)`` — this package is itself callable — and
``creditsim.open_sweep(DIR)``. The spec format, the seeds, the index and the
statistics are described in docs/sweep.md.

Modules: :mod:`~creditsim.sweep.spec` (the validated spec and its jobs),
:mod:`~creditsim.sweep.design` (grid, Latin hypercube, Sobol points),
:mod:`~creditsim.sweep.runner` (the worker pool and one job),
:mod:`~creditsim.sweep.store` (the sweep directory and its index),
:mod:`~creditsim.sweep.summary` (figures per arm, paired differences),
:mod:`~creditsim.sweep.api` (run and open a sweep). Importing this package is
light: the heavy modules load on first use.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from creditsim.sweep.api import Sweep


def run(spec: str | Path | Mapping[str, Any], out: str | Path | None = None, *,
        workers: int = 1, resume: bool = False, expand: bool = False) -> Sweep:
    """Run the sweep ``spec`` (a TOML file, or its table) into ``out`` (default
    ``sweeps/<the spec file's stem>``, ``sweeps/sweep`` for a table); returns the
    :class:`~creditsim.sweep.api.Sweep` (index and figures as Polars frames)."""
    from creditsim.sweep.api import Options, run_sweep

    if out is None:
        out = Path("sweeps") / (Path(spec).stem if isinstance(spec, (str, Path)) else "sweep")
    return run_sweep(spec, out, Options(workers=workers, resume=resume, expand=expand))


def open_sweep(path: str | Path) -> Sweep:
    """Open a sweep directory (its index, figures, summary and differences)."""
    from creditsim.sweep.api import open_sweep as _open

    return _open(path)


class _CallableModule(types.ModuleType):
    """``creditsim.sweep`` is this package and, called, :func:`run`: the package and
    the function share the name, and importing a submodule sets the attribute."""

    def __call__(self, spec: str | Path | Mapping[str, Any], out: str | Path | None = None,
                 **kwargs: Any) -> Sweep:
        return run(spec, out, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
