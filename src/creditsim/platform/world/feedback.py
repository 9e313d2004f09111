"""Behavioural feedback: deterrence and gaming (world side of the platform stage).

Implemented by *thinning* candidate events (Lewis–Shedler): the behaviour stage
draws candidate events at each kind's full rate (and, for kinds people can do
more of, extra "boost" candidates at the highest boosted rate); a candidate is
kept when its own counter-based uniform is below the resident's multiplier on
that day. Because each candidate has its own uniform, a policy that deters one
resident removes only that resident's events, and with feedback off every base
candidate is kept and no boost candidate is — so events and records are the same
under every policy (common random numbers).

* **Deterrence**: from the day after a resident is first sanctioned (listed, or
  denied a service), their rate of every breach kind is multiplied by
  ``1 − deterrence`` (assumption: default 0.3, i.e. an elasticity of −0.3 to a
  sanction; configurable, 0 switches it off).
* **Gaming**: residents whose score is within ``gaming_band`` points below the
  lowest green-channel threshold volunteer ``gaming_factor`` times as much
  (assumption: 1.5; the Weihai/Fuzhou volunteering points make this the cheapest
  way up, sources#weihai-haibei-2020, sources#fuzhou-volunteering).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import polars as pl

from creditsim.catalogue import KIND_BY_NAME
from creditsim.params import Cited
from creditsim.policy import Policy
from creditsim.rng import keyed_uniforms

A = "assumption"
BOOSTABLE = ("volunteer_hours",)


@dataclass(frozen=True)
class FeedbackModel:
    """Strength of behavioural responses. ``enabled=False`` is ``--no-feedback``."""

    enabled: bool = True
    deterrence: Cited[float] = Cited(0.3, A + ": breach rates fall by 30% after a first "
                                     "sanction; no published elasticity was found")
    gaming_factor: Cited[float] = Cited(1.5, A + ": volunteering rises by half near a "
                                        "green-channel threshold")
    gaming_band: Cited[int] = Cited(50, A + ": points below the threshold at which "
                                    "residents start to game")
    #: Boost candidates are drawn at (max_boost − 1) × rate; the gaming factor must
    #: not exceed it. Equal to the default gaming factor, so no candidate is wasted.
    max_boost: float = 1.5
    max_boost_source: str = A + ": headroom for gaming, equal to the default gaming factor"

    PARAM_SOURCES: ClassVar[dict[str, str]] = {"max_boost": "max_boost_source"}

    def __post_init__(self) -> None:
        if self.gaming_factor.value > self.max_boost:
            raise ValueError("gaming_factor cannot exceed max_boost")


@dataclass
class Candidates:
    """What thinning needs of the candidate events, computed once per run."""

    rid: np.ndarray
    day: np.ndarray
    boost: np.ndarray
    breach: np.ndarray
    u: np.ndarray  # one counter-based uniform per candidate (keyed by event id)

    @classmethod
    def of(cls, candidates: pl.DataFrame, seed: int) -> Candidates:
        valence = np.array([KIND_BY_NAME[k].valence for k in
                            candidates.schema["kind"].categories.to_list()])  # type: ignore[union-attr]
        return cls(
            rid=candidates["resident_id"].to_numpy(),
            day=candidates["day"].to_numpy().astype(np.int64),
            boost=candidates["boost"].to_numpy(),
            breach=valence[candidates["kind"].to_physical().to_numpy()] < 0,
            u=keyed_uniforms(seed, "feedback.keep", candidates["event_id"].to_numpy(), 1)[:, 0],
        )


def keep_mask(c: Candidates, sanction_day: np.ndarray, gaming: pl.DataFrame,
              model: FeedbackModel) -> np.ndarray:
    """Which candidate events happen, given each resident's first sanction day
    (``2**31−1`` = never) and gaming intervals (resident_id, start, end)."""
    if not model.enabled:
        return ~c.boost
    # A sanction that starts on day s is the state *during* s; behaviour responds
    # from the next day (strictly causal, so the platform loop reaches its fixed point).
    deterred = c.breach & (c.day > sanction_day[c.rid])
    m_base = np.where(deterred, 1.0 - model.deterrence.value, 1.0)
    keep = np.where(c.boost, False, c.u < m_base)
    if c.boost.any() and gaming.height:
        b = np.flatnonzero(c.boost)
        hits = pl.DataFrame({"i": b, "resident_id": c.rid[b].astype(np.int32),
                             "day": c.day[b]}).join(gaming, on="resident_id").filter(
            (pl.col("day") >= pl.col("start")) & (pl.col("day") < pl.col("end")))
        idx = hits["i"].unique().to_numpy()
        thr = (model.gaming_factor.value - 1.0) / (model.max_boost - 1.0)
        keep[idx] = c.u[idx] < thr
    return keep


def first_sanction_day(n: int, spells: pl.DataFrame, decisions: pl.DataFrame) -> np.ndarray:
    """Per resident: the first day they were listed or denied a service."""
    out = np.full(n, 2**31 - 1, dtype=np.int64)
    if spells.height:
        s = spells.group_by("resident_id").agg(pl.col("start_day").min())
        np.minimum.at(out, s["resident_id"].to_numpy(), s["start_day"].to_numpy())
    if decisions.height:
        d = decisions.filter(pl.col("decision") == "denied").group_by("resident_id").agg(
            pl.col("day").min())
        if d.height:
            np.minimum.at(out, d["resident_id"].to_numpy(), d["day"].to_numpy().astype(np.int64))
    return out


#: Gaming intervals: a resident games from ``start`` to ``end`` (exclusive).
GAMING_SCHEMA = {"resident_id": pl.Int32, "start": pl.Int32, "end": pl.Int32}


def gaming_intervals(states: pl.DataFrame, threshold: int | None, band: int) -> pl.DataFrame:
    """Intervals where a resident's score is within ``band`` below ``threshold``."""
    if threshold is None or states.height == 0:
        return pl.DataFrame(schema=GAMING_SCHEMA)
    return states.filter((pl.col("score") >= threshold - band) & (pl.col("score") < threshold)
                         ).select("resident_id", "start", "end")


def green_threshold(policy: Policy) -> int | None:
    """The lowest score that earns a green-channel benefit (expedite or discount),
    the threshold residents game towards; None if the policy has none."""
    lows = []
    for c in policy.consequences:
        if c.effect not in ("expedite", "discount"):
            continue
        if c.score_min is not None:
            lows.append(int(c.score_min))
        elif c.tiers:
            lows += [int(t.min) for t in policy.tiers if t.name in c.tiers]
    return min(lows) if lows else None

