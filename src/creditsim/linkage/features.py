"""Comparison and blocking columns for records and register (Polars, vectorised).

Both sides get the same columns (:data:`creditsim.linkage.model.INPUT_COLUMNS`):
pinyin of the name, the birth date and region+sequence digits of the ID, and the
"crowd" counts — how many registered residents share the row's name block — used
to purge crowded blocks. Work over the whole register runs on 64-bit hashes of
the strings (names, pinyin), never on the strings themselves.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from creditsim.population import idnumber, names

_KEY_COLS = ["name", "id_number", "birth_date", "sex", "district"]


def _h(col: str) -> pl.Expr:
    return pl.col(col).hash(seed=0x5EED)


def pinyin_table(name: pl.Series) -> pl.DataFrame:
    """(name, name_py) for each distinct name: toneless pinyin, computed once per name."""
    uniq = name.drop_nulls().unique().sort()
    py = names.to_pinyin(uniq) if len(uniq) else pl.Series([], dtype=pl.String)
    return pl.DataFrame({"name": uniq, "name_py": py})


def _id_parts(ids: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(id_birth YYYYMMDD, id_rs region×1000+sequence) of well-formed IDs, else null."""
    body, _ = idnumber.parse(ids)
    ok = body >= 0
    birth = pl.Series("id_birth", np.where(ok, (body // 1000) % 10**8, 0), dtype=pl.Int32)
    rs = pl.Series("id_rs", np.where(ok, (body // 10**11) * 1000 + body % 1000, 0),
                   dtype=pl.Int64)
    mask = pl.Series(~ok)
    return birth.set(mask, None), rs.set(mask, None)


def register_features(reg: pl.DataFrame) -> pl.DataFrame:
    """Register identity view plus hashed name / pinyin, ID parts and crowd counts."""
    pt = pinyin_table(reg["name"]).select(_h("name").alias("name_h"), _h("name_py").alias("py_h"))
    birth, rs = _id_parts(reg["id_number"])
    df = reg.with_columns(_h("name").alias("name_h"), birth, rs)
    df = df.join(pt, on="name_h", how="left", maintain_order="left")
    return df.with_columns(
        pl.len().over("name_h", "district", "sex").cast(pl.Int32).alias("crowd_s"),
        pl.len().over("name_h", "district").cast(pl.Int32).alias("crowd_n"),
        pl.len().over("py_h", "district").cast(pl.Int32).alias("crowd_py"),
    )


def with_pinyin(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` plus the name_py string column (computed per distinct name)."""
    return df.join(pinyin_table(df["name"]), on="name", how="left", maintain_order="left")


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

    Malformed ID strings cannot be compared digit by digit: they are treated as
    missing. Crowd counts of a key are those of the register block it would join.
    """
    well_formed = pl.col("id_number").str.contains(r"^[0-9]{17}[0-9X]$")
    df = with_pinyin(keys).with_columns(
        pl.when(well_formed).then(pl.col("id_number")).alias("id_number"),
        _h("name").alias("name_h"), _h("name_py").alias("py_h"))
    birth, rs = _id_parts(df["id_number"])
    df = df.with_columns(birth, rs)
    cs = reg.group_by("name_h", "district", "sex").agg(pl.len().cast(pl.Int32).alias("crowd_s"))
    cn = reg.group_by("name_h", "district").agg(pl.len().cast(pl.Int32).alias("crowd_n"))
    cp = reg.group_by("py_h", "district").agg(pl.len().cast(pl.Int32).alias("crowd_py"))
    df = (df.join(cs, on=["name_h", "district", "sex"], how="left", maintain_order="left")
          .join(cn, on=["name_h", "district"], how="left", maintain_order="left")
          .join(cp, on=["py_h", "district"], how="left", maintain_order="left"))
    return df.with_columns(pl.col("crowd_s", "crowd_n", "crowd_py").fill_null(0))


def candidate_register(reg: pl.DataFrame, keys: pl.DataFrame, cap: int) -> pl.DataFrame:
    """Registered residents that at least one blocking rule can pair with a key.

    A pre-filter only (Splink applies the rules themselves) that keeps the
    DuckDB input small. Returns the candidates with their name_py strings.
    """
    parts = [
        (keys.filter(pl.col("crowd_s") <= cap), ["name_h", "district", "sex"],
         pl.col("crowd_s") <= cap),
        (keys.filter(pl.col("crowd_n") <= cap, pl.col("sex").is_null()), ["name_h", "district"],
         pl.col("crowd_n") <= cap),
        (keys.filter(pl.col("crowd_py") <= cap), ["py_h", "district"],
         pl.col("crowd_py") <= cap),
        (keys, ["py_h", "birth_date"], None),
        (keys, ["py_h", "id_birth"], None),
        (keys, ["py_h", "id_rs"], None),
    ]
    hit = []
    for k, on, cond in parts:
        sub = reg.lazy()
        if cond is not None:
            sub = sub.filter(cond)
        kk = k.lazy().select(on).drop_nulls().unique()
        hit.append(sub.join(kk, on=on, how="semi").select("resident_id"))
    ids = pl.concat(hit).unique().collect()
    cand = reg.join(ids, on="resident_id", how="semi").sort("resident_id")
    return with_pinyin(cand)


def tf_table(reg: pl.DataFrame, col: str, wanted: pl.Series) -> pl.DataFrame:
    """Term frequencies over the whole register of ``col`` ("name" or "name_py"),
    for the ``wanted`` values (hashes counted over the register, strings attached)."""
    hcol = "name_h" if col == "name" else "py_h"
    n = reg.height
    tf = reg.group_by(hcol).agg((pl.len() / n).alias(f"tf_{col}"))
    w = pl.DataFrame({col: wanted.drop_nulls().unique()}).with_columns(_h(col).alias(hcol))
    return w.join(tf, on=hcol, how="inner").select(col, f"tf_{col}").sort(col)
