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


def single_char_prob(birth_year: np.ndarray) -> np.ndarray:
    """P(a one-character given name) by birth year.

    Assumption: one-character names peaked among people born 1960–1990 and fell
    sharply for children born after 2000 (as the MPS name reports describe).
    """
    by = np.asarray(birth_year)
    return np.select(
        [by < 1960, by < 1980, by < 1995, by < 2005],
        [0.38, 0.42, 0.30, 0.18],
        default=0.08,
    )


def draw_surnames(u: np.ndarray) -> np.ndarray:
    """Surname indices from uniforms ``u`` (inverse CDF)."""
    _, _, probs = surname_table()
    cdf = np.cumsum(probs)
    cdf[-1] = 1.0
    return np.searchsorted(cdf, u, side="right").astype(np.int16)


def draw_given(u1: np.ndarray, u2: np.ndarray, u_single: np.ndarray,
               male: np.ndarray, birth_year: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Given-name character indices (second is -1 for one-character names)."""
    _, _, pm, pf = given_table()
    cm, cf = np.cumsum(pm), np.cumsum(pf)
    cm[-1] = cf[-1] = 1.0
    g1 = np.empty(len(u1), dtype=np.int16)
    g2 = np.empty(len(u1), dtype=np.int16)
    for mask, cdf in ((male, cm), (~male, cf)):
        g1[mask] = np.searchsorted(cdf, u1[mask], side="right")
        g2[mask] = np.searchsorted(cdf, u2[mask], side="right")
    g2[u_single < single_char_prob(birth_year)] = -1
    return g1, g2


def build_strings(surname: np.ndarray, g1: np.ndarray, g2: np.ndarray) -> tuple[
        pl.Series, pl.Series, pl.Series]:
    """(surname, given_name, full name) string columns from indices."""
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
    """Toneless pinyin (space-free) of name strings; unknown characters kept as is."""
    pm = pinyin_map()
    df = pl.DataFrame({"n": names}).with_row_index("i")
    chars = df.select("i", pl.col("n").str.split("").alias("c")).explode("c")
    chars = chars.with_columns(
        pl.col("c").replace_strict(pm, default=pl.col("c"), return_dtype=pl.String)
    )
    out = chars.group_by("i", maintain_order=True).agg(pl.col("c").str.join(""))
    return df.join(out, on="i", how="left").sort("i")["c"].alias("pinyin")
