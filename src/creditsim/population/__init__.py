"""Stage: population — the synthetic residents and their households (the truth).

:func:`synthesize` builds the ``residents`` register (DESIGN.md). Later stages
also use the name inventory drawn from here: the records stage's clerks mistype
a name as one of its homophones (:func:`homophone_table`), and the linkage
compares names by their pinyin (:func:`to_pinyin`).
"""

from creditsim.population.households import HouseholdModel
from creditsim.population.names import homophone_table, to_pinyin
from creditsim.population.synth import PersonModel, district_targets, synthesize

__all__ = ["HouseholdModel", "PersonModel", "district_targets", "homophone_table", "synthesize",
           "to_pinyin"]
