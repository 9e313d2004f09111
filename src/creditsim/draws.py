"""Vectorised draws shared by the stages that sample from uniforms.

A core module: the behaviour stage draws event counts and the services stage
demand counts with :func:`poisson_icdf`, and both the behaviour and records
stages spread independent draws over :data:`THREADS` worker threads.
"""

from __future__ import annotations

import numpy as np

#: Worker threads for independent draws (results never depend on it).
THREADS = 2


def poisson_icdf(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Poisson counts by inversion: the smallest k with CDF(k) ≥ u (monotone in lam).

    The walk stops, too, once adding the next term no longer changes the
    floating-point CDF (u within rounding of 1).
    """
    counts = np.zeros(len(u), dtype=np.int32)
    p = np.exp(-lam)
    cdf = p.copy()
    active = np.flatnonzero(u > cdf)
    k = 0
    while active.size:
        k += 1
        p_a = p[active] * lam[active] / k
        old = cdf[active]
        new = old + p_a
        p[active] = p_a
        cdf[active] = new
        counts[active] = k
        active = active[(u[active] > new) & (new > old)]
    return counts
