"""The peer comparison keeps working: Mesa (A) and creditsim (B) implement the same model.

Two checks at a tiny size (no timing assertions — benchmarks are not tests):

* **replay** (exact): B's random draws are replayed into Mesa agents; every
  per-resident total and the daily listed count must be identical. This pins the
  semantics (expiry boundary, strict threshold, clamping, order within a day).
* **statistical**: each implementation with its own random numbers; the six aggregates
  must agree within four standard errors.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mesa")

PEER = Path(__file__).parents[1] / "benchmarks" / "peer"
sys.path.insert(0, str(PEER))

import compare  # noqa: E402
import model_creditsim  # noqa: E402
import model_mesa  # noqa: E402
from peer_common import (  # noqa: E402
    PeerParams,
    PeerResult,
    aggregates,
    agreement,
    check_consistent,
)

N, DAYS = 2_000, 10
#: Short expiry and a high rate so that listing and expiry both happen in 10 days.
SMALL = PeerParams(base_rate=0.15, expiry_days=4, threshold=990, demand_prob=0.1)
#: Large deductions so that the score hits its floor (clamping) and the list is long.
CLAMPED = PeerParams(base_rate=0.1, points=-400, score_min=0, expiry_days=3, threshold=300,
                     demand_prob=0.2)


class ReplayResident(model_mesa.Resident):
    """A Mesa resident that takes its violations and flight wishes from a plan."""

    def __init__(self, model: model_mesa.PeerModel, rate: float) -> None:
        super().__init__(model, rate)
        self.plan_events: dict[int, int] = {}
        self.plan_demands: set[int] = set()

    def violations_today(self) -> int:
        return self.plan_events.get(self.model.day, 0)

    def wants_flight_today(self) -> bool:
        return self.model.day in self.plan_demands


def replay_in_mesa(draws: dict[str, np.ndarray], params: PeerParams) -> PeerResult:
    model = model_mesa.PeerModel(N, params, seed=0, agent_class=ReplayResident)
    agents = sorted(model.agents, key=lambda a: a.unique_id)
    for r, d in zip(draws["event_resident"].tolist(), draws["event_day"].tolist(), strict=True):
        agents[r].plan_events[d] = agents[r].plan_events.get(d, 0) + 1
    for r, d in zip(draws["demand_resident"].tolist(), draws["demand_day"].tolist(), strict=True):
        agents[r].plan_demands.add(d)
    for _ in range(DAYS):
        model.step()
    return model_mesa.collect(model)


@pytest.mark.parametrize("params", [SMALL, CLAMPED], ids=["small", "clamped"])
def test_replay_identical(params: PeerParams) -> None:
    draws = model_creditsim.draw(N, DAYS, params, seed=5)
    b = model_creditsim.run(N, DAYS, params, draws=draws)
    a = replay_in_mesa(draws, params)
    for r in (a, b):
        check_consistent(r)
    assert b.ever_listed.sum() > 20 and b.denials.sum() > 5  # the list matters
    assert (b.listed_per_day[1:] < b.listed_per_day[:-1]).any()  # expiry takes people off
    for k in ("events", "demands", "denials", "listed_days", "listed_per_day"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k), err_msg=k)


def test_aggregates_agree() -> None:
    a = model_mesa.run(N, DAYS, SMALL, seed=3)
    b = model_creditsim.run(N, DAYS, SMALL, seed=3)
    for r in (a, b):
        check_consistent(r)
        assert r.ever_listed.sum() > 20 and r.denials.sum() > 5
    ag = agreement(aggregates(a), aggregates(b), z_tol=4.0)
    assert all(v["agree"] for v in ag.values()), ag


def test_agreement_detects_a_different_model() -> None:
    """The check has power: a 60% higher violation rate is caught at this size."""
    a = model_mesa.run(N, DAYS, SMALL, seed=3)
    b = model_creditsim.run(N, DAYS, PeerParams(**{**SMALL.as_dict(), "base_rate": 0.24}),
                            seed=3)
    ag = agreement(aggregates(a), aggregates(b), z_tol=4.0)
    assert not ag["events_per_resident_day"]["agree"]


def test_same_seed_same_result() -> None:
    for run in (model_mesa.run, model_creditsim.run):
        x, y = run(500, 5, SMALL, seed=9), run(500, 5, SMALL, seed=9)
        np.testing.assert_array_equal(x.listed_days, y.listed_days)
        np.testing.assert_array_equal(x.events, y.events)


def test_compare_script(tmp_path: Path) -> None:
    out = tmp_path / "peer.json"
    rc = compare.main(["--residents", str(N), "--days", str(DAYS), "--repeats", "1",
                       "--out", str(out)])
    rep = json.loads(out.read_text())
    assert rc == (0 if rep["all_agree"] else 1)
    assert set(rep["throughput"]) == {"mesa", "creditsim"}
    assert rep["throughput"]["mesa"]["resident_days_per_second"] > 0
    assert rep["packages"]["mesa"] and rep["machine"]["cpus"]
