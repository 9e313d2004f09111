"""Hand-worked tests: for each preset, a few residents' histories with the expected
ledger, scores, tiers and list spells worked out by hand (arithmetic in comments).

Day 0 is Friday 2021-01-01. Monthly snapshot days: Jan 30, Feb 58, Mar 89, Apr 119,
May 150, Jun 180, Jul 211, Aug 242, Sep 272, Oct 303, Nov 333, Dec 364. A snapshot's
score and tier act on services from the next day.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from creditsim.policy import apply_policy, load_policy
from creditsim.services import effect_intervals

from . import consequences as oracle
from .helpers import linked, register
from .reference import reference_apply

START = date(2021, 1, 1)


def _run(name: str, rows: list[dict], recs: list[tuple], days: int = 365):  # noqa: ANN202
    policy = load_policy(name)
    reg, lk = register(rows), linked(recs)
    result = apply_policy(policy, reg, lk, days=days, start_date=START)
    ref = reference_apply(policy, reg, lk, days=days, start_date=START)
    for t, df in result.tables().items():  # the reference agrees on the hand-worked cases too
        assert df.sort(df.columns).equals(ref[t].sort(df.columns)), t
    return result, reg


def _effects_on(result, day: int, reg: pl.DataFrame) -> pl.DataFrame:  # noqa: ANN001
    """The consequences in force on ``day`` (the services stage's intervals), after
    checking them against the oracle."""
    fx = effect_intervals(result, reg).filter((pl.col("start") <= day) & (day < pl.col("end")))
    rows = fx.select(
        "resident_id", pl.col("service").cast(pl.String), "effect", "rate", "consequence",
        "via_resident_id", "cause_type", "cause", "spell_record_id").rows()
    assert set(rows) == oracle.in_force(result, day, oracle.Family(reg))
    return fx.sort("resident_id", "consequence", "via_resident_id")


def _scores(result, rid: int) -> list[tuple]:  # noqa: ANN001
    s = result.scores.filter(pl.col("resident_id") == rid).sort("month")
    return [(r["day"], r["score"], r["tier"]) for r in s.iter_rows(named=True)]


def _points(result, rid: int) -> list[tuple]:  # noqa: ANN001
    led = result.ledger.filter(pl.col("resident_id") == rid).sort("day", "record_id")
    return [
        (r["day"], r["rule_id"], r["points"], r["expires_day"]) for r in led.iter_rows(named=True)
    ]


def _spells(result) -> list[tuple]:  # noqa: ANN001
    sp = result.list_spells.sort("resident_id", "list", "start_day")
    return [
        (r["resident_id"], r["list"], r["start_day"], r["end_day"], r["exit_reason"])
        for r in sp.iter_rows(named=True)
    ]


def test_rongcheng() -> None:
    rows = [
        {"resident_id": 0, "consent": True},
        {"resident_id": 1, "consent": True},
        {"resident_id": 2, "birth_date": date(2004, 3, 1), "consent": True},  # 18 on 2022-03-01
        {"resident_id": 3, "hukou": "migrant", "years_in_city": 0.5, "consent": True},
        {"resident_id": 4, "consent": False},
    ]
    recs = [
        (1, 0, "traffic_violation", 8, 10, 200.0),
        (2, 0, "volunteer_hours", 20, 20, 25.0),
        (3, 0, "volunteer_hours", 40, 40, 10.0),
        (4, 0, "heroic_act", 70, 70, None),  # day 70 = 12 March
        (5, 1, "drunk_driving", 100, 100, None),
        (6, 2, "traffic_violation", 5, 5, 100.0),
        (7, 3, "traffic_violation", 100, 100, 100.0),
        (8, 3, "traffic_violation", 200, 200, 100.0),
        (9, 4, "traffic_violation", 5, 5, 100.0),
    ]
    r, _ = _run("rongcheng", rows, recs)
    # resident 0: traffic -5 (expires event 8 + 365 = 373); 25 h: 20 x 1 + 5 / 2 = 22.5 -> 22;
    # 10 h more: cumulative 35 h -> 20 + 15 / 2 = 27.5 -> 27, so +5; heroic act +30
    assert _points(r, 0) == [
        (10, "traffic_ticket", -5, 373),
        (20, "volunteering", 22, 750),
        (40, "volunteering", 5, 770),
        (70, "heroic_act", 30, 800),
    ]
    # Jan: 1000 - 5 + 22 = 1017 (A: 960-1029); Feb: + 5 = 1022 (A); Mar: + 30 = 1052 (AAA >= 1050)
    assert _scores(r, 0) == [(30, 1017, "A"), (58, 1022, "A"), (89, 1052, "AAA")]
    # resident 1: drunk driving -> grade C for 730 days although the score stays 1000
    assert _scores(r, 1) == [(119, 1000, "C")]
    # resident 2 is 17 all year; resident 4 refused consent: never scored
    assert _points(r, 2) == [] and _points(r, 4) == []
    assert r.covered_from[2] > 364 and r.covered_from[4] > 364
    # resident 3: migrant with 0.5 years -> covered from ceil(0.5 x 365.25) = 183;
    # the day-100 ticket is not scored, the day-200 ticket is: 1000 - 5 = 995 (A) from July
    assert r.covered_from[3] == 183
    assert _points(r, 3) == [(200, "traffic_ticket", -5, 565)]
    assert _scores(r, 3) == [(211, 995, "A")]


def test_fuzhou_volunteering_cap_and_transit_discount() -> None:
    rows = [{"resident_id": 0}, {"resident_id": 1}]
    recs = [
        (1, 0, "volunteer_hours", 10, 10, 300.0),
        (2, 0, "volunteer_hours", 40, 40, 300.0),
        (3, 0, "honour", 50, 50, None),
        (4, 0, "volunteer_hours", 370, 370, 100.0),
    ]
    r, reg = _run("fuzhou", rows, recs, days=400)
    # 300 h / 10 = 30 points; 600 h -> 60, +30 but the yearly cap of 50 leaves +20;
    # the honour (+5) finds the cap full -> no ledger row; in 2022 the cap restarts: 100 h -> +10
    assert _points(r, 0) == [
        (10, "volunteer_stars", 30, 375),
        (40, "volunteer_stars", 20, 405),
        (370, "volunteer_stars", 10, 735),
    ]
    # Jan 650 + 30 = 680 (good 650-749); Feb 680 + 20 = 700;
    # Jan 2022 (day 395): the day-10 entry expired at 375: 650 + 20 + 10 = 680
    assert _scores(r, 0) == [(30, 680, "good"), (58, 700, "good"), (395, 680, "good")]
    fx = _effects_on(r, 58, reg).filter(pl.col("service") == "transit_fare")
    got = sorted((x["resident_id"], round(x["rate"], 6)) for x in fx.iter_rows(named=True))
    # everyone scored gets 10% off; on day 58 resident 0 is still at January's 680
    assert got == [(0, 0.1), (1, 0.1)]
    fx = _effects_on(r, 59, reg).filter(pl.col("service") == "transit_fare")
    got = sorted((x["resident_id"], round(x["rate"], 6)) for x in fx.iter_rows(named=True))
    # from day 59 resident 0's February snapshot (700 >= 697) also gives 20%
    assert got == [(0, 0.1), (0, 0.2), (1, 0.1)]


def test_hangzhou_consent_and_brackets() -> None:
    rows = [{"resident_id": 0, "consent": True}, {"resident_id": 1, "consent": False}]
    recs = [(1, 0, "volunteer_hours", 5, 5, 120.0), (2, 1, "volunteer_hours", 5, 5, 120.0)]
    r, _ = _run("hangzhou", rows, recs)
    # 1 point per 5 h up to 100 h, then nothing: 100 / 5 = 20; 650 + 20 = 670 (good 600-699)
    assert _points(r, 0) == [(5, "city_contribution", 20, 370)]
    assert _scores(r, 0) == [(30, 670, "good")]
    assert _points(r, 1) == []  # no authorisation, no score


def test_xiamen_thresholds() -> None:
    rows = [{"resident_id": 0}, {"resident_id": 1}]
    recs = [
        (1, 0, "refuse_to_perform", 3, 3, 5000.0),
        (2, 1, "honour", 1, 1, None),
        (3, 1, "honour", 2, 2, None),
        (4, 1, "honour", 3, 3, None),
    ]
    r, reg = _run("xiamen", rows, recs)
    # resident 0: 550 - 150 = 400 (poor 0-529); resident 1: 550 + 3 x 20 = 610 (fair 530-649)
    assert _scores(r, 0) == [(30, 400, "poor")]
    assert _scores(r, 1) == [(30, 610, "fair")]
    fx = _effects_on(r, 30, reg)
    got = sorted((x["resident_id"], x["consequence"]) for x in fx.iter_rows(named=True))
    # until the first snapshot acts both are at the baseline 550: >= 530 roadside parking
    assert got == [(0, "roadside_parking_pay_later"), (1, "roadside_parking_pay_later")]
    fx = _effects_on(r, 31, reg)
    got = sorted((x["resident_id"], x["consequence"]) for x in fx.iter_rows(named=True))
    # 610 >= 600 library, >= 530 roadside parking; 400 gets nothing
    assert got == [(1, "library_40_books"), (1, "roadside_parking_pay_later")]


def test_sesame_clamps_at_350() -> None:
    rows = [{"resident_id": 0}]
    recs = [(i, 0, "refuse_to_perform", i, i, 100.0) for i in range(1, 5)]
    r, _ = _run("sesame", rows, recs)
    # 600 - 4 x 75 = 300, clamped to the floor 350 (poor 350-549)
    assert _scores(r, 0) == [(30, 350, "poor")]


def test_spc_list_life_cycle() -> None:
    rows = [{"resident_id": i} for i in range(5)] + [
        {"resident_id": 5, "father_id": 0, "household_id": 0, "relation": "child"}
    ]
    recs = [
        # resident 0: refusing (ground 1, indefinite) on case C1 at day 5 -> listed at 5 + 60 = 65;
        # performed on Sunday day 100 -> deleted 3 working days later: Mon 101, Tue 102, Wed 103
        (1, 0, "refuse_to_perform", 5, 5, 1000.0, "C1"),
        (2, 0, "judgment_performed", 100, 100, 1000.0, "C1"),
        # resident 1: obstruction (2 years) at day 10 -> 70 .. 70 + 730 = 800, then four
        # aggravating records: +365 each, at most 1095 -> ends 70 + 730 + 1095 = 1895
        (3, 1, "obstruct_enforcement", 10, 10, None, "C2"),
        (4, 1, "evade_enforcement", 100, 100, None, "C2"),
        (5, 1, "evade_enforcement", 200, 200, None, "C2"),
        (6, 1, "breach_settlement", 300, 300, None, "C2"),
        (7, 1, "evade_enforcement", 400, 400, None, "C2"),
        # resident 2: performs within the grace period (day 30 < 60): never published
        (8, 2, "refuse_to_perform", 0, 0, None, "C3"),
        (9, 2, "judgment_performed", 30, 30, None, "C3"),
        # resident 3: two cases, two spells; the performance of C4 does not end C5
        (10, 3, "refuse_to_perform", 0, 0, None, "C4"),
        (11, 3, "breach_settlement", 0, 0, None, "C5"),
        (12, 3, "judgment_performed", 200, 200, None, "C4"),  # Tue day 200 -> Fri day 203
    ]
    r, reg = _run("spc-list", rows, recs, days=2000)
    assert _spells(r) == [
        (0, "dishonest_debtors", 65, 103, "exit_record"),
        (1, "dishonest_debtors", 70, 1895, "term_expired"),
        (3, "dishonest_debtors", 60, 203, "exit_record"),
        (3, "dishonest_debtors", 60, 790, "term_expired"),
    ]
    fx = _effects_on(r, 70, reg).filter(pl.col("service") == "private_school")
    # the listed father's child is denied private school; the father himself is not affected
    assert [(x["resident_id"], x["via_resident_id"]) for x in fx.iter_rows(named=True)] == [(5, 0)]


def test_beijing_blacklist_caps_tier_and_no_fly() -> None:
    rows = [{"resident_id": 0}, {"resident_id": 1}]
    recs = [(1, 0, "tax_evasion", 10, 10, 1e6), (2, 1, "air_misconduct", 20, 20, None)]
    r, _ = _run("beijing", rows, recs, days=400)
    # resident 0: 600 - 50 = 550 ('normal' 550-699) but blacklisted from day 10 for 1095 days,
    # which holds the tier at 'untrustworthy'
    assert _scores(r, 0) == [(30, 550, "untrustworthy")]
    # resident 1: -10 (590, normal) for 365 days from event day 20 -> expires 385; no-fly 20..385
    assert _scores(r, 1) == [(30, 590, "normal"), (395, 600, "normal")]
    assert _spells(r) == [
        (0, "blacklist", 10, None, None),
        (1, "no_fly", 20, 385, "term_expired"),
    ]
