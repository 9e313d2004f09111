"""Service decisions and appeals on hand-made tables."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from creditsim import catalogue as cat
from creditsim.appeals import AppealsModel, objections
from creditsim.appeals.model import apply_appeals
from creditsim.services.decide import decide


def _effects(rows: list[tuple]) -> pl.DataFrame:
    cols = ["resident_id", "service", "effect", "rate", "consequence", "start", "end",
            "cause_type", "cause", "via_resident_id", "spell_record_id"]
    df = pl.DataFrame(rows, schema=cols, orient="row")
    return df.with_columns(pl.col("service").cast(cat.ServiceT), pl.col("rate").cast(pl.Float32),
                           pl.col("resident_id").cast(pl.Int32),
                           pl.col("via_resident_id").cast(pl.Int32),
                           pl.col("start").cast(pl.Int32), pl.col("end").cast(pl.Int32),
                           pl.col("spell_record_id").cast(pl.Int64))


def _demand(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["resident_id", "day", "service"], orient="row").with_columns(
        pl.col("resident_id").cast(pl.Int32), pl.col("day").cast(pl.Int16),
        pl.col("service").cast(cat.ServiceT))


def test_deny_beats_discount_beats_expedite_and_intervals_are_half_open() -> None:
    eff = _effects([
        (1, "flight", "deny", None, "ban", 10, 20, "list", "L", 1, 7),
        (1, "flight", "discount", 0.2, "d20", 0, 100, "tier", "A", 1, None),
        (1, "hospital", "expedite", None, "gc", 0, 100, "tier", "A", 1, None),
        (1, "hospital", "discount", 0.1, "d10", 0, 100, "tier", "A", 1, None),
        (1, "hospital", "discount", 0.3, "d30", 0, 100, "tier", "A", 1, None),
        (2, "private_school", "deny", None, "kids", 5, 6, "list", "L", 9, 8),
    ])
    dem = _demand([(1, 9, "flight"), (1, 10, "flight"), (1, 19, "flight"), (1, 20, "flight"),
                   (1, 50, "hospital"), (2, 5, "private_school"), (2, 6, "private_school"),
                   (3, 10, "flight")])
    d = decide(dem, eff).sort("resident_id", "day", "service")
    got = [(r["resident_id"], r["day"], r["decision"], r["consequence"]) for r in d.iter_rows(named=True)]
    assert got == [
        (1, 9, "discounted", "d20"), (1, 10, "denied", "ban"), (1, 19, "denied", "ban"),
        (1, 20, "discounted", "d20"), (1, 50, "discounted", "d30"), (2, 5, "denied", "kids"),
    ]
    kid = d.filter(pl.col("resident_id") == 2)
    assert kid["via_resident_id"][0] == 9  # spillover keeps whose listing caused it


def test_two_demands_same_day_two_decisions() -> None:
    eff = _effects([(1, "flight", "deny", None, "ban", 0, 100, "list", "L", 1, 7)])
    d = decide(_demand([(1, 5, "flight"), (1, 5, "flight")]), eff)
    assert d.height == 2


def _spells(n: int) -> pl.DataFrame:
    return pl.DataFrame({
        "resident_id": np.arange(n, dtype=np.int32), "list": ["L"] * n,
        "start_day": np.full(n, 10, dtype=np.int32), "end_day": [None] * n,
        "exit_reason": pl.Series([None] * n, dtype=pl.Enum(["term_expired", "appealed"])),
        "record_id": np.arange(n, dtype=np.int64) + 1000, "wrongful": [True] * n,
        "wrongful_cause": ["linkage_error"] * n, "truth_performed_day": [None] * n,
    }).with_columns(pl.col("end_day").cast(pl.Int32),
                    pl.col("truth_performed_day").cast(pl.Int32))


def test_objections_unequal_access_and_processing_delay() -> None:
    n = 20_000
    sp = _spells(n)
    res = pl.DataFrame({"resident_id": np.arange(n, dtype=np.int32),
                        "education": ["tertiary", "primary"] * (n // 2),
                        "income_decile": [8, 2] * (n // 2),
                        "hukou": ["local", "migrant"] * (n // 2)})
    m = AppealsModel()
    ap = objections(sp, res, seed=1, days=365, start_date=dt.date(2021, 1, 1), model=m)
    rate_adv = (ap["resident_id"] % 2 == 0).sum() / (n / 2)
    rate_dis = (ap["resident_id"] % 2 == 1).sum() / (n / 2)
    exp_adv = min(1, m.base.value * m.tertiary_factor.value)
    exp_dis = m.base.value * m.low_income_factor.value * m.migrant_factor.value
    assert abs(rate_adv - exp_adv) < 0.03 and abs(rate_dis - exp_dis) < 0.03
    assert rate_adv > 3 * rate_dis
    # 10 + 3 working days: at least 13 and at most 19 calendar days
    gap = ap["decided_day"] - ap["filed_day"]
    assert gap.min() >= 13 and gap.max() <= 19
    up = (ap["outcome"] == "upheld").mean()
    assert abs(up - m.success_wrongful.value) < 0.03
    ended = apply_appeals(sp, ap)
    upheld = ap.filter(pl.col("outcome") == "upheld")
    e = ended.join(upheld.select("resident_id", "decided_day"), on="resident_id")
    assert (e["end_day"] == e["decided_day"]).all()
    assert (e["exit_reason"] == "appealed").all()
    assert ended.filter(~pl.col("resident_id").is_in(upheld["resident_id"].implode()))[
        "end_day"].null_count() == n - upheld.height


def test_tier_decisions_labelled_against_truth_world() -> None:
    from creditsim.services.evaluate import label_state_decisions

    dec = pl.DataFrame({
        "resident_id": [1, 2, 3, 4], "day": [50, 50, 50, 10], "service": ["hospital"] * 4,
        "decision": ["expedited"] * 4, "consequence": ["gc"] * 4,
        "cause_type": ["tier", "tier", "tier", "list"], "cause": ["good"] * 3 + ["L"],
        "via_resident_id": [1, 2, 3, 4], "wrongful": [False] * 4,
        "wrongful_cause": pl.Series([None] * 4, dtype=pl.Enum(
            ["linkage_error", "data_error", "expired_entry"])),
    }).with_columns(pl.col("resident_id").cast(pl.Int32), pl.col("via_resident_id").cast(pl.Int32),
                    pl.col("day").cast(pl.Int16))
    # truth world: resident 1 is "good" on day 50; 2 is "good" only until day 40;
    # 3 has no interval (baseline tier "normal").
    states = pl.DataFrame({"resident_id": [1, 2], "start": [1, 1], "end": [365, 40],
                           "score": [720, 720], "tier": ["good", "good"]}).with_columns(
        pl.col("resident_id").cast(pl.Int32), pl.col("start").cast(pl.Int32),
        pl.col("end").cast(pl.Int32), pl.col("score").cast(pl.Int32))
    links = pl.DataFrame({"resident_id": [2, None], "truth_resident_id": [9, 3],
                          "method": ["probabilistic", "unlinked"]}).with_columns(
        pl.col("resident_id").cast(pl.Int32), pl.col("truth_resident_id").cast(pl.Int32))
    out = label_state_decisions(dec, states, (600, "normal"), {"gc": (["good"], None)}, links)
    assert out["wrongful"].to_list() == [False, True, True, False]
    # 2 holds someone else's record (linkage); 3 missed one of their own (unlinked)
    assert out["wrongful_cause"].to_list() == [None, "linkage_error", "linkage_error", None]
