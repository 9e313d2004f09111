"""Hypothesis example budgets by profile (``tests/conftest.py`` loads the profile).

* ``ci`` — the default (``pytest``, ``pytest -m "not slow"``): each budgeted test runs
  a third of its examples (at least 10), so the suite keeps to its time targets;
* ``thorough`` — with ``-m fuzz`` or ``CREDITSIM_HYPOTHESIS=thorough``: the full count.

Hypothesis keeps every failing example in its database and replays it first, so a
failure found by a thorough run is re-checked by every later ``ci`` run.
"""

from __future__ import annotations

from hypothesis import settings

#: Share of a test's full example count that the ``ci`` profile runs.
CI_SHARE = 3
#: Fewest examples a budgeted test runs under ``ci``.
CI_MIN = 10


def examples(full: int) -> int:
    """The example count of a test whose thorough count is ``full``, under the
    loaded profile."""
    if settings.get_current_profile_name() == "thorough":
        return full
    return min(full, max(CI_MIN, full // CI_SHARE))
