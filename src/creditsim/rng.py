"""Named, block-keyed random streams.

Every random draw in creditsim comes from a stream identified by
``(seed, stream name, block index)``:

* the **seed** is the run's seed;
* the **stream name** is a stable string such as ``"population.households"`` or
  ``"behaviour.traffic_minor"``; two runs that differ only in policy draw the same
  numbers from every stream the policy does not influence (common random numbers);
* the **block index** numbers fixed-size blocks of entities (residents, households).
  Randomness is keyed to blocks, never to processing chunks, so the result is the
  same whatever chunk size or number of workers processes the blocks.

The stream name is hashed with BLAKE2b into 4 × 32-bit words and passed, together
with the block index, as the ``spawn_key`` of a :class:`numpy.random.SeedSequence`.
The bit generator is PCG64DXSM.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

#: Residents per random block. Fixed: changing it changes every draw.
RESIDENT_BLOCK = 1 << 16
#: Households per random block in population synthesis. Fixed, as above.
HOUSEHOLD_BLOCK = 1 << 15


@lru_cache(maxsize=4096)
def _name_words(name: str) -> tuple[int, ...]:
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=16).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


def stream(seed: int, name: str, *keys: int) -> np.random.Generator:
    """Return the generator for ``(seed, name, *keys)``.

    ``keys`` are small non-negative integers, usually a block index and perhaps a
    district or kind index. The same arguments always give the same numbers.
    """
    if seed < 0:
        raise ValueError("seed must be non-negative")
    for k in keys:
        if k < 0:
            raise ValueError("stream keys must be non-negative")
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(*_name_words(name), *keys))
    return np.random.Generator(np.random.PCG64DXSM(ss))


def n_blocks(n: int, block: int = RESIDENT_BLOCK) -> int:
    """Number of blocks covering ``n`` entities."""
    return (n + block - 1) // block


def block_bounds(n: int, block: int = RESIDENT_BLOCK) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of each block of ``n`` entities."""
    return [(s, min(s + block, n)) for s in range(0, n, block)]
