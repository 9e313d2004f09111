"""Record linkage: one resident (or none) for every departmental record.

Public API::

    from creditsim.linkage import link_records, evaluate_links
    result = link_records(records, register, seed=1, workdir=tmp, charts_dir=run / "charts")
    result.links      # the links table (LINKS_SCHEMA)
    result.metrics    # the linkage.json document

See docs/linkage.md for the algorithm and the contract.
"""

from creditsim.linkage.evaluate import LINKS_SCHEMA, evaluate_links
from creditsim.linkage.model import LinkageModel
from creditsim.linkage.schema import DEFAULT_THRESHOLD, METHODS, RECORD_IDENTITY, MethodT
from creditsim.linkage.stage import (
    CHART_FILES,
    LinkageResult,
    RegisterPrep,
    link_records,
    prepare_register,
)

__all__ = [
    "CHART_FILES", "DEFAULT_THRESHOLD", "LINKS_SCHEMA", "METHODS", "RECORD_IDENTITY",
    "LinkageModel", "LinkageResult", "MethodT", "RegisterPrep", "evaluate_links", "link_records",
    "prepare_register",
]
