"""Stage 2 of linkage: a Fellegi–Sunter model with Splink on DuckDB.

For the records whose ID did not lead to a registered resident:

1. distinct identity tuples ("keys") are scored once (:func:`features.record_keys`);
2. the register is pre-filtered to residents some blocking rule can reach;
3. u probabilities are estimated by random sampling of register pairs, from a
   sample drawn with the run's seed (so they do not depend on the records);
   m probabilities come from the trained model shipped with the package;
   the prior is 1 / register size (every record has exactly one subject);
4. Splink scores the blocked pairs; pairs with match weight below
   ``LinkageModel.min_match_weight`` (odds 2^-20) are dropped;
5. for each key, the posterior of each candidate j is
   ``odds_j / (sum of candidates' odds + outside_blocks)`` — the probability
   that j, and no other resident, is the subject; the best candidate is linked
   when its posterior reaches the threshold. Exact ties are broken by a hash of
   the key's content, the resident and the seed.

Every result is a function of (record, register, model, seed) alone: the same
for any chunking of the records or of Splink's prediction.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from creditsim.linkage import features
from creditsim.linkage import model as mdl
from creditsim.rng import stream


@dataclass(frozen=True)
class SplinkOptions:
    """Resources for the DuckDB session (not part of the result)."""

    memory_limit: str = "4GB"
    threads: int = 2
    predict_chunks: int = 1


@dataclass
class ProbabilisticResult:
    """Best candidate per key, plus what the model was and what it cost."""

    best: pl.DataFrame  # uid, resident_id, posterior, n_candidates
    settings: dict[str, Any]
    stats: dict[str, int] = field(default_factory=dict)
    charts: dict[str, str] = field(default_factory=dict)  # name -> HTML


def _silence_splink() -> None:
    logging.getLogger("splink").setLevel(logging.ERROR)


def _connect(workdir: Path, opts: SplinkOptions):  # -> duckdb.DuckDBPyConnection
    import duckdb

    workdir.mkdir(parents=True, exist_ok=True)
    tmp = workdir / "duckdb_tmp"
    tmp.mkdir(exist_ok=True)
    # Settings go in through the configuration dict, not SQL text: the paths come
    # from the user's --out, and DuckDB runs every statement of one SQL string.
    return duckdb.connect(str(workdir / "splink.duckdb"), config={
        "memory_limit": str(opts.memory_limit), "threads": int(opts.threads),
        "temp_directory": tmp.as_posix(), "preserve_insertion_order": False})


def _splink_input(df: pl.DataFrame) -> pl.DataFrame:
    return df.select(
        pl.col("uid").cast(pl.Int64),
        "name", "name_py", "id_number", "id_birth", "id_rs", "birth_date",
        pl.col("sex").cast(pl.String), pl.col("district").cast(pl.String),
        "crowd_s", "crowd_n", "crowd_py",
    )


def gamma_sql(settings: dict[str, Any]) -> list[str]:
    """``CASE`` expressions giving each comparison's level, numbered as Splink does
    (null level -1, then the last level 0 up to the first level n-1)."""
    out = []
    for c in settings["comparisons"]:
        levels = c["comparison_levels"]
        nonnull = [lv for lv in levels if not lv.get("is_null_level")]
        parts = [f"WHEN {lv['sql_condition']} THEN -1" for lv in levels
                 if lv.get("is_null_level")]
        for k, lv in enumerate(nonnull):
            val = len(nonnull) - 1 - k
            parts.append(f"ELSE {val}" if lv["sql_condition"].strip().upper() == "ELSE"
                         else f"WHEN {lv['sql_condition']} THEN {val}")
        out.append(f"CASE {' '.join(parts)} END AS \"g_{c['output_column_name']}\"")
    return out


def estimate_u(con, settings: dict[str, Any], reg: features.RegisterFeatures, seed: int,
               pairs: int, pseudo_count: float = 0.5) -> dict[tuple[str, str], float]:
    """u probabilities from ``pairs`` random pairs of distinct registered residents
    (from all of them when the register has no more pairs than that).

    The pairs are drawn from the stream ``linkage.u_pairs`` of the run's seed, so u
    depends on the register and the seed only. Each pair's comparison levels are
    evaluated in DuckDB from the same SQL conditions the model uses. A level never
    observed gets ``pseudo_count`` (u = pseudo_count / pairs).

    DuckDB gets the register once and the pairs as two row numbers, joins them and
    counts the pairs per combination of levels in one pass; a level's count is the
    sum over the combinations that have it (exact integers: the same u as counting
    each comparison's levels over the materialised pairs, at about half the cost).
    """
    n = reg.height
    if n < 2:
        return {}
    i, j = _u_pairs(n, pairs, seed)
    cols = ["name", "name_py", "id_number", "birth_date", "sex", "district"]
    side = reg.frame.select("name", "id_number", "birth_date", "sex", "district").with_columns(
        reg.name_py(np.arange(n)), pl.col("sex", "district").cast(pl.String)
    ).select(cols).with_row_index("k")
    con.register("u_reg", side.to_arrow())
    con.register("u_idx", pl.DataFrame({"i": pl.Series(i, dtype=pl.UInt32),
                                        "j": pl.Series(j, dtype=pl.UInt32)}).to_arrow())
    names = [c["output_column_name"] for c in settings["comparisons"]]
    both = ", ".join(f'l."{c}" AS "{c}_l", r."{c}" AS "{c}_r"' for c in cols)
    levels = ", ".join(f'"g_{m}"' for m in names)
    try:
        combos = con.execute(
            f"WITH u_pairs AS (SELECT {both} FROM u_idx p JOIN u_reg l ON l.k = p.i "
            f"JOIN u_reg r ON r.k = p.j), g AS (SELECT {', '.join(gamma_sql(settings))} "
            f"FROM u_pairs) SELECT {levels}, count(*) FROM g GROUP BY ALL").fetchall()
    finally:
        con.unregister("u_reg")
        con.unregister("u_idx")
    out: dict[tuple[str, str], float] = {}
    for ci, c in enumerate(settings["comparisons"]):
        rows: dict[int, int] = {}
        for combo in combos:
            if combo[ci] >= 0:
                rows[combo[ci]] = rows.get(combo[ci], 0) + combo[-1]
        total = sum(rows.values())
        nonnull = [lv for lv in c["comparison_levels"] if not lv.get("is_null_level")]
        for k, lv in enumerate(nonnull):
            cnt = rows.get(len(nonnull) - 1 - k, 0)
            out[(names[ci], lv["label_for_charts"])] = (cnt if cnt else pseudo_count) \
                / max(total, 1)
    return out


def _u_pairs(n: int, pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Ordered pairs (i, j), i != j, of ``n`` residents: every one when there are no
    more than ``pairs`` (u is then exact), else ``pairs`` random ones from the stream
    ``linkage.u_pairs`` of ``seed``."""
    if n * (n - 1) <= pairs:
        i, j = np.divmod(np.arange(n * n, dtype=np.int64), n)
        keep = i != j
        return i[keep], j[keep]
    rng = stream(seed, "linkage.u_pairs")
    i = rng.integers(0, n, size=pairs)
    return i, (i + rng.integers(1, n, size=pairs)) % n  # j != i


def link_probabilistic(
    recs: pl.DataFrame,
    reg_feat: features.RegisterFeatures,
    *,
    trained: dict[str, Any],
    seed: int,
    workdir: Path,
    opts: SplinkOptions,
    model: mdl.LinkageModel | None = None,
    charts: bool = False,
) -> tuple[pl.DataFrame, ProbabilisticResult]:
    """Score ``recs`` against the register; returns (record→key map, result).
    ``model``: the crowd cap, the outside-blocks prior, the u sample and the least
    match weight kept (default: LinkageModel())."""
    _silence_splink()
    model = model or mdl.LinkageModel()
    keys, rec_key = features.record_keys(recs)
    kf = features.key_features(keys, reg_feat)
    cand = features.candidate_register(reg_feat, kf, model.crowd_cap.value)
    reg_feat.release_blocking()
    n_reg = reg_feat.height
    stats = {"records": recs.height, "keys": keys.height, "candidate_residents": cand.height}
    con = _connect(workdir, opts)
    try:
        best, settings, n_pairs, html = _run(con, kf, cand, reg_feat, trained=trained,
                                             seed=seed, n_reg=n_reg, opts=opts, charts=charts,
                                             model=model)
    finally:
        con.close()
        shutil.rmtree(workdir, ignore_errors=True)
    stats["scored_pairs"] = n_pairs
    return rec_key, ProbabilisticResult(best=best, settings=settings, stats=stats, charts=html)


def _run(con, kf: pl.DataFrame, cand: pl.DataFrame, reg_feat: features.RegisterFeatures, *,
         trained: dict[str, Any], seed: int, n_reg: int, opts: SplinkOptions, charts: bool,
         model: mdl.LinkageModel
         ) -> tuple[pl.DataFrame, dict[str, Any], int, dict[str, str]]:
    """Score the keys against the candidate register with Splink's
    ``predict_between`` (records on the left, register on the right).

    The model is set up as ``dedupe_only`` over integer ids: ``predict_between``
    only forms left × right pairs, so no source-dataset column is needed, and the
    pairs are joined back to each side by an integer id instead of a composite
    string key. (Splink's ``link_only`` ``predict`` over the two tables gives the
    same pairs and match weights, tested, at about three times the cost.) The keys
    are scored in ``opts.predict_chunks`` slices; a key's best candidate depends
    only on its own pairs, so the slicing changes nothing but memory."""
    from splink import DuckDBAPI, Linker

    u = estimate_u(con, trained, reg_feat, seed, model.u_pairs(n_reg),
                   model.u_pseudo_count.value)
    m = mdl.m_probabilities(trained, floor=model.m_floor.value)
    settings = mdl.with_parameters(trained, m=m, u=u, lam=1.0 / n_reg,
                                   link_type="dedupe_only")
    db = DuckDBAPI(con)
    right = db.register(_splink_input(cand.rename({"resident_id": "uid"})).to_arrow(),
                        dataset_display_name="register", table_name="register")
    linker = Linker(right, settings, log_level=None)
    for col, code in (("name", "name_idx"), ("name_py", "py_idx")):
        tf = features.tf_table_of(reg_feat, col, np.concatenate(
            [kf[code].to_numpy(), cand[code].to_numpy()]))
        tf_sdf = db.register(tf.to_arrow(), table_name=f"tf_lookup_{col}")
        linker.table_management.register_term_frequency_lookup(tf_sdf, col)
    parts = max(1, min(int(opts.predict_chunks), kf.height))
    bounds = np.linspace(0, kf.height, parts + 1).astype(np.int64)
    bests, n_pairs = [], 0
    for c in range(parts):
        piece = kf.slice(int(bounds[c]), int(bounds[c + 1] - bounds[c]))
        name = f"records_{c}"
        left = db.register(_splink_input(piece).to_arrow(), dataset_display_name="records",
                           table_name=name)
        pred = linker.inference.predict_between(
            left, right, threshold_match_weight=model.min_match_weight.value,
            warning_mode="never")
        n_pairs += con.execute(f"SELECT count(*) FROM {pred.physical_name}").fetchall()[0][0]
        bests.append(_best_candidates(con, pred.physical_name, name, seed,
                                      model.outside_blocks.value))
        pred.drop_table_from_database_and_remove_from_cache()
        con.unregister(name)
    best = pl.concat(bests).sort("uid")
    html = {}
    if charts:
        html = {
            "match_weights": _stable_html(
                linker.visualisations.match_weights_chart().to_html(inline=True),
                "match_weights"),
            "m_u_parameters": _stable_html(
                linker.visualisations.m_u_parameters_chart().to_html(inline=True),
                "m_u_parameters"),
        }
    return best, linker.misc.save_model_to_json(), int(n_pairs), html


def _stable_html(html: str, name: str) -> str:
    """A chart's HTML with its random element id (a fresh uuid per call) replaced by
    one named for the chart, so the run's files are byte-identical on one seed."""
    return re.sub(r"splink-chart-[0-9a-f]{32}", f"splink-chart-{name}", html)


def _best_candidates(con, pred_table: str, keys_table: str, seed: int,
                     outside: float = mdl.OUTSIDE_BLOCKS) -> pl.DataFrame:
    """Per key: best candidate, its posterior among all candidates, candidate count
    (``pred_table``: Splink's predictions, keys on the left)."""
    s = int(seed)
    sql = f"""
    WITH p AS (
        SELECT uid_l AS uid, uid_r AS resident_id, match_weight FROM {pred_table}
    ), o AS (
        SELECT p.uid, p.resident_id, pow(2.0, p.match_weight) AS odds,
               hash(k.name, k.id_number, k.birth_date, k.sex, k.district,
                    p.resident_id, {s}) AS tie
        FROM p JOIN {keys_table} k ON k.uid = p.uid
    ), r AS (
        SELECT uid, resident_id,
               round(odds / (sum(odds) OVER (PARTITION BY uid) + {float(outside)!r}), 12)
                   AS posterior,
               count(*) OVER (PARTITION BY uid) AS n_candidates,
               row_number() OVER (PARTITION BY uid ORDER BY odds DESC, tie) AS rk
        FROM o
    )
    SELECT uid, CAST(resident_id AS INTEGER) AS resident_id, posterior,
           CAST(n_candidates AS INTEGER) AS n_candidates
    FROM r WHERE rk = 1 ORDER BY uid
    """
    tbl = con.sql(sql).to_arrow_table()
    return pl.from_arrow(tbl)  # type: ignore[return-value]
