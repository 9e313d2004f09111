"""Comparison and blocking columns for records and register (Polars, vectorised).

Both sides get the same columns (:data:`creditsim.linkage.model.INPUT_COLUMNS`):
pinyin of the name, the birth-date digits of the ID, and the "crowd" counts —
how many registered residents share the row's name block — used to purge
crowded blocks.
"""

from __future__ import annotations

import polars as pl

from creditsim.linkage.prepare import pinyin_of

_KEY_COLS = ["name", "id_number", "birth_date", "sex", "district"]


def register_features(reg: pl.DataFrame) -> pl.DataFrame:
    """Register (identity view) plus name_py, id_birth and crowd counts."""
    df = reg.with_columns(
        pinyin_of(reg["name"]).alias("name_py"),
        pl.col("id_number").str.slice(6, 8).alias("id_birth"),
    )
    return df.with_columns(
        pl.len().over("name", "district", "sex").cast(pl.Int32).alias("crowd_s"),
        pl.len().over("name", "district").cast(pl.Int32).alias("crowd_n"),
        pl.len().over("name_py", "district").cast(pl.Int32).alias("crowd_py"),
    )


def record_keys(recs: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Distinct identity tuples of ``recs`` and each record's tuple.

    Records with identical name, ID string, birth date, sex and district get
    identical comparisons, so each tuple is scored once. Returns ``(keys,
    record_key)``: keys with a ``uid`` numbered in sorted tuple order, and
    (department, record_id, uid).
    """
    keys = (recs.select(_KEY_COLS).unique()
            .sort(_KEY_COLS, nulls_last=True)
            .with_row_index("uid").with_columns(pl.col("uid").cast(pl.Int64)))
    rk = recs.select("department", "record_id", *_KEY_COLS).join(
        keys, on=_KEY_COLS, how="left", nulls_equal=True, maintain_order="left",
    ).select("department", "record_id", "uid")
    return keys, rk


def key_features(keys: pl.DataFrame, reg: pl.DataFrame) -> pl.DataFrame:
    """Keys plus the same derived columns as :func:`register_features`.

    Crowd counts of a key are those of the register block it would join.
    """
    well_formed = pl.col("id_number").str.contains(r"^[0-9]{17}[0-9X]$")
    df = keys.with_columns(
        pinyin_of(keys["name"]).alias("name_py"),
        # Malformed ID strings cannot be compared digit by digit: treated as missing.
        pl.when(well_formed).then(pl.col("id_number")).alias("id_number"),
        pl.when(well_formed).then(pl.col("id_number").str.slice(6, 8)).alias("id_birth"),
    )
    cs = reg.group_by("name", "district", "sex").agg(pl.len().cast(pl.Int32).alias("crowd_s"))
    cn = reg.group_by("name", "district").agg(pl.len().cast(pl.Int32).alias("crowd_n"))
    cp = reg.group_by("name_py", "district").agg(pl.len().cast(pl.Int32).alias("crowd_py"))
    df = (df.join(cs, on=["name", "district", "sex"], how="left", maintain_order="left")
          .join(cn, on=["name", "district"], how="left", maintain_order="left")
          .join(cp, on=["name_py", "district"], how="left", maintain_order="left"))
    return df.with_columns(pl.col("crowd_s", "crowd_n", "crowd_py").fill_null(0))


def candidate_register(reg: pl.DataFrame, keys: pl.DataFrame, cap: int) -> pl.DataFrame:
    """Registered residents that at least one blocking rule can pair with a key.

    A pre-filter only: Splink applies the rules themselves. It keeps the DuckDB
    input small (a few percent of the register) at city scale.
    """
    k1 = keys.filter(pl.col("crowd_s") <= cap).select("name", "district", "sex").unique()
    k2 = keys.filter(pl.col("crowd_n") <= cap, pl.col("sex").is_null()) \
        .select("name", "district").unique()
    k3 = keys.filter(pl.col("crowd_py") <= cap).select("name_py", "district").unique()
    k4 = keys.filter(pl.col("birth_date").is_not_null()).select("name_py", "birth_date").unique()
    k5 = keys.filter(pl.col("id_birth").is_not_null()).select("id_birth", "district").unique()
    parts = [
        (k1, ["name", "district", "sex"], pl.col("crowd_s") <= cap),
        (k2, ["name", "district"], pl.col("crowd_n") <= cap),
        (k3, ["name_py", "district"], pl.col("crowd_py") <= cap),
        (k4, ["name_py", "birth_date"], None),
        (k5, ["id_birth", "district"], None),
    ]
    hit = []
    for k, on, cond in parts:
        sub = reg.lazy()
        if cond is not None:
            sub = sub.filter(cond)
        hit.append(sub.join(k.lazy(), on=on, how="semi").select("resident_id"))
    ids = pl.concat(hit).unique().collect()
    return reg.join(ids, on="resident_id", how="semi").sort("resident_id")


def tf_table(reg: pl.DataFrame, col: str, wanted: pl.Series) -> pl.DataFrame:
    """Term frequencies of ``col`` over the whole register, for the ``wanted`` values."""
    n = reg.height
    tf = reg.group_by(col).agg((pl.len() / n).alias(f"tf_{col}"))
    return tf.join(pl.DataFrame({col: wanted.unique()}), on=col, how="semi").sort(col)
