"""Service decisions and appeals on hand-made tables."""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import numpy as np
import polars as pl

from creditsim import catalogue as cat
from creditsim.platform.appeals import AppealsModel, answer_objections, apply_appeals
from creditsim.platform.world.residents import file_objections
from creditsim.rng import keyed_uniforms
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
    filed = file_objections(sp, res, seed=1, days=365, model=m)
    ap = answer_objections(filed, seed=1, start_date=dt.date(2021, 1, 1), model=m)
    rate_adv = (ap["resident_id"] % 2 == 0).sum() / (n / 2)
    rate_dis = (ap["resident_id"] % 2 == 1).sum() / (n / 2)
    exp_adv = min(1, m.base.value * m.tertiary_factor.value)
    exp_dis = m.base.value * m.low_income_factor.value * m.migrant_factor.value
    assert abs(rate_adv - exp_adv) < 0.03 and abs(rate_dis - exp_dis) < 0.03
    assert rate_adv > 3 * rate_dis
    # 10 + 3 PRC working days: at least 13 calendar days, at most 26 (filings from
    # January to April 2021 span the Spring Festival week, 11-17 February)
    gap = ap["decided_day"] - ap["filed_day"]
    assert gap.min() >= 13 and gap.max() <= 26 and gap.max() > 19
    up = (ap["outcome"] == "upheld").mean()
    assert abs(up - m.success_wrongful.value) < 0.03
    ended = apply_appeals(sp, ap)
    upheld = ap.filter(pl.col("outcome") == "upheld")
    e = ended.join(upheld.select("resident_id", "decided_day"), on="resident_id")
    assert (e["end_day"] == e["decided_day"]).all()
    assert (e["exit_reason"] == "appealed").all()
    assert ended.filter(~pl.col("resident_id").is_in(upheld["resident_id"].implode()))[
        "end_day"].null_count() == n - upheld.height


def _objections_reference(spells: pl.DataFrame, residents: pl.DataFrame, seed: int, days: int,
                          start: dt.date, m: AppealsModel) -> pl.DataFrame:
    """Filing and answering in one pass, row by row: who objects (the residents'
    side) and the platform's answer drawn from one key's three uniforms."""
    rows = []
    for sp in spells.filter(pl.col("wrongful")).iter_rows(named=True):
        who = residents.row(sp["resident_id"], named=True)
        u = keyed_uniforms(seed, "appeals.objection",
                           np.array([sp["record_id"] * 64 + sp["resident_id"] % 64]), 3)[0]
        p = m.base.value * (m.tertiary_factor.value if who["education"] == "tertiary" else 1) \
            * (m.low_income_factor.value if who["income_decile"] <= 3 else 1) \
            * (m.migrant_factor.value if who["hukou"] == "migrant" else 1)
        lo, hi = m.notice_days.value
        notice = int(np.floor(lo + u[1] * (hi - lo + 1)))
        perf = sp["truth_performed_day"] or 0
        filed = (max(sp["start_day"], perf) if sp["wrongful_cause"] == "expired_entry"
                 else sp["start_day"]) + notice
        end = days if sp["end_day"] is None else sp["end_day"]
        if not (u[0] < min(p, 1.0) and filed < end and filed < days):
            continue
        decided, left = filed, m.answer_working_days.value + m.act_working_days.value
        while left:  # PRC working days (public holidays, make-up working days)
            decided += 1
            left -= chinese_calendar.is_workday(start + dt.timedelta(days=decided))
        rows.append((sp["resident_id"], sp["list"], sp["start_day"], sp["record_id"], filed,
                     decided, "upheld" if u[2] < m.success_wrongful.value else "rejected"))
    return pl.DataFrame(rows, schema=["resident_id", "list", "spell_start_day", "record_id",
                                      "filed_day", "decided_day", "outcome"], orient="row")


def test_filing_and_answering_match_a_row_by_row_reference() -> None:
    """The residents' side (who files, when) and the platform's (when and how it
    answers) together give what one pass over the spells gives: expired entries
    filed after the debt was paid, ended spells and late filings dropped."""
    rng = np.random.default_rng(3)
    n = 400
    sp = _spells(n).with_columns(
        pl.Series("start_day", rng.integers(0, 300, n), dtype=pl.Int32),
        pl.Series("end_day", np.where(rng.random(n) < 0.3, rng.integers(0, 365, n), -1),
                  dtype=pl.Int32).replace(-1, None),
        pl.Series("wrongful", rng.random(n) < 0.8),
        pl.Series("wrongful_cause", np.where(rng.random(n) < 0.5, "expired_entry",
                                             "linkage_error")),
        pl.Series("truth_performed_day", np.where(rng.random(n) < 0.5, rng.integers(0, 365, n),
                                                  -1), dtype=pl.Int32).replace(-1, None))
    res = pl.DataFrame({"resident_id": np.arange(n, dtype=np.int32),
                        "education": rng.choice(["tertiary", "primary"], n),
                        "income_decile": rng.integers(1, 11, n),
                        "hukou": rng.choice(["local", "migrant"], n)})
    m, start = AppealsModel(), dt.date(2021, 1, 1)
    got = answer_objections(file_objections(sp, res, seed=5, days=365, model=m), seed=5,
                            start_date=start, model=m)
    want = _objections_reference(sp, res, 5, 365, start, m)
    assert 20 < got.height < n and set(got["outcome"].cast(pl.String)) == {"upheld", "rejected"}
    key = ["filed_day", "resident_id", "record_id"]
    assert got.with_columns(pl.col("outcome").cast(pl.String)).sort(key).equals(
        want.cast(dict(got.schema) | {"outcome": pl.String}).sort(key))


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
