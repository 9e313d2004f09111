"""Every default number cites where it comes from."""

from __future__ import annotations

from creditsim.behaviour import BehaviourModel
from creditsim.cities import CITIES
from creditsim.params import Cited, provenance
from creditsim.population.households import HouseholdModel
from creditsim.population.synth import PersonModel
from creditsim.records import DEFAULT_DEPARTMENTS


def _all_params() -> dict:
    out: dict = {}
    for name, city in CITIES.items():
        out.update(provenance(city, f"{name}."))
    out.update(provenance(HouseholdModel(), "households."))
    out.update(provenance(PersonModel(), "persons."))
    out.update(provenance(BehaviourModel().court, "court."))
    for k in BehaviourModel().kinds:
        out[f"behaviour.{k.kind}"] = {"value": k.base.value, "source": k.base.source}
    for d in DEFAULT_DEPARTMENTS:
        out.update(provenance(d, f"records.{d.name}."))
    return out


def test_every_parameter_has_a_source() -> None:
    params = _all_params()
    assert len(params) > 100
    bad = {k: v for k, v in params.items() if len(v["source"].strip()) < 8}
    assert not bad


def test_sources_are_citations_or_stated_assumptions() -> None:
    markers = ("assumption", "sources#")
    bad = {k: v["source"] for k, v in _all_params().items()
           if not any(m in v["source"].lower() for m in markers)}
    assert not bad, bad


def test_cited_flags_assumptions() -> None:
    assert Cited(1, "assumption: because").is_assumption
    assert not Cited(1, "sources#spc-list-provisions").is_assumption
