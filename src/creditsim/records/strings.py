"""Vectorised string surgery for record faults (no Python loop per record)."""

from __future__ import annotations

import numpy as np
import polars as pl

from creditsim.arrowstr import fixed_width_to_u8, u8_to_series
from creditsim.population import homophone_table


def mistype_ids(ids: pl.Series, u: np.ndarray, mix: tuple[float, float] = (0.80, 0.95)
                 ) -> pl.Series:
    """Mistype 18-character ID strings; ``u`` is an (n, 5) array of uniforms
    (see :func:`mistype_u8`)."""
    a = fixed_width_to_u8(ids, 18)
    if a.shape[0] == 0:
        return ids
    mistype_u8(a, u, mix)
    return u8_to_series(a, ids.name)


def mistype_u8(a: np.ndarray, u: np.ndarray, mix: tuple[float, float] = (0.80, 0.95)
               ) -> None:
    """Mistype the (n, 18) uint8 ID bytes ``a`` in place; ``u``: (n, 5) uniforms.

    ``mix`` (cumulative shares; the department's ``id_slip_mix``, by default): one
    digit replaced below ``mix[0]`` (80%), two adjacent digits swapped below
    ``mix[1]`` (15%; a substitution instead when they are equal), else two digits
    replaced (5%). Positions 0-16 (the body); the check character is left as typed.
    """
    n = a.shape[0]
    if n == 0:
        return
    rows = np.arange(n)
    mode = u[:, 0]
    p = np.floor(u[:, 1] * 17).astype(np.int64)
    q = np.floor(u[:, 2] * 16).astype(np.int64)

    def subst(rows_: np.ndarray, pos: np.ndarray, uu: np.ndarray) -> None:
        d = a[rows_, pos].astype(np.int64) - 48
        nd = (d + 1 + np.floor(uu * 9).astype(np.int64)) % 10
        a[rows_, pos] = (nd + 48).astype(np.uint8)

    one, swapped = mix
    swap = (mode >= one) & (mode < swapped)
    swap_ok = swap & (a[rows, q] != a[rows, np.minimum(q + 1, 16)])
    r = rows[swap_ok]
    tmp = a[r, q[r]].copy()
    a[r, q[r]] = a[r, q[r] + 1]
    a[r, q[r] + 1] = tmp
    single = (mode < one) | (swap & ~swap_ok)
    subst(rows[single], p[single], u[single, 3])
    double = mode >= swapped
    r = rows[double]
    subst(r, p[r], u[r, 3])
    p2 = (p[r] + 1 + np.floor(u[r, 4] * 16).astype(np.int64)) % 17
    subst(r, p2, u[r, 4])


def typo_names(nm: pl.Series, u: np.ndarray, drop_share: float = 0.1) -> pl.Series:
    """Introduce one typo into each name; ``u`` is an (n, 3) array of uniforms.

    A share ``drop_share`` (the department's ``name_drop_share``; 10%) of names of
    three or more characters lose a character; the others have one replaced by a
    homophone (or, if it has none in the inventory, by a different character).
    """
    n = len(nm)
    if n == 0:
        return nm
    homo = homophone_table()
    counts = homo.group_by("char").agg(pl.col("n_alt").first())
    fallback = homo.filter(pl.col("char") == "伟").select("alt").to_series()
    df = pl.DataFrame({
        "i": np.arange(n), "name": nm,
        "u_pos": u[:, 0], "u_alt": u[:, 1], "u_kind": u[:, 2],
    })
    df = df.with_columns(pl.col("name").str.len_chars().cast(pl.Int64).alias("L"))
    df = df.with_columns((pl.col("u_pos") * pl.col("L")).floor().cast(pl.Int64).alias("p"))
    df = df.with_columns(pl.col("name").str.slice(pl.col("p"), 1).alias("char"))
    df = df.join(counts, on="char", how="left")
    df = df.with_columns(
        (pl.col("u_alt") * pl.col("n_alt")).floor().cast(pl.Int32).alias("k"),
    )
    df = df.join(homo.select("char", "k", "alt"), on=["char", "k"], how="left")
    fb = pl.Series(fallback.to_list() or ["伟"])
    df = df.with_columns(
        pl.when(pl.col("alt").is_null())
        .then(pl.lit(fb).gather((pl.col("u_alt") * len(fb)).floor().cast(pl.Int64)))
        .otherwise(pl.col("alt")).alias("alt")
    )
    df = df.with_columns(
        pl.when((pl.col("u_kind") < drop_share) & (pl.col("L") >= 3)).then(pl.lit(""))
        .otherwise(pl.col("alt")).alias("alt")
    )
    out = df.sort("i").select(
        pl.concat_str(
            pl.col("name").str.slice(0, pl.col("p")),
            pl.col("alt"),
            pl.col("name").str.slice(pl.col("p") + 1),
        ).alias(nm.name)
    )
    return out.to_series()
