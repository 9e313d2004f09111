"""What the system did to each resident: sanctions, wrongful sanctions, green channel.

Definitions (docs/audit.md §Definitions):

* A **sanction** is a spell on a sanctioning list (any list whose policy ``kind`` is
  not ``"red"``) or a service decision ``denied``. A resident is *sanctioned* if they
  had at least one during the run.
* A sanction is **wrongful** when the run's ``wrongful`` column says so (decisions;
  list spells once the services/appeals stages add it). For runs whose list spells
  have no ``wrongful`` column the audit derives it from the truth: a spell is
  wrongful when the record that caused it is not really about the listed resident;
  the cause is ``data_error`` when the platform linked that record by its ID number
  (so the department typed another person's valid ID) and ``linkage_error`` when it
  was a probabilistic link — the services stage's own rule
  (``services/evaluate.py``). Score-list spells (no causing record) are then
  *undetermined* and not counted as wrongful.
* **Green channel**: a decision ``expedited`` or ``discounted``; it is *wrongful*
  (an undeserved benefit, labelled as decisions are, with the same causes) when the
  run's ``wrongful`` column says so.
* **The results window** is days ``[0, days)``: a run with a burn-in also holds the
  burn-in's rows (negative days). The audit counts the spells that overlap the
  window (begun in the burn-in and still open on day 0 included; their days on the
  list count from their real start) and the decisions made in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from creditsim.audit.run import RunData

CAUSES: tuple[str, ...] = ("linkage_error", "data_error", "expired_entry")
#: What each cause is called in headlines (docs/audit.md, Definitions).
CAUSE_LABELS: dict[str, str] = {"linkage_error": "wrong person (linkage)",
                                "data_error": "data error", "expired_entry": "late deletion"}

#: exit_reason (policy engine and later stages) → exit route of the audit.
ROUTES: dict[str, str] = {
    "exit_record": "repaid", "performed": "repaid", "repaid": "repaid",
    "term_expired": "expired", "expired": "expired",
    "appealed": "appealed", "appeal": "appealed", "appeal_upheld": "appealed",
    "score_recovered": "score_recovered",
}
ROUTE_ORDER: tuple[str, ...] = ("repaid", "appealed", "expired", "score_recovered",
                                "still_listed")

#: Services counted as "flights and trains".
TRANSPORT: tuple[str, ...] = ("flight", "g_train", "emu_first_class", "soft_sleeper")

@dataclass
class Sanctions:
    """Spells, decisions and one row of flags per resident."""

    spells: pl.DataFrame  # list_spells + sanction, route, days, wrongful, wrongful_cause
    decisions: pl.DataFrame | None  # decisions table (None when the run has none)
    people: pl.DataFrame  # resident_id + boolean flags, one row per resident
    wrongful_source: str  # "run" | "derived" | "none"
    notes: list[str] = field(default_factory=list)


def sanctioning_lists(run: RunData) -> set[str] | None:
    """Ids of lists that sanction (not redlists); None = all lists (policy unknown)."""
    pol = run.policy
    if pol is None:
        return None
    return {lst.id for lst in pol.lists if lst.kind != "red"}


def _route_expr() -> pl.Expr:
    reason = pl.col("exit_reason").cast(pl.String)
    return (pl.when(reason.is_null()).then(pl.lit("still_listed"))
            .otherwise(reason.replace_strict(ROUTES, default=reason)))


def load_spells(run: RunData, window: bool = True) -> tuple[pl.DataFrame, str]:
    """List spells with the audit's columns (``window``: only those overlapping the
    results window); and where ``wrongful`` came from."""
    schema = {"resident_id": pl.Int32, "list": pl.String, "start_day": pl.Int32,
              "end_day": pl.Int32, "exit_reason": pl.String, "record_id": pl.Int64}
    if not run.has("list_spells"):
        sp = pl.DataFrame(schema=schema)
    else:
        sp = run.table("list_spells").with_columns(pl.col("list").cast(pl.String),
                                                   pl.col("exit_reason").cast(pl.String))
        if window:
            sp = sp.filter((pl.col("start_day") < run.days)
                           & (pl.col("end_day").is_null() | (pl.col("end_day") > 0)))
    lists = sanctioning_lists(run)
    sp = sp.with_columns(
        (pl.col("list").is_in(sorted(lists)) if lists is not None else pl.lit(True))
        .alias("sanction"),
        _route_expr().alias("route"),
        (pl.col("end_day").fill_null(max(run.days, 0)) - pl.col("start_day")).clip(0)
        .cast(pl.Int32).alias("days_on_list"),
    )
    if "wrongful" in sp.columns:
        if "wrongful_cause" not in sp.columns:
            sp = sp.with_columns(pl.lit(None, dtype=pl.String).alias("wrongful_cause"))
        return sp.with_columns(pl.col("wrongful_cause").cast(pl.String)), "run"
    if sp.height == 0 or not run.has("links") or "truth_resident_id" not in run.columns(
            "links"):
        return sp.with_columns(pl.lit(None, dtype=pl.Boolean).alias("wrongful"),
                               pl.lit(None, dtype=pl.String).alias("wrongful_cause")), "none"
    truth = run.scan("links").select(
        "record_id", pl.col("truth_resident_id").alias("_true"),
        pl.col("method").cast(pl.String).alias("_method")).collect()
    sp = sp.join(truth, on="record_id", how="left", maintain_order="left")
    wrong = pl.col("_true").is_not_null() & (pl.col("_true") != pl.col("resident_id"))
    sp = sp.with_columns(
        pl.when(pl.col("_true").is_null()).then(pl.lit(None, dtype=pl.Boolean))
        .otherwise(wrong).alias("wrongful"),
        pl.when(wrong & (pl.col("_method") == "id")).then(pl.lit("data_error"))
        .when(wrong).then(pl.lit("linkage_error"))
        .otherwise(pl.lit(None, dtype=pl.String)).alias("wrongful_cause"),
    ).drop("_true", "_method")
    return sp, "derived"


def load_sanctions(run: RunData) -> Sanctions:
    """Everything the audit needs about sanctions, one row per resident in ``people``."""
    n = run.n_residents
    notes: list[str] = []
    spells, source = load_spells(run)
    if not run.has("list_spells"):
        notes.append("no list_spells table: listings are not counted")
    if source == "derived":
        notes.append("list spells carry no 'wrongful' column: wrongful listings derived from "
                     "the truth of the record that caused each spell (score-list spells "
                     "undetermined)")
    dec = run.windowed("decisions") if run.has("decisions") else None
    if dec is None:
        notes.append("no decisions table: sanctions are list spells only; denials, cascade, "
                     "green channel and services blocked are not available")

    def flag(ids: pl.Series) -> np.ndarray:
        out = np.zeros(n, dtype=bool)
        a = ids.drop_nulls().to_numpy()
        out[a[(a >= 0) & (a < n)]] = True
        return out

    sanc = spells.filter(pl.col("sanction"))
    listed = flag(sanc["resident_id"])
    on_any_list = flag(spells["resident_id"])
    wr_spell = sanc.filter(pl.col("wrongful").fill_null(False))
    wrong = flag(wr_spell["resident_id"])
    wrongly_listed = wrong.copy()
    by_cause = {c: flag(wr_spell.filter(pl.col("wrongful_cause") == c)["resident_id"])
                for c in CAUSES}
    listed_by_cause = {c: v.copy() for c, v in by_cause.items()}
    denied = np.zeros(n, dtype=bool)
    green = np.zeros(n, dtype=bool)
    green_wrong = {c: np.zeros(n, dtype=bool) for c in ("any", *CAUSES)}
    spill = np.zeros(n, dtype=bool)
    if dec is not None:
        d = dec.with_columns(pl.col("decision").cast(pl.String))
        den = d.filter(pl.col("decision") == "denied")
        denied = flag(den["resident_id"])
        gc = d.filter(pl.col("decision").is_in(["expedited", "discounted"]))
        green = flag(gc["resident_id"])
        if "wrongful" in gc.columns:
            gw = gc.filter(pl.col("wrongful").fill_null(False))
            green_wrong["any"] = flag(gw["resident_id"])
            if "wrongful_cause" in gw.columns:
                gw = gw.with_columns(pl.col("wrongful_cause").cast(pl.String))
                for c in CAUSES:
                    green_wrong[c] = flag(gw.filter(pl.col("wrongful_cause") == c)
                                          ["resident_id"])
        if "via_resident_id" in d.columns:
            spill = flag(den.filter(pl.col("via_resident_id") != pl.col("resident_id"))
                         ["resident_id"])
        if "wrongful" in den.columns:
            wd = den.filter(pl.col("wrongful").fill_null(False))
            wrong |= flag(wd["resident_id"])
            if "wrongful_cause" in wd.columns:
                wd = wd.with_columns(pl.col("wrongful_cause").cast(pl.String))
                for c in CAUSES:
                    by_cause[c] |= flag(wd.filter(pl.col("wrongful_cause") == c)["resident_id"])
        else:
            notes.append("decisions carry no 'wrongful' column: wrongful denials not counted")
    sanctioned = listed | denied
    people = pl.DataFrame({
        "resident_id": np.arange(n, dtype=np.int32),
        "listed": listed, "on_any_list": on_any_list, "denied": denied,
        "sanctioned": sanctioned, "wrongly_sanctioned": wrong & sanctioned,
        **{f"wrongful_{c}": by_cause[c] & sanctioned for c in CAUSES},
        "green_channel": green, "denied_via_household": spill,
        "wrongly_listed": wrongly_listed & listed,
        **{f"listed_{c}": listed_by_cause[c] & listed for c in CAUSES},
        "wrongful_green_channel": green_wrong["any"] & green,
        **{f"green_channel_{c}": green_wrong[c] & green for c in CAUSES},
    })
    return Sanctions(spells=spells, decisions=dec, people=people, wrongful_source=source,
                     notes=notes)
