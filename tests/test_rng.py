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


def test_keyed_uniforms_depend_only_on_key() -> None:
    from creditsim.rng import keyed_uniforms

    keys = np.arange(10_000, dtype=np.int64) * 7 + 3
    all_u = keyed_uniforms(5, "records.court", keys, 3)
    some = keyed_uniforms(5, "records.court", keys[::13], 3)
    assert np.array_equal(all_u[::13], some)
    assert not np.array_equal(all_u, keyed_uniforms(6, "records.court", keys, 3))
    assert not np.array_equal(all_u, keyed_uniforms(5, "records.tax", keys, 3))
    assert all_u.min() >= 0 and all_u.max() < 1
    assert abs(all_u.mean() - 0.5) < 0.01
    # columns are not copies of each other
    assert abs(np.corrcoef(all_u[:, 0], all_u[:, 1])[0, 1]) < 0.05


def _keyed_uniforms_plain(seed: int, name: str, keys: np.ndarray, k: int) -> np.ndarray:
    """The definition, written out plainly (whole-array expressions)."""
    from creditsim.rng import _GOLDEN, _name_words

    def _mix64(z: np.ndarray) -> np.ndarray:  # SplitMix64's finaliser
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))

    w = _name_words(name)
    salt = np.uint64((seed * 0x9E3779B1 + (w[0] << 32 | w[1])) & 0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        base = _mix64(np.asarray(keys).astype(np.uint64) * _GOLDEN ^ salt)
        return np.stack([(_mix64(base + np.uint64(j + 1) * _GOLDEN) >> np.uint64(40))
                         .astype(np.float32) * np.float32(2.0**-24) for j in range(k)], axis=1)


@pytest.mark.parametrize("n,k", [(0, 1), (1, 2), (1000, 3), ((1 << 18) + 17, 1),
                                 (3 * (1 << 18) - 1, 2)])
def test_keyed_uniforms_blocked_in_place_equal_the_plain_definition(n, k) -> None:
    from creditsim.rng import keyed_uniforms

    keys = np.random.default_rng(n).integers(-(2**40), 2**40, size=n)
    got = keyed_uniforms(9, "feedback.keep", keys, k)
    assert got.shape == (n, k) and got.dtype == np.float32
    assert np.array_equal(got, _keyed_uniforms_plain(9, "feedback.keep", keys, k))
