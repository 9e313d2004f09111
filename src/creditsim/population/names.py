"""Sampling synthetic Chinese names, vectorised.

Names are drawn as indices into the inventories of :mod:`namedata` and turned
into strings once, with Polars. Surnames are inherited (children take the
father's surname, a grandfather shares the head's), which, together with the
skewed surname shares, produces same-name collisions at realistic rates.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import polars as pl

from creditsim import arrowstr
from creditsim.population import namedata


@lru_cache(maxsize=1)
def surname_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(chars, pinyin, probabilities) of every surname, head shares + Zipf tail."""
    head = namedata.SURNAMES
    seen = {s for s, _, _ in head}
    tail = [(s, p) for s, p in namedata.TAIL_SURNAMES if s not in seen]
    # dedupe the tail while keeping order
    uniq: dict[str, str] = {}
    for s, p in tail:
        uniq.setdefault(s, p)
    head_p = np.array([w for _, _, w in head], dtype=np.float64) / 100.0
    rest = max(0.0, 1.0 - head_p.sum())
    ranks = np.arange(1, len(uniq) + 1, dtype=np.float64)
    tail_w = ranks ** -0.7
    tail_p = rest * tail_w / tail_w.sum()
    chars = np.array([s for s, _, _ in head] + list(uniq.keys()))
    pinyin = np.array([p for _, p, _ in head] + list(uniq.values()))
    probs = np.concatenate([head_p, tail_p])
    return chars, pinyin, probs / probs.sum()


@lru_cache(maxsize=1)
def given_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(chars, pinyin, P(char | male), P(char | female)) of given-name characters."""
    chars = np.array([c for c, _, _, _ in namedata.GIVEN_CHARS])
    pinyin = np.array([p for _, p, _, _ in namedata.GIVEN_CHARS])
    wm = np.array([m for _, _, m, _ in namedata.GIVEN_CHARS], dtype=np.float64)
    wf = np.array([f for _, _, _, f in namedata.GIVEN_CHARS], dtype=np.float64)
    # Flatten the hand weights so the top full names reach the cited ~0.02% share (assumption: see namedata).
    wm = wm**0.6
    wf = wf**0.6
    return chars, pinyin, wm / wm.sum(), wf / wf.sum()


#: Birth years that bound the cohorts of :data:`SINGLE_CHAR_SHARES` (defaults of
#: PersonModel.single_name_cohorts / single_name_shares).
SINGLE_CHAR_COHORTS: tuple[int, ...] = (1960, 1980, 1995, 2005)
#: P(a one-character given name) for those born before each cohort bound, then after.
SINGLE_CHAR_SHARES: tuple[float, ...] = (0.38, 0.42, 0.30, 0.18, 0.08)


def single_char_prob(birth_year: np.ndarray,
                     cohorts: tuple[int, ...] = SINGLE_CHAR_COHORTS,
                     shares: tuple[float, ...] = SINGLE_CHAR_SHARES) -> np.ndarray:
    """P(a one-character given name) by birth year: ``shares[k]`` for those born
    before ``cohorts[k]`` (and after every earlier bound), ``shares[-1]`` after all.

    Assumption: one-character names peaked among people born 1960–1990 and fell
    sharply for children born after 2000 (as the MPS name reports describe).
    """
    by = np.asarray(birth_year)
    return np.select([by < c for c in cohorts], list(shares[:-1]), default=shares[-1])


#: Cells of the lookup table that :func:`inverse_cdf` answers most draws from.
_ICDF_CELLS = 1 << 16


def inverse_cdf(cdfs: list[np.ndarray], u: np.ndarray, which: np.ndarray | None = None
                ) -> np.ndarray:
    """``np.searchsorted(cdfs[which[i]], u[i], side="right")`` for uniforms ``u`` in
    [0, 1), exactly, but mostly by table lookup: ``u`` falls in one of
    ``_ICDF_CELLS`` equal cells, and a cell that holds no step of the CDF has one
    answer for all its ``u``. Only draws in the few cells that hold a step are
    searched. (A binary search per draw costs ~60 ns; at 22 M residents and
    five name draws each that is seconds.)"""
    m = _ICDF_CELLS
    lo_edge = np.arange(m, dtype=np.float64) / m
    hi_edge = np.nextafter(lo_edge + 1.0 / m, 0.0)  # the largest u in each cell
    lo = np.concatenate([np.searchsorted(c, lo_edge, side="right") for c in cdfs])
    hi = np.concatenate([np.searchsorted(c, hi_edge, side="right") for c in cdfs])
    cell = (u * m).astype(np.int32)  # exact: m is a power of two
    if which is not None:
        cell += np.asarray(which, dtype=np.int32) * np.int32(m)
    out = lo.astype(np.int32)[cell]
    amb = np.flatnonzero((lo != hi)[cell])
    del cell
    if amb.size:
        sel = np.zeros(amb.size, dtype=np.int64) if which is None else np.asarray(which)[amb]
        for k, c in enumerate(cdfs):
            idx = amb[sel == k]
            out[idx] = np.searchsorted(c, u[idx], side="right")
    return out


def draw_surnames(u: np.ndarray) -> np.ndarray:
    """Surname indices from uniforms ``u`` (inverse CDF)."""
    _, _, probs = surname_table()
    cdf = np.cumsum(probs)
    cdf[-1] = 1.0
    return inverse_cdf([cdf], u).astype(np.int16)


def draw_given(u1: np.ndarray, u2: np.ndarray, u_single: np.ndarray,
               male: np.ndarray, birth_year: np.ndarray,
               single: tuple[tuple[int, ...], tuple[float, ...]] = (SINGLE_CHAR_COHORTS,
                                                                    SINGLE_CHAR_SHARES)
               ) -> tuple[np.ndarray, np.ndarray]:
    """Given-name character indices (second is -1 for one-character names)."""
    _, _, pm, pf = given_table()
    cm, cf = np.cumsum(pm), np.cumsum(pf)
    cm[-1] = cf[-1] = 1.0
    female = ~np.asarray(male, dtype=bool)
    g1 = inverse_cdf([cm, cf], u1, female).astype(np.int16)
    g2 = inverse_cdf([cm, cf], u2, female).astype(np.int16)
    # P(one character) by birth year through a table over the distinct years.
    by = np.asarray(birth_year)
    y0 = int(by.min()) if by.size else 0
    p_year = single_char_prob(np.arange(y0, (int(by.max()) if by.size else 0) + 1), *single)
    g2[u_single < p_year[by - y0]] = -1
    return g1, g2


def build_strings(surname: np.ndarray, g1: np.ndarray, g2: np.ndarray) -> tuple[
        pl.Series, pl.Series, pl.Series]:
    """(surname, given_name, full name) string columns from indices.

    Every name fits in 12 bytes of UTF-8 (at most four CJK characters), so the
    columns are built as Arrow string views holding the bytes inline: the bytes
    of surname and given name are concatenated as packed integers, without
    building any string per row."""
    s_chars, _, _ = surname_table()
    g_chars, _, _, _ = given_table()
    s_lo, _, s_len = arrowstr.pack_inline(list(s_chars))
    g_lo, _, g_len = arrowstr.pack_inline([*list(g_chars), ""])
    g2i = np.where(g2 < 0, len(g_chars), g2)
    if s_len.min() < 1 or g_len[:-1].min() < 1 or s_len.max() > 8 or 2 * g_len.max() > 8 \
            or s_len.max() + 2 * g_len.max() > 12:
        return _build_strings_polars(surname, g1, g2)
    sur = (s_lo[surname], np.zeros(len(surname), np.uint64), s_len[surname])
    given = _concat_inline(g_lo[g1], g_len[g1], g_lo[g2i], g_len[g2i])
    del g2i
    full = _concat_inline(sur[0], sur[2], given[0], given[2])
    return (arrowstr.inline_series(sur[0], sur[1].astype(np.uint32), sur[2], "surname"),
            arrowstr.inline_series(*given, "given_name"),
            arrowstr.inline_series(*full, "name"))


def _concat_inline(a_lo: np.ndarray, a_len: np.ndarray, b_lo: np.ndarray, b_len: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate strings packed little-endian in uint64 (``a`` non-empty, each at
    most 8 bytes, together at most 12): (lo, hi, length) of the result, as
    :func:`creditsim.arrowstr.inline_series` takes them."""
    k = a_len.astype(np.uint64) * np.uint64(8)  # 8..64 bits; a fits in lo
    k = np.minimum(k, np.uint64(63))  # (a 64-bit shift is undefined; a_len 8 ⇒ b empty)
    lo = a_lo | (b_lo << k)
    hi = (b_lo >> (np.uint64(64) - k)).astype(np.uint32)
    hi[a_len >= 8] = 0  # b is empty there (the total is at most 12)
    return lo, hi, (a_len + b_len).astype(np.uint32)


def _build_strings_polars(surname: np.ndarray, g1: np.ndarray, g2: np.ndarray) -> tuple[
        pl.Series, pl.Series, pl.Series]:
    s_chars, _, _ = surname_table()
    g_chars, _, _, _ = given_table()
    s_ser = pl.Series(list(s_chars), dtype=pl.String)
    g_ser = pl.Series([*list(g_chars), ""], dtype=pl.String)
    empty = len(g_chars)
    sur = s_ser.gather(pl.Series(surname.astype(np.int64)))
    a = g_ser.gather(pl.Series(g1.astype(np.int64)))
    b = g_ser.gather(pl.Series(np.where(g2 < 0, empty, g2).astype(np.int64)))
    given = pl.DataFrame({"a": a, "b": b}).select(pl.concat_str("a", "b")).to_series()
    full = pl.DataFrame({"s": sur, "g": given}).select(pl.concat_str("s", "g")).to_series()
    return sur.alias("surname"), given.alias("given_name"), full.alias("name")


@lru_cache(maxsize=1)
def pinyin_map() -> dict[str, str]:
    """Toneless pinyin of every character that can appear in a name or a typo."""
    out: dict[str, str] = {}
    for c, p, _ in namedata.SURNAMES:
        out.setdefault(c, p)
    for c, p in namedata.TAIL_SURNAMES:
        out.setdefault(c, p)
    for c, p, _, _ in namedata.GIVEN_CHARS:
        out.setdefault(c, p)
    for c, p in namedata.TYPO_CHARS:
        out.setdefault(c, p)
    return out


@lru_cache(maxsize=1)
def homophone_table() -> pl.DataFrame:
    """Per single character: its homophones, as rows ``(char, n_alt, k, alt)``.

    ``k`` numbers the ``n_alt`` alternatives of ``char``; a typo picks
    ``k = floor(u * n_alt)``. Characters without a homophone in the inventory get
    every inventory given-name character of a different pinyin as alternatives
    (a plain mistyping).
    """
    pm = pinyin_map()
    singles = {c: p for c, p in pm.items() if len(c) == 1}
    by_py: dict[str, list[str]] = {}
    for c, p in singles.items():
        by_py.setdefault(p, []).append(c)
    given = [c for c, _, _, _ in namedata.GIVEN_CHARS]
    rows_c, rows_n, rows_k, rows_a = [], [], [], []
    for c, p in singles.items():
        alts = [a for a in by_py[p] if a != c]
        if not alts:
            alts = [g for g in given if pm[g] != p][:40]
        for k, a in enumerate(alts):
            rows_c.append(c)
            rows_n.append(len(alts))
            rows_k.append(k)
            rows_a.append(a)
    return pl.DataFrame(
        {"char": rows_c, "n_alt": rows_n, "k": rows_k, "alt": rows_a},
        schema={"char": pl.String, "n_alt": pl.Int32, "k": pl.Int32, "alt": pl.String},
    )


def to_pinyin(names: pl.Series) -> pl.Series:
    """Toneless pinyin (space-free) of name strings; unknown characters kept as is.

    One pass per character position (names are a few characters long), each a
    table lookup, then one concatenation — no explode/regroup of every character.
    """
    pm = pinyin_map()
    s = names.cast(pl.String)
    n_max = int(s.str.len_chars().max() or 0)
    col = pl.col("n")
    mapped = []
    for k in range(n_max):
        ch = col.str.slice(k, 1)
        mapped.append(pl.when(ch == "").then(None).otherwise(
            ch.replace_strict(pm, default=ch, return_dtype=pl.String)))
    if not mapped:
        return s.alias("pinyin")
    out = pl.DataFrame({"n": s}).select(
        pl.when(col.is_null()).then(None)
        .otherwise(pl.concat_str(mapped, ignore_nulls=True)).alias("pinyin"))
    return out["pinyin"]
