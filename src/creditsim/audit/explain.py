"""The provenance of one resident, in time order, and the reverse chain.

What they really did (truth events); what each department recorded about them
(with the record's faults); how the platform linked each record (method,
probability, right or wrong); which rules scored it (ledger); score changes; the
lists they entered and why; every service decision; every appeal. The reverse:
records of *other* residents that the platform linked to this one, and what those
records did to them.

Every table is read with a filter on this resident (pushed into the Parquet scan),
so explaining one resident of a 22M run reads little.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from creditsim.audit.run import AuditError, RunData
from creditsim.audit.sanctions import load_spells

#: Bits of ``truth_faults`` (records stage).
FAULTS: tuple[tuple[int, str], ...] = ((1, "name_typo"), (2, "id_missing"), (4, "id_mistyped"),
                                       (8, "id_other"), (16, "duplicate"), (32, "birth_wrong"))
STAGES: tuple[str, ...] = ("truth", "record", "rule", "score", "list", "decision", "appeal")


def fault_names(bits: int | None) -> list[str]:
    return [name for b, name in FAULTS if bits and bits & b]


@dataclass
class Explanation:
    """The provenance chain of one resident."""

    resident_id: int
    resident: dict[str, Any]
    #: day, date, stage, what, detail, status (``ok``, ``wrong``, ``wrongful``, ``""``), ref
    timeline: pl.DataFrame
    #: records of other residents linked to this one, with what they caused
    wrongly_linked_in: pl.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"resident_id": self.resident_id, "resident": self.resident,
                "summary": self.summary, "missing": self.missing,
                "timeline": self.timeline.to_dicts(),
                "wrongly_linked_in": self.wrongly_linked_in.to_dicts()}


class _Rows:
    def __init__(self, start: dt.date):
        self.start = start
        self.rows: list[dict[str, Any]] = []

    def add(self, day: int | None, stage: str, what: str, detail: str = "", status: str = "",
            ref: str = "") -> None:
        if day is None:
            return
        self.rows.append({"day": int(day), "date": self.start + dt.timedelta(days=int(day)),
                          "stage": stage, "what": what, "detail": detail, "status": status,
                          "ref": ref})

    def frame(self) -> pl.DataFrame:
        schema = {"day": pl.Int32, "date": pl.Date, "stage": pl.String, "what": pl.String,
                  "detail": pl.String, "status": pl.String, "ref": pl.String}
        df = pl.DataFrame(self.rows, schema=schema)
        order = {s: i for i, s in enumerate(STAGES)}
        return (df.with_row_index("_i")
                .with_columns(pl.col("stage").replace_strict(order, return_dtype=pl.Int8)
                              .alias("_s"))
                .sort("day", "_s", "_i").drop("_i", "_s"))


def _amount(a: float | None) -> str:
    return "" if a is None else f"{a:,.2f}".rstrip("0").rstrip(".")


def _records(run: RunData, ids: list[int], rid: int) -> pl.DataFrame:
    cols = ["record_id", "department", "kind", "day_event", "day_recorded", "name",
            "id_number", "amount", "case_number", "truth_event_id", "truth_resident_id",
            "truth_faults"]
    parts = []
    for d in run.departments:
        lf = run.scan(f"records/{d}")
        have = set(lf.collect_schema().names())
        flt = pl.col("record_id").is_in(ids)
        if "truth_resident_id" in have:
            flt = flt | (pl.col("truth_resident_id") == rid)
        sel = [(pl.col(c).cast(pl.String) if c in ("department", "kind") else pl.col(c))
               if c in have else pl.lit(None).alias(c) for c in cols]
        parts.append(lf.filter(flt).select(sel).collect())
    parts = [p for p in parts if p.height]
    if not parts:
        return pl.DataFrame()
    return pl.concat(parts, how="vertical_relaxed")


def explain_resident(run: RunData, resident_id: int) -> Explanation:
    """The provenance chain for ``resident_id`` (raises :class:`AuditError` if unknown)."""
    rid = int(resident_id)
    n = run.n_residents
    if not 0 <= rid < n:
        raise AuditError(f"resident {rid} not found: this run has residents 0..{n - 1}")
    reg = run.scan("residents").filter(pl.col("resident_id") == rid).collect()
    if reg.height == 0:
        raise AuditError(f"resident {rid} not found in {run.path}")
    person = {k: (v.isoformat() if isinstance(v, dt.date) else v)
              for k, v in reg.row(0, named=True).items()}
    rows = _Rows(run.start_date)
    missing = run.missing("events", "links", "ledger", "scores", "list_spells", "decisions",
                          "appeals")

    # Truth: what they really did.
    if run.has("events"):
        ev = run.scan("events").filter(pl.col("resident_id") == rid).collect()
        for e in ev.iter_rows(named=True):
            rows.add(e["day"], "truth", str(e["kind"]), _amount(e["amount"]), "",
                     f"event {e['event_id']}")

    # Links touching this resident (their own records, and others' assigned to them).
    links = (run.scan("links").filter((pl.col("resident_id") == rid)
                                      | (pl.col("truth_resident_id") == rid)).collect()
             if run.has("links") else pl.DataFrame(schema={"record_id": pl.Int64}))
    recs = _records(run, links["record_id"].to_list(), rid)
    link_of = {r["record_id"]: r for r in links.iter_rows(named=True)}
    wrong_in: list[dict[str, Any]] = []
    not_theirs: set[int] = set()
    for r in (recs.sort("day_recorded", "record_id").iter_rows(named=True)
              if recs.height else []):
        lk = link_of.get(r["record_id"])
        faults = fault_names(r["truth_faults"])
        true_rid = r["truth_resident_id"]
        what = f"{r['department']} record {r['record_id']}: {r['kind']}"
        bits = [f"event day {r['day_event']}"]
        if r["amount"] is not None:
            bits.append(f"amount {_amount(r['amount'])}")
        if r["case_number"]:
            bits.append(f"case {r['case_number']}")
        if faults:
            bits.append("faults: " + ", ".join(faults))
        if lk is None or lk.get("resident_id") is None:
            method = lk["method"] if lk else "unlinked"
            link_txt, status = f"not linked ({method})", "unlinked"
        else:
            p = lk.get("match_probability")
            link_txt = (f"linked by {lk['method']}" + (f" p={p:.3f}" if p is not None else "")
                        + f" to resident {lk['resident_id']}")
            status = "ok" if lk["resident_id"] == true_rid else "wrong"
        if true_rid == rid:
            rows.add(r["day_recorded"], "record", what, "; ".join([*bits, link_txt]), status,
                     f"record {r['record_id']}")
        else:
            not_theirs.add(r["record_id"])
            rows.add(r["day_recorded"], "record", what + f" (really resident {true_rid})",
                     "; ".join([*bits, link_txt]), "wrong", f"record {r['record_id']}")
            wrong_in.append({"record_id": r["record_id"], "department": r["department"],
                             "kind": r["kind"], "day_recorded": r["day_recorded"],
                             "true_resident_id": true_rid, "name_on_record": r["name"],
                             "method": str(lk["method"]) if lk else None,
                             "match_probability": lk.get("match_probability") if lk else None,
                             "faults": ", ".join(faults), "points": 0, "lists": ""})

    # Rules that scored the records linked to them.
    if run.has("ledger"):
        led = run.scan("ledger").filter(pl.col("resident_id") == rid).collect()
        for e in led.iter_rows(named=True):
            bad = e["record_id"] in not_theirs
            rows.add(e["day"], "rule", f"{e['rule_id']} {e['points']:+d} points",
                     f"record {e['record_id']}; counts until day {e['expires_day']}"
                     + ("; the record is someone else's" if bad else ""),
                     "wrong" if bad else "", f"record {e['record_id']}")
            for w in wrong_in:
                if w["record_id"] == e["record_id"]:
                    w["points"] += int(e["points"])
    if run.has("scores"):
        sc = run.scan("scores").filter(pl.col("resident_id") == rid).collect()
        for e in sc.iter_rows(named=True):
            rows.add(e["day"], "score", f"score {e['score']}, tier {e['tier']}",
                     f"month {e['month']}")

    # Lists.
    n_spells = 0
    if run.has("list_spells"):
        sp, source = load_spells(run, window=False)  # the whole chain, burn-in included
        sp = sp.filter(pl.col("resident_id") == rid)
        n_spells = sp.height
        for e in sp.iter_rows(named=True):
            wr = e.get("wrongful")
            cause = e.get("wrongful_cause")
            why = f"record {e['record_id']}" if e["record_id"] is not None else "score crossing"
            if e.get("case_number"):
                why += f", case {e['case_number']}"
            status = f"wrongful ({cause})" if wr else ("ok" if wr is False else "")
            rows.add(e["start_day"], "list", f"entered {e['list']}", why, status,
                     f"record {e['record_id']}" if e["record_id"] is not None else "")
            if e["end_day"] is not None:
                rows.add(e["end_day"], "list", f"left {e['list']}",
                         f"{e['route']} ({e['exit_reason']}) after {e['days_on_list']} days")
            for w in wrong_in:
                if w["record_id"] == e["record_id"]:
                    w["lists"] = ", ".join(x for x in (w["lists"], e["list"]) if x)

    # Service decisions: to them, and through them to their household.
    n_dec = 0
    if run.has("decisions"):
        d = run.scan("decisions").filter((pl.col("resident_id") == rid)
                                         | (pl.col("via_resident_id") == rid)).collect()
        for e in d.iter_rows(named=True):
            cause = f"{e.get('cause_type')} {e.get('cause')}".strip()
            rate = f" {e['rate']:.0%}" if e.get("rate") is not None else ""
            wr = e.get("wrongful")
            status = f"wrongful ({e.get('wrongful_cause')})" if wr else ("ok" if wr is False
                                                                         else "")
            if e["resident_id"] == rid:
                n_dec += 1
                via = (f"; because of resident {e['via_resident_id']}"
                       if e.get("via_resident_id") not in (None, rid) else "")
                rows.add(e["day"], "decision", f"{e['service']} {e['decision']}{rate}",
                         f"{e.get('consequence')}: {cause}{via}", status)
            else:
                rows.add(e["day"], "decision",
                         f"household member {e['resident_id']}: {e['service']} {e['decision']}"
                         f"{rate}", f"{e.get('consequence')}: {cause} (their status spilled "
                         "over)", status)
    if run.has("appeals"):
        ap = run.scan("appeals").filter(pl.col("resident_id") == rid).collect()
        for e in ap.iter_rows(named=True):
            rows.add(e["filed_day"], "appeal", f"appealed {e['list']} entry",
                     f"spell from day {e['spell_start_day']}, record {e['record_id']}")
            rows.add(e["decided_day"], "appeal", f"appeal {e['outcome']}",
                     f"{e['list']}, record {e['record_id']}",
                     "ok" if str(e["outcome"]) == "upheld" else "")

    tl = rows.frame()
    wrong_schema = {"record_id": pl.Int64, "department": pl.String, "kind": pl.String,
                    "day_recorded": pl.Int32, "true_resident_id": pl.Int32,
                    "name_on_record": pl.String, "method": pl.String,
                    "match_probability": pl.Float64, "faults": pl.String, "points": pl.Int32,
                    "lists": pl.String}
    wl = pl.DataFrame(wrong_in, schema=wrong_schema)
    own = links.filter(pl.col("truth_resident_id") == rid) if links.height else links
    summary = {
        "events": int((tl["stage"] == "truth").sum()),
        "records_about_them": own.height,
        "their_records_linked_elsewhere": int(
            own.filter(pl.col("resident_id").is_not_null()
                       & (pl.col("resident_id") != rid)).height) if own.height else 0,
        "their_records_unlinked": int(own["resident_id"].is_null().sum()) if own.height else 0,
        "others_records_linked_to_them": wl.height,
        "list_spells": n_spells, "decisions": n_dec,
    }
    return Explanation(resident_id=rid, resident=person, timeline=tl, wrongly_linked_in=wl,
                       summary=summary, missing=missing)
