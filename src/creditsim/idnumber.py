"""Synthetic resident ID numbers in the GB 11643-1999 layout.

An 18-character citizen identity number is::

    RRRRRR YYYYMMDD SSS C
    region birth    seq check

* ``RRRRRR`` — the GB/T 2260 administrative division code of the place of
  household registration (for Beijing's districts 110101 … 110119);
* ``YYYYMMDD`` — date of birth;
* ``SSS`` — sequence number among people registered in that division with that
  birth date; odd for men, even for women;
* ``C`` — ISO 7064 MOD 11-2 check character over the first 17 digits:
  ``sum(d_i * w_i) mod 11`` with weights ``w_i = 2^(18-i) mod 11`` mapped through
  ``"10X98765432"``.

All functions are vectorised: the 17-digit body is handled as an int64. A core
module: the population issues the numbers, the linkage parses and checks them.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from creditsim.arrowstr import u8_to_series

#: Weights 2^(17-i) mod 11 for i = 1..17 (GB 11643-1999).
WEIGHTS = np.array([pow(2, 18 - i, 11) for i in range(1, 18)], dtype=np.int64)
#: Check character for each value of the weighted sum mod 11.
CHECK_CHARS = "10X98765432"
_POW10 = 10 ** np.arange(16, -1, -1, dtype=np.int64)


def body17(region: np.ndarray, birth_yyyymmdd: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """Pack region (6 digits), birth date (8) and sequence (3) into an int64 body."""
    return (
        region.astype(np.int64) * 10**11
        + birth_yyyymmdd.astype(np.int64) * 10**3
        + seq.astype(np.int64)
    )


def check_index(body: np.ndarray) -> np.ndarray:
    """Index into :data:`CHECK_CHARS` of the check character for each body."""
    body = np.asarray(body, dtype=np.int64)
    total = np.zeros(body.shape, dtype=np.int64)
    for p, w in zip(_POW10, WEIGHTS, strict=True):
        total += ((body // p) % 10) * w
    return (total % 11).astype(np.int8)


def check_char(body17_str: str) -> str:
    """Check character of one 17-digit string (scalar helper, used in tests)."""
    s = sum(int(d) * int(w) for d, w in zip(body17_str, WEIGHTS, strict=True))
    return CHECK_CHARS[s % 11]


def format_ids(body: np.ndarray) -> pl.Series:
    """18-character ID strings for int64 bodies."""
    chk = pl.Series(list(CHECK_CHARS)).gather(pl.Series(check_index(body)))
    digits = pl.Series(body).cast(pl.String).str.zfill(17)
    return (digits + chk).alias("id_number")


def is_valid_expr(col: str | pl.Expr = "id_number") -> pl.Expr:
    """Polars expression: True where the string is a well-formed 18-char ID with a
    correct check character; False for malformed ones; null stays null."""
    e = pl.col(col) if isinstance(col, str) else col
    shape_ok = e.str.contains(r"^[0-9]{17}[0-9X]$")
    body = pl.when(shape_ok).then(e.str.slice(0, 17)).otherwise(None).cast(pl.Int64)
    total = pl.lit(0, dtype=pl.Int64)
    for p, w in zip(_POW10, WEIGHTS, strict=True):
        total = total + ((body // int(p)) % 10) * int(w)
    expected = pl.lit(pl.Series(list(CHECK_CHARS))).gather(total % 11)
    return pl.when(e.is_null()).then(None).otherwise(
        shape_ok & (e.str.slice(17, 1) == expected).fill_null(False)
    )


def is_valid(ids: pl.Series) -> pl.Series:
    """Vectorised check of ID strings (see :func:`is_valid_expr`)."""
    return pl.DataFrame({"id_number": ids}).select(is_valid_expr()).to_series()


# --- Parsing ID strings straight from their Arrow buffers ------------------------
# (a regex/slice/cast route takes tens of seconds on 25 M strings; reading the
# UTF-8 bytes as an (n, 18) matrix takes one or two)

def _digits_block(mat: np.ndarray, lut: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(body, check, ok) of an (m, 18) uint8 matrix of ID bytes."""
    m = len(mat)
    b = np.zeros(m, dtype=np.int64)
    ok = np.ones(m, dtype=bool)
    for k in range(17):
        col = mat[:, k]
        ok &= (col >= 48) & (col <= 57)
        b *= 10
        b += col
        b -= 48
    chk = lut[mat[:, 17]]
    return b, chk, ok & (chk >= 0)


_BLOCK = 1 << 18  # rows per block: a block's bytes stay in cache across the 17 passes


def parse(ids: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(body, check) per string: the 17-digit body as int64 and the check index
    (0-10, position of the last character in "10X98765432"); -1 for both where the
    string is not 17 digits followed by a digit or X.

    The 18-byte strings are gathered into one contiguous Arrow buffer, viewed as
    an (m, 18) byte matrix and converted block by block (a regex/slice/cast route
    takes tens of seconds on 25 M strings; this takes a few)."""
    n = len(ids)
    body = np.full(n, -1, dtype=np.int64)
    check = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return body, check
    s = ids.cast(pl.String)
    is18 = (s.str.len_bytes() == 18).fill_null(False)
    rows = np.flatnonzero(is18.to_numpy())
    if rows.size == 0:
        return body, check
    arr = (s if rows.size == n else s.filter(is18)).to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string())
    m = rows.size
    off = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + m + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[off[0]: off[0] + 18 * m]
    mat = data.reshape(m, 18)
    lut = np.full(256, -1, dtype=np.int64)
    # CHECK_CHARS[i] is the check character for weighted sum = i (mod 11).
    lut[np.frombuffer(CHECK_CHARS.encode(), dtype=np.uint8)] = np.arange(11)
    b = np.empty(m, dtype=np.int64)
    chk = np.empty(m, dtype=np.int64)
    ok = np.empty(m, dtype=bool)
    for lo in range(0, m, _BLOCK):
        hi = min(lo + _BLOCK, m)
        b[lo:hi], chk[lo:hi], ok[lo:hi] = _digits_block(mat[lo:hi], lut)
    body[rows[ok]] = b[ok]
    check[rows[ok]] = chk[ok]
    return body, check


def packed(ids: pl.Series) -> np.ndarray:
    """Packed join key (body × 11 + check index), -1 where malformed."""
    return pack_parsed(*parse(ids))


def pack_parsed(body: np.ndarray, check: np.ndarray) -> np.ndarray:
    """:func:`packed` from :func:`parse`'s output (-1 where malformed); the body
    and check index are ``key // 11`` and ``key % 11``."""
    return np.where(body >= 0, body * 11 + check, -1)


def check_passes(body: np.ndarray, check: np.ndarray) -> np.ndarray:
    """True where the GB 11643 check character matches the body."""
    ok = body >= 0
    out = np.zeros(len(body), dtype=bool)
    if ok.any():
        out[ok] = check_index(body[ok]) == check[ok]
    return out


def pack(ids: pl.Series) -> pl.Series:
    """Packed int64 join key (17-digit body × 11 + check index) of well-formed ID
    strings; null for malformed ones. An int64 join is several times faster than
    an 18-character string join at city scale."""
    key = packed(ids)
    return pl.Series("id_packed", key).set(pl.Series(key < 0), None)


def _digit_matrix(values: np.ndarray, width: int) -> np.ndarray:
    """(len(values), width) array of decimal digits, most significant first."""
    v = np.asarray(values, dtype=np.int64)[:, None]
    p = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((v // p) % 10).astype(np.int64)


def build_ids(region_idx: np.ndarray, region_codes: np.ndarray,
              day_idx: np.ndarray, day_yyyymmdd: np.ndarray, seq: np.ndarray) -> pl.Series:
    """18-character ID strings from small lookup tables, without per-row work in Python.

    ``region_codes`` (6-digit ints) and ``day_yyyymmdd`` (8-digit ints) are tables
    indexed by ``region_idx`` and ``day_idx``; ``seq`` is 0..999. The check
    character is the sum of per-part weighted digit sums (each a table lookup), so
    no 17-digit arithmetic is done per resident. The bytes are assembled in a
    uint8 matrix and handed to Arrow as one buffer.
    """
    rd = _digit_matrix(region_codes, 6)
    dd = _digit_matrix(day_yyyymmdd, 8)
    sd = _digit_matrix(np.arange(1000), 3)
    w_region = rd @ WEIGHTS[:6]
    w_day = dd @ WEIGHTS[6:14]
    w_seq = sd @ WEIGHTS[14:]
    chk = (w_region[region_idx] + w_day[day_idx] + w_seq[seq]) % 11
    check_bytes = np.frombuffer(CHECK_CHARS.encode(), dtype=np.uint8)
    n = len(seq)
    out = np.empty((n, 18), dtype=np.uint8)
    out[:, 0:6] = (rd + 48).astype(np.uint8)[region_idx]
    out[:, 6:14] = (dd + 48).astype(np.uint8)[day_idx]
    out[:, 14:17] = (sd + 48).astype(np.uint8)[seq]
    out[:, 17] = check_bytes[chk]
    return u8_to_series(out, "id_number")
