"""Comparison and blocking columns for records and register (Polars + numpy, vectorised).

Both sides get the same columns (:data:`creditsim.linkage.model.INPUT_COLUMNS`):
pinyin of the name, the birth date and region+sequence digits of the ID, and the
"crowd" counts — how many registered residents share the row's name block — used
to purge crowded blocks.

The register is indexed once (:class:`RegisterFeatures`): every distinct name gets
a dense number (``name_idx``, in the order of the name's 64-bit hash), every
distinct pinyin another (``py_idx``), and block sizes are counted with
``np.bincount`` over combined integer codes (name × district × sex, …). Keys,
candidate filters and term frequencies are then lookups into those arrays, so the
whole-register work is one pass of hashing, one sort of 64-bit hashes and a few
bincounts — never a string join or a group-by over tens of millions of strings.
Two different names sharing a 64-bit hash (odds ~10⁻⁷ at 22 M residents) would be
counted as one name; nothing else is approximate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from creditsim import idnumber
from creditsim.population import to_pinyin

_KEY_COLS = ["name", "id_number", "birth_date", "sex", "district"]
_SEED = 0x5EED
#: Bits for a birth date (days since 1970 shifted to be non-negative) in a code.
_DATE_BITS = 20
_DATE_SHIFT = 1 << 19


def _hash(s: pl.Series) -> np.ndarray:
    return s.hash(seed=_SEED).to_numpy()


def dense_index(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index per row, first row of each index) for 64-bit hashes, numbered in hash
    order: equal hashes get equal indices 0..k-1."""
    n = len(h)
    if n == 0:
        return np.zeros(0, np.int32), np.zeros(0, np.int64)
    order = pl.Series(h).arg_sort().to_numpy()
    hs = h[order]
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(hs[1:], hs[:-1], out=new[1:])
    idx = np.empty(n, dtype=np.int32)
    idx[order] = np.cumsum(new, dtype=np.int32) - 1
    return idx, order[new]


def pinyin_table(name: pl.Series) -> pl.DataFrame:
    """(name, name_py) for each distinct name: toneless pinyin, computed once per name."""
    uniq = name.drop_nulls().unique().sort()
    py = to_pinyin(uniq) if len(uniq) else pl.Series([], dtype=pl.String)
    return pl.DataFrame({"name": uniq, "name_py": py})


def with_pinyin(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` plus the name_py string column (computed per distinct name)."""
    return df.join(pinyin_table(df["name"]), on="name", how="left", maintain_order="left")


def _id_parts(body: np.ndarray) -> tuple[pl.Series, pl.Series]:
    """(id_birth YYYYMMDD, id_rs region×1000+sequence) of parsed ID bodies (-1: none)."""
    ok = body >= 0
    birth = pl.Series("id_birth", np.where(ok, (body // 1000) % 10**8, 0), dtype=pl.Int32)
    rs = pl.Series("id_rs", np.where(ok, (body // 10**11) * 1000 + body % 1000, 0),
                   dtype=pl.Int64)
    if ok.all():
        return birth, rs
    mask = pl.Series(~ok)
    return birth.set(mask, None), rs.set(mask, None)


def _codes(s: pl.Series) -> tuple[np.ndarray, int]:
    """Physical codes of an Enum column (-1 for null) and the number of categories."""
    k = len(s.dtype.categories) if isinstance(s.dtype, pl.Enum) else 0
    if not k:
        raise TypeError(f"column {s.name!r} must be an Enum, got {s.dtype}")
    return s.to_physical().fill_null(-1).cast(pl.Int64).to_numpy(), k


@dataclass
class RegisterFeatures:
    """The register indexed for blocking (see the module docstring).

    ``frame`` holds the register's identity columns plus name_idx, py_idx,
    id_birth, id_rs, crowd_s, crowd_n, crowd_py; ``names`` one row per name_idx
    (name, name_py, py_idx, n); the count arrays are indexed by combined codes.
    """

    frame: pl.DataFrame
    names: pl.DataFrame
    py_strings: pl.Series  # name_py per py_idx
    py_n: np.ndarray  # residents per py_idx
    n_district: int
    cnt_s: np.ndarray  # residents per (name_idx, district, sex)
    cnt_n: np.ndarray  # residents per (name_idx, district)
    cnt_py: np.ndarray  # residents per (py_idx, district)

    @property
    def height(self) -> int:
        return self.frame.height

    def name_count(self) -> np.ndarray:
        """Residents sharing each register row's name (row order)."""
        return self.names["n"].to_numpy()[self.frame["name_idx"].to_numpy()]

    def release_blocking(self) -> None:
        """Drop what only key features and candidate filtering need (block counts and
        the per-row blocking columns), keeping what u sampling and term frequencies
        read: at city scale this frees about 1 GB before Splink runs."""
        keep = [c for c in self.frame.columns
                if c not in ("py_idx", "id_birth", "id_rs", "crowd_s", "crowd_n", "crowd_py")]
        self.frame = self.frame.select(keep)
        empty = np.zeros(0, dtype=np.int32)
        self.cnt_s, self.cnt_n, self.cnt_py = empty, empty, empty

    def name_py(self, rows: np.ndarray) -> pl.Series:
        """name_py of the register rows ``rows``."""
        idx = self.frame["name_idx"].to_numpy()[rows]
        return self.names["name_py"].gather(idx)


def register_features(reg: pl.DataFrame, body: np.ndarray | None = None) -> RegisterFeatures:
    """Index the register (``prepare.register_view``'s frame). ``body`` is the parsed
    17-digit ID body of each row if already known (:func:`idnumber.parse`)."""
    if body is None:
        body, _ = idnumber.parse(reg["id_number"])
    name_idx, first = dense_index(_hash(reg["name"]))
    n_names = len(first)
    name_n = np.bincount(name_idx, minlength=n_names)
    uniq = reg["name"].gather(first)
    py = to_pinyin(uniq) if n_names else pl.Series([], dtype=pl.String)
    py_of_name, py_first = dense_index(_hash(py))
    py_n = np.bincount(py_of_name, weights=name_n, minlength=len(py_first)).astype(np.int64)
    names_df = pl.DataFrame({"name": uniq, "name_py": py.alias("name_py"),
                             "py_idx": pl.Series(py_of_name, dtype=pl.Int32),
                             "n": pl.Series(name_n, dtype=pl.Int64)})
    d, nd = _codes(reg["district"])
    s, _ = _codes(reg["sex"])
    pyi = py_of_name[name_idx].astype(np.int64)
    ni = name_idx.astype(np.int64)
    code_n = ni * nd + d
    code_s = code_n * 2 + s
    code_py = pyi * nd + d
    cnt_s = np.bincount(code_s, minlength=n_names * nd * 2).astype(np.int32)
    cnt_n = np.bincount(code_n, minlength=n_names * nd).astype(np.int32)
    cnt_py = np.bincount(code_py, minlength=len(py_first) * nd).astype(np.int32)
    birth, rs = _id_parts(body)
    frame = reg.with_columns(
        pl.Series("name_idx", name_idx, dtype=pl.Int32),
        pl.Series("py_idx", pyi, dtype=pl.Int32),
        birth, rs,
        pl.Series("crowd_s", cnt_s[code_s], dtype=pl.Int32),
        pl.Series("crowd_n", cnt_n[code_n], dtype=pl.Int32),
        pl.Series("crowd_py", cnt_py[code_py], dtype=pl.Int32),
    )
    return RegisterFeatures(frame=frame, names=names_df,
                            py_strings=py.gather(py_first).alias("name_py"), py_n=py_n,
                            n_district=nd, cnt_s=cnt_s, cnt_n=cnt_n, cnt_py=cnt_py)


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


def _lookup(values: pl.Series, table: pl.Series) -> np.ndarray:
    """Row of each value in ``table`` (distinct strings), -1 where absent or null."""
    t = pl.DataFrame({"v": table}).with_row_index("_i")
    out = pl.DataFrame({"v": values}).join(t, on="v", how="left", maintain_order="left")
    return out["_i"].fill_null(-1).cast(pl.Int64).to_numpy()


def key_features(keys: pl.DataFrame, reg: RegisterFeatures) -> pl.DataFrame:
    """Keys plus the same derived columns as the register's frame.

    Malformed ID strings cannot be compared digit by digit: they are treated as
    missing. Crowd counts of a key are those of the register block it would join
    (0 when the key's name, district or sex is missing or unknown to the register).
    """
    well_formed = pl.col("id_number").str.contains(r"^[0-9]{17}[0-9X]$")
    df = with_pinyin(keys).with_columns(
        pl.when(well_formed).then(pl.col("id_number")).alias("id_number"))
    body, _ = idnumber.parse(df["id_number"])
    birth, rs = _id_parts(body)
    ni = _lookup(df["name"], reg.names["name"])
    pi = _lookup(df["name_py"], reg.py_strings)
    d, nd = _codes(df["district"])
    s, _ = _codes(df["sex"])
    assert nd == reg.n_district, "district categories differ between records and register"
    ok_n = (ni >= 0) & (d >= 0)
    code_n = np.where(ok_n, ni * nd + d, 0)
    crowd_n = np.where(ok_n, reg.cnt_n[code_n], 0)
    ok_s = ok_n & (s >= 0)
    crowd_s = np.where(ok_s, reg.cnt_s[np.where(ok_s, code_n * 2 + s, 0)], 0)
    ok_p = (pi >= 0) & (d >= 0)
    crowd_py = np.where(ok_p, reg.cnt_py[np.where(ok_p, pi * nd + d, 0)], 0)
    return df.with_columns(
        birth, rs,
        pl.Series("name_idx", ni, dtype=pl.Int32),
        pl.Series("py_idx", pi, dtype=pl.Int32),
        pl.Series("crowd_s", crowd_s, dtype=pl.Int32),
        pl.Series("crowd_n", crowd_n, dtype=pl.Int32),
        pl.Series("crowd_py", crowd_py, dtype=pl.Int32),
    )


def _flag(size: int, codes: np.ndarray) -> np.ndarray:
    f = np.zeros(size, dtype=bool)
    f[codes] = True
    return f


def candidate_register(reg: RegisterFeatures, keys: pl.DataFrame, cap: int) -> pl.DataFrame:
    """Registered residents that at least one blocking rule can pair with a key.

    A pre-filter only (Splink applies the rules themselves) that keeps the
    DuckDB input small. Returns the candidates (register frame rows, in
    resident order) with their name_py strings.
    """
    f = reg.frame
    nd = reg.n_district
    r_ni = f["name_idx"].to_numpy().astype(np.int64)
    r_pi = f["py_idx"].to_numpy().astype(np.int64)
    r_d, _ = _codes(f["district"])
    r_s, _ = _codes(f["sex"])
    k_ni = keys["name_idx"].to_numpy().astype(np.int64)
    k_pi = keys["py_idx"].to_numpy().astype(np.int64)
    k_d, _ = _codes(keys["district"])
    k_s, _ = _codes(keys["sex"])
    ks, kn, kp = (keys[c].to_numpy() for c in ("crowd_s", "crowd_n", "crowd_py"))
    n_names = len(reg.names)
    # Rules 1-3: name (+sex) or pinyin, with district, in uncrowded blocks.
    sel = (ks > 0) & (ks <= cap)
    hit = _flag(n_names * nd * 2, (k_ni * nd + k_d)[sel] * 2 + k_s[sel])[
        (r_ni * nd + r_d) * 2 + r_s] & (f["crowd_s"].to_numpy() <= cap)
    sel = (kn > 0) & (kn <= cap) & (k_s < 0)
    hit |= _flag(n_names * nd, (k_ni * nd + k_d)[sel])[r_ni * nd + r_d] & (
        f["crowd_n"].to_numpy() <= cap)
    sel = (kp > 0) & (kp <= cap)
    hit |= _flag(len(reg.py_n) * nd, (k_pi * nd + k_d)[sel])[r_pi * nd + r_d] & (
        f["crowd_py"].to_numpy() <= cap)
    # Rules 4-6: pinyin with birth date, the ID's birth digits, or its region+sequence.
    in_py = _flag(len(reg.py_n), k_pi[k_pi >= 0])[r_pi]
    rows = np.flatnonzero(in_py & ~hit)
    sub = f.select("py_idx", "birth_date", "id_birth", "id_rs")[rows]  # no strings
    kk = keys.filter(pl.col("py_idx") >= 0)
    date_days = pl.col("birth_date").cast(pl.Int32).cast(pl.Int64) + _DATE_SHIFT
    found = []
    for col, val in (("birth_date", date_days), ("id_birth", pl.col("id_birth").cast(pl.Int64)),
                     ("id_rs", pl.col("id_rs"))):
        bits = _DATE_BITS if col == "birth_date" else 40
        code = (pl.col("py_idx").cast(pl.Int64) * (1 << bits) + val).alias("_c")
        want = kk.select(code).drop_nulls().unique()
        got = sub.select(code).with_row_index("_r").join(want, on="_c", how="semi")["_r"]
        found.append(got.to_numpy())
    if found:
        hit[rows[np.concatenate(found)]] = True
    cand = f.filter(pl.Series(hit))
    return cand.with_columns(reg.names["name_py"].gather(cand["name_idx"]).alias("name_py"))


def tf_table(reg: RegisterFeatures, col: str, wanted: pl.Series) -> pl.DataFrame:
    """Term frequencies over the whole register of ``col`` ("name" or "name_py"),
    for the ``wanted`` values that occur in the register."""
    table = reg.names["name"] if col == "name" else reg.py_strings
    return tf_table_of(reg, col, _lookup(wanted.drop_nulls().unique(), table))


def tf_table_of(reg: RegisterFeatures, col: str, idx: np.ndarray) -> pl.DataFrame:
    """:func:`tf_table` for values given by their index in the register
    (``name_idx`` for "name", ``py_idx`` for "name_py"; negative = absent), in
    index order: flags and a gather, with no hashing or sorting of the millions of
    wanted rows (the table is a lookup; its row order changes no result)."""
    idx = np.asarray(idx, dtype=np.int64)
    size = len(reg.names) if col == "name" else len(reg.py_n)
    flag = np.zeros(size, dtype=bool)
    flag[idx[idx >= 0]] = True
    u = np.flatnonzero(flag)
    if col == "name":
        strings, counts = reg.names["name"].gather(u), reg.names["n"].to_numpy()[u]
    else:
        strings, counts = reg.py_strings.gather(u), reg.py_n[u]
    return pl.DataFrame({col: strings.alias(col),
                         f"tf_{col}": pl.Series(counts / reg.height, dtype=pl.Float64)})
