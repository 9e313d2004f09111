"""List spells: who is on which list, from when to when, and why they left.

Record-triggered lists run a small state machine per key (resident, or
resident and case number) over the few records that matter to the list
(triggers, exits, aggravations), pre-sorted with Polars; the loop touches only
those records, which are a small share of the stream (court records). Score
lists are vectorised: the pre-override score changes only on days when ledger
entries start or expire, so runs below the threshold are found on that sparse
event series with a segmented cumulative sum.

The life cycle of a spell is specified in docs/policy.md ("List spells").
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from creditsim.catalogue import KIND_NAMES
from creditsim.policy.model import ListDef, Policy
from creditsim.policy.result import spells_schema
from creditsim.rundays import add_working_days

_KIND_CODE = {k: i for i, k in enumerate(KIND_NAMES)}
_NOT_TRIGGER = -2
_INDEFINITE = -1


def _kind_list_rows(li: ListDef, recs, start_date: date, days: int) -> list[tuple]:  # noqa: ANN001
    codes = {_KIND_CODE[k] for t in li.triggers for k in t.kinds}
    codes |= {_KIND_CODE[k] for k in li.exit_kinds} | {_KIND_CODE[k] for k in li.aggravating_kinds}
    sel = np.flatnonzero(recs.valid & np.isin(recs.kind, np.array(sorted(codes))))
    if sel.size == 0:
        return []
    frame = pl.DataFrame(
        {
            "i": sel,
            "res": recs.res[sel],
            "case": pl.Series(
                recs.case_numbers(sel) if li.per_case else [None] * sel.size, dtype=pl.String
            ),
            "day": recs.day[sel],
            "rid": recs.record_id[sel],
        }
    ).sort(["res", "case", "day", "rid"], nulls_last=False)
    idx = frame["i"].to_numpy()
    kind, amt = recs.kind[idx], recs.amount[idx]
    term = np.full(idx.size, _NOT_TRIGGER, dtype=np.int64)
    for t in reversed(li.triggers):  # the first matching trigger wins
        m = np.isin(kind, [_KIND_CODE[k] for k in t.kinds])
        if t.amount_min is not None:
            m &= amt >= t.amount_min
        term[m] = _INDEFINITE if t.term_days == "indefinite" else int(t.term_days)
    is_exit = np.isin(kind, [_KIND_CODE[k] for k in li.exit_kinds])
    is_aggr = np.isin(kind, [_KIND_CODE[k] for k in li.aggravating_kinds])
    day = frame["day"].to_numpy().astype(np.int64)
    # Working days of the People's Republic: the rule's deadlines are in working days.
    del_day = add_working_days(start_date, day, li.exit_after_working_days, "prc")

    rows: list[tuple] = []
    grace, extend, max_ext = li.grace_days, li.extend_days, li.max_extension_days

    def flush(sp: list | None) -> None:
        if sp is None:
            return
        res, entry, _term, _ext, end, reason, rid, case, _closing = sp
        if entry >= days or (end is not None and end <= entry):
            return
        if end is None or end >= days:
            end, reason = None, None
        rows.append((res, entry, end, reason, rid, case))

    res_l, case_l = frame["res"].to_list(), frame["case"].to_list()
    day_l, rid_l, term_l = day.tolist(), frame["rid"].to_list(), term.tolist()
    exit_l, aggr_l, del_l = is_exit.tolist(), is_aggr.tolist(), del_day.tolist()
    key = None
    sp: list | None = None  # [res, entry, term, ext, end, reason-if-closing, record_id, case]
    for j in range(len(day_l)):
        k = (res_l[j], case_l[j])
        if k != key:
            flush(sp)
            sp, key = None, k
        d = day_l[j]
        if sp is not None and sp[4] is not None and d >= sp[4]:
            flush(sp)
            sp = None
        if sp is None:
            if term_l[j] != _NOT_TRIGGER:
                entry = d + grace
                t = term_l[j]
                end = None if t == _INDEFINITE else entry + t
                sp = [
                    res_l[j],
                    entry,
                    t,
                    0,
                    end,
                    None if end is None else "term_expired",
                    rid_l[j],
                    case_l[j],
                ]
                sp.append(False)  # closing flag
            continue
        if sp[8]:  # deletion pending: nothing changes the spell any more
            continue
        if exit_l[j]:
            if d < sp[1]:  # performed within the grace period: never published
                sp = None
                continue
            nat = sp[4]
            if nat is not None and nat <= del_l[j]:
                sp[5] = "term_expired"
            else:
                sp[4], sp[5] = del_l[j], "exit_record"
            sp[8] = True
            continue
        if aggr_l[j] and sp[2] != _INDEFINITE and extend:
            sp[3] = min(sp[3] + extend, max_ext)
            sp[4] = sp[1] + sp[2] + sp[3]
    flush(sp)
    return rows


def _score_list_frame(
    li: ListDef, policy: Policy, ledger: pl.DataFrame, covered: np.ndarray, days: int
) -> pl.DataFrame:
    sc = policy.scale
    assert sc is not None and li.score_below is not None
    t = li.score_below
    res = ledger["resident_id"].to_numpy().astype(np.int64)
    day = ledger["day"].to_numpy().astype(np.int64)
    exp = ledger["expires_day"].to_numpy().astype(np.int64)
    pts = ledger["points"].to_numpy().astype(np.int64)
    live = exp > day
    res, day, exp, pts = res[live], day[live], exp[live], pts[live]
    users = np.unique(res)
    gone = exp < days
    ev = pl.DataFrame(
        {
            "res": np.concatenate([res, res[gone], users]),
            "day": np.concatenate([day, exp[gone], covered[users].astype(np.int64)]),
            "delta": np.concatenate([pts, -pts[gone], np.full(users.size, sc.baseline, np.int64)]),
        }
    )
    ev = ev.group_by("res", "day").agg(pl.col("delta").sum()).sort("res", "day")
    e_res, e_day = ev["res"].to_numpy(), ev["day"].to_numpy()
    first = np.ones(e_res.size, dtype=bool)
    first[1:] = e_res[1:] != e_res[:-1]
    cs = np.cumsum(ev["delta"].to_numpy())
    grp_first = np.flatnonzero(first)
    base = np.where(grp_first > 0, cs[np.maximum(grp_first - 1, 0)], 0)
    raw = cs - base[np.cumsum(first) - 1]
    below = np.clip(raw, sc.min, sc.max) < t
    prev_below = np.zeros_like(below)
    prev_below[1:] = below[:-1]
    starts = np.flatnonzero(below & (first | ~prev_below))
    bounds = np.flatnonzero(~below | first)
    nxt = np.searchsorted(bounds, starts, side="right")
    has = nxt < bounds.size
    b = bounds[np.minimum(nxt, bounds.size - 1)]
    closes = has & (e_res[b] == e_res[starts]) & ~below[b]
    end = np.where(closes, e_day[b], -1)
    frame = pl.DataFrame(
        {
            "resident_id": e_res[starts].astype(np.int32),
            "start_day": e_day[starts].astype(np.int32),
            "end_day": pl.Series(end.astype(np.int32)).replace(-1, None),
        }
    )
    # residents scored at the baseline all run long
    if np.clip(sc.baseline, sc.min, sc.max) < t:
        others = np.setdiff1d(np.flatnonzero(covered < days), users, assume_unique=True)
        frame = pl.concat(
            [
                frame,
                pl.DataFrame(
                    {
                        "resident_id": others.astype(np.int32),
                        "start_day": covered[others].astype(np.int32),
                        "end_day": pl.Series([None] * others.size, dtype=pl.Int32),
                    }
                ),
            ]
        )
    causes = ledger.group_by("resident_id", pl.col("day").cast(pl.Int32).alias("start_day")).agg(
        pl.col("record_id").max()
    )
    return frame.join(causes, on=["resident_id", "start_day"], how="left").with_columns(
        pl.when(pl.col("end_day").is_null())
        .then(None)
        .otherwise(pl.lit("score_recovered"))
        .alias("exit_reason"),
        pl.lit(None, dtype=pl.String).alias("case_number"),
    )


def build_spells(
    policy: Policy,
    recs,  # noqa: ANN001  (engine.Records; avoids an import cycle)
    ledger: pl.DataFrame,
    covered: np.ndarray,
    start_date: date,
    days: int,
) -> pl.DataFrame:
    """The list_spells table for every list of ``policy``."""
    schema = spells_schema(policy)
    frames = []
    for li in policy.lists:
        if li.score_below is not None:
            f = _score_list_frame(li, policy, ledger, covered, days)
        else:
            rows = _kind_list_rows(li, recs, start_date, days)
            f = pl.DataFrame(
                rows,
                schema=[
                    "resident_id",
                    "start_day",
                    "end_day",
                    "exit_reason",
                    "record_id",
                    "case_number",
                ],
                orient="row",
            )
        frames.append(
            f.with_columns(pl.lit(li.id).alias("list")).select(list(schema)).cast(schema)  # type: ignore[arg-type]
        )
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames).sort(
        "resident_id", "list", "start_day", "record_id", nulls_last=False, maintain_order=True
    )
