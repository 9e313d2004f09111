"""The project's exceptions.

Everything a user can cause (bad options, bad policy files, an output directory
that already holds a run) raises a :class:`CreditsimError` subclass. The CLI turns
these into one clear message per problem and exit code 2, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One located problem: where (file, key path, line) and what."""

    message: str
    location: str = ""

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class CreditsimError(Exception):
    """Root of every error creditsim raises on purpose.

    Carries one or more :class:`Problem` so that all problems found are reported
    together rather than one per run.
    """

    def __init__(self, problems: str | Problem | Iterable[Problem | str]):
        if isinstance(problems, (str, Problem)):
            problems = [problems]
        self.problems: list[Problem] = [
            p if isinstance(p, Problem) else Problem(str(p)) for p in problems
        ]
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(CreditsimError):
    """Invalid run options or configuration."""


class RunDirError(CreditsimError):
    """The output directory cannot be used (exists, unwritable, incomplete)."""
