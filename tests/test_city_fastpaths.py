"""The city stages' fast paths give exactly what the plain numpy/Polars routes give."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from creditsim import arrowstr
from creditsim.population import names
from creditsim.records.generate import _order_by_day_hash


@pytest.mark.parametrize(("m", "days", "hash_bits"), [(50_000, 365, 47), (50_000, 3650, 12),
                                                      (3, 365, 47), (1, 365, 47), (0, 365, 47)])
def test_order_by_day_hash_is_the_stable_argsort(m: int, days: int, hash_bits: int) -> None:
    rng = np.random.default_rng(m + days)
    day = rng.integers(0, days, m).astype(np.int32)
    h = rng.integers(0, 2**hash_bits, m, dtype=np.uint64)  # few hash bits: many ties
    want = np.argsort((day.astype(np.uint64) << np.uint64(47)) | h, kind="stable")
    assert np.array_equal(_order_by_day_hash(day, h, days), want)


def test_inverse_cdf_matches_searchsorted() -> None:
    rng = np.random.default_rng(1)
    _, _, probs = names.surname_table()
    cdf = np.cumsum(probs)
    cdf[-1] = 1.0
    u = np.concatenate([rng.random(200_000), cdf[:-1], np.nextafter(cdf[:-1], 0),
                        np.nextafter(cdf[:-1], 1), [0.0, np.nextafter(1.0, 0)]])
    assert np.array_equal(names.inverse_cdf([cdf], u), np.searchsorted(cdf, u, side="right"))
    _, _, pm, pf = names.given_table()
    cm, cf = np.cumsum(pm), np.cumsum(pf)
    cm[-1] = cf[-1] = 1.0
    which = rng.integers(0, 2, len(u))
    want = np.where(which == 0, np.searchsorted(cm, u, side="right"),
                    np.searchsorted(cf, u, side="right"))
    assert np.array_equal(names.inverse_cdf([cm, cf], u, which), want)


def test_inline_name_strings_match_concatenation() -> None:
    rng = np.random.default_rng(2)
    n = 50_000
    sur = names.draw_surnames(rng.random(n))
    male = rng.random(n) < 0.5
    g1, g2 = names.draw_given(rng.random(n), rng.random(n), rng.random(n), male,
                              rng.integers(1930, 2021, n))
    fast = names.build_strings(sur, g1, g2)
    plain = names._build_strings_polars(sur, g1, g2)
    for a, b in zip(fast, plain, strict=True):
        assert a.name == b.name and a.equals(b)
        assert (a.str.len_chars() == b.str.len_chars()).all()


def test_string_views_round_trip() -> None:
    rng = np.random.default_rng(3)
    base = rng.integers(48, 58, (1000, 18)).astype(np.uint8)
    s = arrowstr.u8_to_series(base, "id")
    assert s.to_list() == [bytes(r).decode() for r in base]
    assert np.array_equal(arrowstr.fixed_width_view(s, 18), base)
    rows = rng.integers(0, 1000, 500)
    valid = rng.random(500) < 0.9
    rep = np.array([3, 7, 11])
    rep_bytes = rng.integers(48, 58, (3, 18)).astype(np.uint8)
    got = arrowstr.views_into(base, np.ascontiguousarray(base[:, :4]).view(np.int32).ravel(),
                             rows, "id", valid=valid, replace=rep, replace_bytes=rep_bytes)
    want = [bytes(base[r]).decode() for r in rows]
    for j, i in enumerate(rep):
        want[i] = bytes(rep_bytes[j]).decode()
    want = [w if v else None for w, v in zip(want, valid, strict=True)]
    assert got.to_list() == want
    names_ = pl.Series(["王伟", "欧阳明明", "", "李"])
    views = arrowstr.inline_views(names_)
    assert views is not None
    assert arrowstr.from_inline_views(views[[3, 0, 1]], "n").to_list() == ["李", "王伟", "欧阳明明"]
    assert arrowstr.inline_views(pl.Series(["a" * 13])) is None
    plates = arrowstr.inline_from_u8(np.frombuffer(b"A1234B5678", np.uint8).reshape(2, 5), "p")
    assert plates.to_list() == ["A1234", "B5678"]


def test_stable_order_of_positive_floats() -> None:
    from creditsim.population.synth import _stable_order

    rng = np.random.default_rng(4)
    x = np.round(rng.lognormal(size=20_000), 2).astype(np.float32)  # many ties
    assert np.array_equal(_stable_order(x), np.argsort(x, kind="stable"))
    y = x.copy()
    y[5] = -1.0  # not all positive: the plain route
    assert np.array_equal(_stable_order(y), np.argsort(y, kind="stable"))
