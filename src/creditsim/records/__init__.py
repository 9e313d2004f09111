"""Stage: records — each department's own database, with its own faults."""

from creditsim.records.departments import DEFAULT_DEPARTMENTS, FAULT_BITS, DepartmentModel
from creditsim.records.generate import COMMON_SCHEMA, TRUTH_SCHEMA, build_records

__all__ = ["COMMON_SCHEMA", "DEFAULT_DEPARTMENTS", "FAULT_BITS", "TRUTH_SCHEMA",
           "DepartmentModel", "build_records"]
