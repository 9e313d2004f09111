"""The Fellegi–Sunter model, authored as plain Splink settings data.

Comparisons (each ends in an explicit "else"; null levels where a field is missing):

* **name** — exact characters (term-frequency adjusted: sharing a rare name is
  stronger evidence than sharing 王伟); same toneless pinyin (a homophone slip,
  the commonest typing error with pinyin input methods); one character changed or
  dropped (Levenshtein ≤ 3 on the UTF-8 bytes: a CJK character is 3 bytes); else.
* **birth_date** — exact; one keying slip (a day off, the year off by one, day and
  month swapped); else.
* **sex**, **district** — exact; else.
* **id_number** — only records whose ID failed the check reach this model, so the
  levels are: one digit changed (Hamming distance 1 — IDs are fixed-width, malformed
  ones are treated as missing); two digits changed or two adjacent swapped
  (Hamming 2); else. (Damerau–Levenshtein would say the same ten times slower.)

Blocking rules (OR-ed; Splink removes the pairs an earlier rule produced):

1. name + district (+ sex where the record has it), skipping crowded blocks;
2. pinyin + district, skipping crowded blocks (homophone typos);
3. pinyin + birth date (records whose name block was crowded but carry a birth date);
4. pinyin + the birth-date digits of a mistyped ID;
5. pinyin + the region and sequence digits of a mistyped ID — a single slip
   leaves one of the two intact, so 4 and 5 reach every mistyped ID whose name
   is right or a homophone, however crowded its name.

"Crowded" blocks (more than :data:`CROWD_CAP` registered residents share the key)
are purged: a record in one could at best reach a posterior of about 1/CROWD_CAP
from name, district and sex alone, because nothing tells the candidates apart;
records in crowded blocks that carry a birth date or an ID are still reached by
rules 3 and 4. See docs/linkage.md for the measured block sizes.
"""

from __future__ import annotations

import json
from copy import deepcopy
from importlib import resources
from dataclasses import dataclass
from typing import Any

from creditsim.errors import ConfigError
from creditsim.params import Cited

#: Maximum registered residents sharing a name block for the block to be compared.
CROWD_CAP = 100

#: Prior probability that a record's true subject is outside every block
#: (measured when the shipped model was trained; docs/linkage.md).
OUTSIDE_BLOCKS = 0.02


@dataclass(frozen=True)
class LinkageModel:
    """The settings of the probabilistic linkage besides the trained model and the
    acceptance threshold (``--linkage-threshold``)."""

    crowd_cap: Cited[int] = Cited(
        CROWD_CAP, "assumption: a name block shared by more registered residents than this "
        "is not compared (its best posterior could not pass the threshold)", bounds=(1, None))
    outside_blocks: Cited[float] = Cited(
        OUTSIDE_BLOCKS, "assumption: prior probability that a record's subject is in no "
        "block, measured when the shipped model was trained (docs/linkage.md)",
        bounds=(0.0, 1.0))
    min_match_weight: Cited[float] = Cited(
        -20.0, "assumption: candidate pairs whose match weight (log2 odds) is below this are "
        "dropped; at odds under 2^-20 a candidate cannot change a posterior at the "
        "precision kept (12 decimals)", unit="log2 odds", bounds=(None, 0.0))
    m_floor: Cited[float] = Cited(
        1e-4, "assumption: the least m probability of a level (EM leaves a level it never "
        "observed at 0): a disagreement on such a level is strong evidence, not proof",
        unit="probability", bounds=(1e-12, 1.0))
    u_pairs_per_resident: Cited[float] = Cited(
        100.0, "assumption: random register pairs drawn per registered resident to estimate "
        "u, between u_pairs_min and u_pairs_max: registers of 30,000 residents and more "
        "get u_pairs_max (docs/linkage.md: sampling error)",
        unit="pairs per resident", bounds=(0.0, None))
    u_pairs_min: Cited[int] = Cited(
        1_000_000, "assumption: the fewest pairs drawn to estimate u: in a 2,000-resident "
        "register the log2 u of every level observed then has a standard deviation of "
        "0.25 or less between seeds (0.12 at 3 M pairs; docs/linkage.md)", unit="pairs",
        bounds=(1, None))
    u_pairs_max: Cited[int] = Cited(
        3_000_000, "assumption: the most pairs drawn to estimate u (a few seconds of "
        "DuckDB work at any register size)", unit="pairs", bounds=(1, None))
    u_pseudo_count: Cited[float] = Cited(
        0.5, "assumption: the count given a level no sampled pair showed (u = this / "
        "pairs compared): rare, not impossible", unit="pairs", bounds=(1e-9, None))

    def __post_init__(self) -> None:
        if self.u_pairs_min.value > self.u_pairs_max.value:
            raise ValueError(f"linkage.u_pairs_min ({self.u_pairs_min.value}) exceeds "
                             f"linkage.u_pairs_max ({self.u_pairs_max.value})")

    def u_pairs(self, residents: int) -> int:
        """How many register pairs u is estimated from, for a register of ``residents``:
        ``u_pairs_per_resident`` per resident, within [u_pairs_min, u_pairs_max]. A
        register with no more ordered pairs than that is compared in full
        (:func:`creditsim.linkage.probabilistic.estimate_u`)."""
        want = round(self.u_pairs_per_resident.value * residents)
        return int(min(max(want, self.u_pairs_min.value), self.u_pairs_max.value))


#: Columns the Splink input tables carry (records and register alike).
INPUT_COLUMNS: tuple[str, ...] = (
    "uid", "name", "name_py", "id_number", "id_birth", "id_rs", "birth_date", "sex",
    "district", "crowd_s", "crowd_n", "crowd_py",
)


_BIRTH_SLIP = (
    'abs("birth_date_l" - "birth_date_r") <= 1 OR '
    '(month("birth_date_l") = month("birth_date_r") AND day("birth_date_l") = day("birth_date_r") '
    'AND abs(year("birth_date_l") - year("birth_date_r")) = 1) OR '
    '(year("birth_date_l") = year("birth_date_r") AND month("birth_date_l") = day("birth_date_r") '
    'AND day("birth_date_l") = month("birth_date_r"))'
)


def _level(sql: str, label: str, **extra: Any) -> dict[str, Any]:
    return {"sql_condition": sql, "label_for_charts": label, **extra}


def _null(col: str) -> dict[str, Any]:
    return _level(f'"{col}_l" IS NULL OR "{col}_r" IS NULL', f"{col} missing",
                  is_null_level=True)


def _else() -> dict[str, Any]:
    return _level("ELSE", "All other comparisons")


def comparisons() -> list[dict[str, Any]]:
    """The comparisons, as Splink settings dictionaries (without m and u)."""
    return [
        {
            "output_column_name": "name",
            "comparison_description": "name: exact, homophone, one character, else",
            "comparison_levels": [
                _null("name"),
                _level('"name_l" = "name_r"', "exact name",
                       tf_adjustment_column="name", tf_adjustment_weight=1.0),
                _level('"name_py_l" = "name_py_r"', "same pinyin (homophone)",
                       tf_adjustment_column="name_py", tf_adjustment_weight=1.0),
                _level('levenshtein("name_l", "name_r") <= 3',
                       "one character changed or dropped"),
                _else(),
            ],
        },
        {
            "output_column_name": "birth_date",
            "comparison_description": "birth date: exact, one slip, else",
            "comparison_levels": [
                _null("birth_date"),
                _level('"birth_date_l" = "birth_date_r"', "exact birth date"),
                _level(_BIRTH_SLIP, "one keying slip (day or year off, day and month swapped)"),
                _else(),
            ],
        },
        {
            "output_column_name": "sex",
            "comparison_description": "sex: exact, else",
            "comparison_levels": [_null("sex"), _level('"sex_l" = "sex_r"', "same sex"),
                                  _else()],
        },
        {
            "output_column_name": "district",
            "comparison_description": "district of residence: exact, else",
            "comparison_levels": [_null("district"),
                                  _level('"district_l" = "district_r"', "same district"),
                                  _else()],
        },
        {
            "output_column_name": "id_number",
            "comparison_description": "ID number that failed its check: one slip, two, else",
            "comparison_levels": [
                _null("id_number"),
                _level('hamming("id_number_l", "id_number_r") <= 1', "one digit changed"),
                _level('hamming("id_number_l", "id_number_r") <= 2',
                       "two digits changed or swapped"),
                _else(),
            ],
        },
    ]


def blocking_rules(cap: int = CROWD_CAP) -> list[str]:
    """Blocking rules as SQL join conditions (see the module docstring)."""
    return [
        f'l."name" = r."name" AND l."district" = r."district" AND l."sex" = r."sex" '
        f'AND l."crowd_s" <= {cap} AND r."crowd_s" <= {cap}',
        f'l."name" = r."name" AND l."district" = r."district" '
        f'AND (l."sex" IS NULL OR r."sex" IS NULL) '
        f'AND l."crowd_n" <= {cap} AND r."crowd_n" <= {cap}',
        f'l."name_py" = r."name_py" AND l."district" = r."district" '
        f'AND l."crowd_py" <= {cap} AND r."crowd_py" <= {cap}',
        'l."name_py" = r."name_py" AND l."birth_date" = r."birth_date"',
        'l."name_py" = r."name_py" AND l."id_birth" = r."id_birth"',
        'l."name_py" = r."name_py" AND l."id_rs" = r."id_rs"',
    ]


def base_settings(link_type: str = "link_only", probability_two_random_records_match: float
                  = 1e-7, cap: int = CROWD_CAP) -> dict[str, Any]:
    """A complete, untrained Splink settings dictionary."""
    return {
        "link_type": link_type,
        "unique_id_column_name": "uid",
        "source_dataset_column_name": "source_dataset",
        "probability_two_random_records_match": probability_two_random_records_match,
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": br, "sql_dialect": "duckdb"} for br in blocking_rules(cap)
        ],
        "comparisons": comparisons(),
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": False,
        "sql_dialect": "duckdb",
    }


def model_names() -> list[str]:
    """Names of the trained models shipped (``models/<name>.json``), sorted."""
    return sorted(p.name.removesuffix(".json") for p in
                  resources.files("creditsim.linkage.models").iterdir()
                  if p.name.endswith(".json"))


def load_model(preset: str = "beijing") -> dict[str, Any]:
    """The trained settings shipped for ``preset`` (m probabilities from EM)."""
    try:
        text = resources.files("creditsim.linkage.models").joinpath(f"{preset}.json") \
            .read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no trained linkage model for preset {preset!r}") from None
    return json.loads(text)


def m_probabilities(settings: dict[str, Any], floor: float | None = None
                    ) -> dict[tuple[str, str], float | None]:
    """{(comparison, level label): m} of a settings dictionary; with ``floor``, every
    m at least ``floor`` (a level without an m gets ``floor``)."""
    out: dict[tuple[str, str], float | None] = {}
    for c in settings["comparisons"]:
        for lv in c["comparison_levels"]:
            if not lv.get("is_null_level"):
                m = lv.get("m_probability")
                if floor is not None:
                    m = max(m, floor) if isinstance(m, float) else floor
                out[(c["output_column_name"], lv["label_for_charts"])] = m
    return out


def with_parameters(settings: dict[str, Any], *, m: dict[tuple[str, str], float | None],
                    u: dict[tuple[str, str], float | None], lam: float,
                    link_type: str) -> dict[str, Any]:
    """A copy of ``settings`` with the given m, u, prior and link type."""
    s = deepcopy(settings)
    s.pop("creditsim_training", None)  # provenance of the shipped model, not a Splink key
    s["link_type"] = link_type
    s["probability_two_random_records_match"] = lam
    for c in s["comparisons"]:
        for lv in c["comparison_levels"]:
            key = (c["output_column_name"], lv["label_for_charts"])
            if lv.get("is_null_level"):
                continue
            if m.get(key) is not None:
                lv["m_probability"] = m[key]
            if u.get(key) is not None:
                lv["u_probability"] = u[key]
    return s
