"""The JSON Schema (draft 2020-12) of ``creditsim audit --json`` (docs/audit.md)."""

from __future__ import annotations

from typing import Any

_num = {"type": ["number", "null"]}
_int = {"type": "integer"}
_pair = {"type": "array", "items": _num, "minItems": 2, "maxItems": 2}

RATE: dict[str, Any] = {
    "type": "object",
    "required": ["count", "denominator", "rate", "ci95"],
    "properties": {"count": _int, "denominator": _int, "rate": _num, "ci95": _pair},
}

COMPARED_RATE: dict[str, Any] = {
    "type": "object",
    "required": ["count", "denominator", "rate", "ci95", "ratio", "ratio_ci95",
                 "four_fifths_flag", "ci_excludes_1", "comparison"],
    "properties": {
        **RATE["properties"], "ratio": _num, "ratio_ci95": _pair,
        "four_fifths_flag": {"type": ["boolean", "null"]},
        "outside_four_fifths": {"type": ["boolean", "null"]},
        "p_four_fifths": _num, "p_four_fifths_holm": _num, "p_ratio_1_holm": _num,
        "differs_from_1": {"type": ["boolean", "null"]},
        "ci_excludes_1": {"type": ["boolean", "null"]},
        "comparison": {"enum": ["ok", "reference", "insufficient_data", "undefined"]},
    },
}

DIST: dict[str, Any] = {"type": "object", "required": ["n", "mean", "median", "p90", "max"],
                        "properties": {"n": _int, "mean": _num, "median": _num, "p90": _num,
                                       "max": _num}}

GROUP_ROW: dict[str, Any] = {
    "type": "object",
    "required": ["group", "residents", "status", "sanctioned", "wrongly_sanctioned",
                 "wrongful_linkage_error", "wrongful_data_error", "wrongful_expired_entry",
                 "listed", "wrongful_among_sanctioned", "exit_routes"],
    "properties": {
        "group": {"type": "string"}, "residents": _int,
        "status": {"enum": ["ok", "insufficient_data"]},
        **{m: COMPARED_RATE for m in (
            "sanctioned", "wrongly_sanctioned", "wrongful_linkage_error", "wrongful_data_error",
            "wrongful_expired_entry", "listed", "denied", "green_channel",
            "wrongful_among_sanctioned", "missed_sanction", "false_positive_rate",
            "false_negative_rate", "false_discovery_rate", "false_omission_rate")},
        "exit_routes": {"type": "object", "additionalProperties": _int},
    },
}

_missing = {"type": "object", "required": ["status"],
            "properties": {"status": {"enum": ["ok", "missing"]},
                           "missing": {"type": "array", "items": {"type": "string"}}}}

AUDIT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "creditsim.audit/1",
    "type": "object",
    "required": ["schema", "run", "inputs", "settings", "headline", "groups", "cascade",
                 "time_on_list", "missed_sanctions", "services", "linkage"],
    "properties": {
        "schema": {"const": "creditsim.audit/1"},
        "run": {"type": "object",
                "required": ["path", "seed", "residents", "days", "start_date", "policy",
                             "residents_sha256"],
                "properties": {"path": {"type": "string"}, "seed": {"type": ["integer", "null"]},
                               "residents": _int, "days": _int,
                               "start_date": {"type": "string"}, "policy": {"type": "string"},
                               "residents_sha256": {"type": ["string", "null"]}}},
        "inputs": {"type": "object", "required": ["present", "missing", "notes"],
                   "properties": {k: {"type": "array", "items": {"type": "string"}}
                                  for k in ("present", "missing", "notes")}},
        "settings": {"type": "object",
                     "required": ["by", "confidence", "rate_interval", "ratio_interval",
                                  "four_fifths", "four_fifths_rule", "adjustment", "alpha",
                                  "min_residents", "min_events"],
                     "properties": {"adjustment": {"const": "holm"}}},
        "headline": {
            "type": "object",
            "required": ["residents", "days", "policy", "records", "link_precision",
                         "link_recall", "wrong_links", "list_spells", "residents_on_any_list",
                         "residents_listed", "residents_sanctioned", "sanction_rate",
                         "residents_wrongly_sanctioned", "wrongful_share_of_sanctioned",
                         "wrongly_sanctioned_by_cause", "residents_wrongly_listed",
                         "wrongly_listed_by_cause", "wrongful_source", "decisions",
                         "wrongful_green_channel", "appeals"],
            "properties": {
                "residents": _int, "residents_sanctioned": _int,
                "residents_wrongly_sanctioned": _int, "sanction_rate": _num,
                "wrongful_source": {"enum": ["run", "derived", "none"]},
                "wrongly_sanctioned_by_cause": {
                    "type": "object",
                    "required": ["linkage_error", "data_error", "expired_entry"],
                    "additionalProperties": _int},
                "residents_wrongly_listed": _int,
                "wrongly_listed_by_cause": {
                    "type": "object",
                    "required": ["linkage_error", "data_error", "expired_entry"],
                    "additionalProperties": _int},
                "decisions": {"type": ["object", "null"]},
                "wrongful_green_channel": {
                    "type": ["object", "null"],
                    "required": ["decisions", "residents", "by_cause"]},
                "appeals": {"type": ["object", "null"]},
            }},
        "groups": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["reference", "reference_rule", "rows"],
            "properties": {"reference": {"type": "string"},
                           "reference_rule": {"enum": ["largest group", "given"]},
                           "rows": {"type": "array", "items": GROUP_ROW}}}},
        "cascade": {**_missing, "required": ["status", "listed_residents",
                                             "household_members_of_listed"]},
        "time_on_list": _missing,
        "missed_sanctions": {**_missing, "properties": {
            **_missing["properties"], "should_be_listed": _int, "listed": _int,
            "true_positive": _int, "false_positive": _int, "missed": _int,
            "true_negative": _int,
            "missed_by_cause": {"type": "object",
                                "required": ["unlinked", "linked_to_other", "other"],
                                "additionalProperties": _int}}},
        "services": _missing,
        "linkage": _missing,
    },
}
