"""The audit: what the system did to people, measured against the truth.

The audit is the auditor, not the platform: it may read truth columns. Public API::

    run = RunData("runs/beijing-seed1")          # checks the run is complete
    report = audit_run(run, by="district,hukou")   # JSON-ready dict, docs/audit.md
    story = explain_resident(run, 4762)            # provenance of one resident
    diff = compare_runs(RunData(a), RunData(b))    # two runs on the same residents

Most users reach these through ``creditsim.open_run`` or the CLI
(``creditsim audit / explain / compare / report``).
"""

from creditsim.audit.core import SCHEMA, audit_run
from creditsim.audit.groups import DEFAULT_BY, GROUPINGS
from creditsim.audit.run import AuditError, RunData
from creditsim.audit.sanctions import CAUSE_LABELS, CAUSES, load_spells
from creditsim.audit.stats import Thresholds

__all__ = ["CAUSES", "CAUSE_LABELS", "DEFAULT_BY", "GROUPINGS", "SCHEMA", "AuditError",
           "RunData", "Thresholds", "audit_run", "load_spells"]
