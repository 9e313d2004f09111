"""Train the model once per city preset (m probabilities by EM).

EM over city-scale blocks costs about a minute, so the
m probabilities are estimated once, on a synthetic city of the preset, and
shipped as ``models/<preset>.json``; runs re-estimate u (by seeded sampling) and
the prior, which depend on the register. ``benchmarks/train_linkage_model.py``
regenerates the file.

Why EM rather than labelled pairs: the platform has no labels for records
without a valid ID — which are exactly the records this model scores; their
error processes (a mistyped ID, a missing birth date) differ from those of the
ID-linked records, whose labels would also be wrong wherever a relative's ID
was used.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import polars as pl

from creditsim.linkage import features
from creditsim.linkage import model as mdl
from creditsim.linkage.probabilistic import SplinkOptions, _connect, _splink_input, estimate_u

#: EM sessions: blocking rule → the comparisons it leaves free to estimate.
EM_BLOCKS: tuple[str, ...] = (
    'l."name" = r."name" AND l."district" = r."district"',
    'l."id_birth" = r."id_birth" AND l."district" = r."district"',
    'l."name_py" = r."name_py" AND l."birth_date" = r."birth_date"',
)


def train_model(recs: pl.DataFrame, reg_feat: features.RegisterFeatures, *, seed: int, workdir: Path,
                opts: SplinkOptions | None = None) -> dict[str, Any]:
    """Settings with m from EM on ``recs`` (records without a usable ID)."""
    from splink import DuckDBAPI, Linker

    logging.getLogger("splink").setLevel(logging.WARNING)
    opts = opts or SplinkOptions()
    keys, _ = features.record_keys(recs)
    kf = features.key_features(keys, reg_feat)
    lm = mdl.LinkageModel()
    cand = features.candidate_register(reg_feat, kf, lm.crowd_cap.value)
    base = mdl.base_settings()
    con = _connect(workdir, opts)
    try:
        u = estimate_u(con, base, reg_feat, seed, lm.u_pairs(reg_feat.height),
                       lm.u_pseudo_count.value)
        settings = mdl.with_parameters(base, m={}, u=u, lam=1.0 / reg_feat.height,
                                       link_type="link_only")
        db = DuckDBAPI(con)
        left = db.register(_splink_input(kf).to_arrow(), table_name="records")
        right = db.register(_splink_input(cand.rename({"resident_id": "uid"})).to_arrow(),
                            table_name="register")
        linker = Linker([left, right], settings, log_level=None)
        for col in ("name", "name_py"):
            tf = features.tf_table(reg_feat, col, pl.concat([kf[col], cand[col]]))
            linker.table_management.register_term_frequency_lookup(
                db.register(tf.to_arrow(), table_name=f"tf_lookup_{col}"), col)
        for br in EM_BLOCKS:
            linker.training.estimate_parameters_using_expectation_maximisation(
                br, estimate_without_term_frequencies=True)
        out = linker.misc.save_model_to_json()
    finally:
        con.close()
    # Runs set u and the prior themselves; keep only what training estimated. m of a
    # level EM never observed (e.g. a sex disagreement between a record and its
    # subject) is raised to the floor (runs apply it too: linkage.m_floor).
    m_of = mdl.m_probabilities(out, floor=lm.m_floor.value)
    for c in out["comparisons"]:
        for lv in c["comparison_levels"]:
            lv.pop("u_probability", None)
            if not lv.get("is_null_level"):
                lv["m_probability"] = m_of[(c["output_column_name"], lv["label_for_charts"])]
    out.pop("linker_uid", None)
    return out
