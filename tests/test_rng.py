"""Named, block-keyed random streams."""

from __future__ import annotations

import numpy as np
import pytest

from creditsim.rng import block_bounds, n_blocks, stream


def test_same_key_same_numbers() -> None:
    a = stream(3, "behaviour.x", 5).random(10)
    b = stream(3, "behaviour.x", 5).random(10)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("other", [(4, "behaviour.x", 5), (3, "behaviour.y", 5),
                                   (3, "behaviour.x", 6), (3, "behaviour.x", 5, 0)])
def test_any_key_change_changes_numbers(other: tuple) -> None:
    a = stream(3, "behaviour.x", 5).random(10)
    b = stream(*other).random(10)
    assert not np.array_equal(a, b)


def test_blocks_cover_exactly() -> None:
    for n in (1, 65535, 65536, 65537, 300_001):
        bounds = block_bounds(n)
        assert len(bounds) == n_blocks(n)
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))


def test_negative_rejected() -> None:
    with pytest.raises(ValueError):
        stream(-1, "x")
