"""The round's steps: their order, and what each lets go of the round's state."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import fields

from creditsim.platform import ROUND_STEPS, RoundState
from creditsim.platform.state import Round


def _state_reads(fn: Callable) -> set[str]:
    """The fields of ``state`` (the round's RoundState) that ``fn`` reads."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    return {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name) and n.value.id == "state"}


def test_round_steps_in_order() -> None:
    assert [s.name for s in ROUND_STEPS] == ["score", "appeal_and_repay", "serve", "respond"]


def test_released_state_is_read_by_no_later_step() -> None:
    """A step releases the state fields it is the last to read (the loop drops
    them after it, so the last round's scoring and intervals are not held beside
    this round's): it reads them, and no later step nor the move to the next
    round does."""
    names = {f.name for f in fields(RoundState)}
    released = 0
    for i, st in enumerate(ROUND_STEPS):
        assert set(st.releases) <= names
        assert set(st.releases) <= _state_reads(st.fn), st.name
        for later in [*(s.fn for s in ROUND_STEPS[i + 1:]), Round.advance]:
            assert not set(st.releases) & _state_reads(later), (st.name, later)
        released += len(st.releases)
    assert released == 2  # the previous scoring and the previous intervals
