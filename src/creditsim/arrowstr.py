"""Arrow string columns built from and read as fixed-width byte matrices.

A core module: the population builds its name and ID columns with it, the records
stage its faulty copies. Strings of at most 12 bytes are held inline in Arrow
string views (16 bytes a row, no data buffer); longer fixed-width strings are
views into one shared byte buffer. No Python object is made per row.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa


def fixed_width_to_u8(s: pl.Series, width: int) -> np.ndarray:
    """(n, width) uint8 view of a non-null Series of ``width``-byte strings."""
    arr = s.cast(pl.String).to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string())
    n = len(arr)
    if n == 0:
        return np.empty((0, width), dtype=np.uint8)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + n + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    if not np.all(np.diff(offsets) == width):
        raise ValueError("strings are not all of the fixed width")
    return data[offsets[0]: offsets[0] + n * width].reshape(n, width).copy()


def fixed_width_view(s: pl.Series, width: int) -> np.ndarray:
    """Read-only (n, width) uint8 array of a non-null Series of ``width``-byte
    strings: zero-copy when the Series holds them back to back in one buffer (as
    :func:`u8_to_series` builds them), else a copy (:func:`fixed_width_to_u8`)."""
    n = len(s)
    if width > 12 and n and s.null_count() == 0 and s.n_chunks() == 1:
        arr = s.to_arrow(compat_level=pl.CompatLevel.newest())
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.chunk(0) if arr.num_chunks == 1 else None
        if arr is not None and pa.types.is_string_view(arr.type) and len(arr.buffers()) == 3:
            views = np.frombuffer(arr.buffers()[1], dtype=np.int32).reshape(-1, 4)
            views = views[arr.offset: arr.offset + n]
            off0 = int(views[0, 3])
            if (views[:, 0] == width).all() and (views[:, 2] == 0).all() and \
                    (np.diff(views[:, 3]) == width).all():
                data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
                return data[off0: off0 + n * width].reshape(n, width)
    return fixed_width_to_u8(s, width)


def u8_to_series(a: np.ndarray, name: str, valid: np.ndarray | None = None) -> pl.Series:
    """Inverse of :func:`fixed_width_to_u8`: strings of the rows of ``a`` (null where
    ``valid`` is False). Built as Arrow string views over ``a``'s own bytes, which
    the Series keeps (no copy): 16 bytes per row beside the data."""
    n, width = a.shape
    a = np.ascontiguousarray(a)
    if width <= 12 or n * width >= 2**31:
        offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int64) * width).tobytes())
        larr = pa.LargeStringArray.from_buffers(n, offsets, pa.py_buffer(a.tobytes()))
        out = pl.Series(name, larr).cast(pl.String)
        return out if valid is None else out.set(pl.Series(~valid), None)
    views = np.empty((n, 4), dtype=np.int32)
    views[:, 0] = width
    views[:, 1] = np.ascontiguousarray(a[:, :4]).view(np.int32).ravel()  # prefix
    views[:, 2] = 0  # buffer index
    views[:, 3] = np.arange(0, n * width, width, dtype=np.int32)  # offset
    vbuf = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    arr = pa.Array.from_buffers(pa.string_view(), n, [vbuf, pa.py_buffer(views), pa.py_buffer(a)],
                                null_count=-1 if valid is not None else 0)
    return pl.Series(name, arr)


def inline_series(lo: np.ndarray, hi: np.ndarray, length: np.ndarray, name: str) -> pl.Series:
    """Strings of at most 12 bytes, given as their UTF-8 bytes packed little-endian
    into ``lo`` (uint64, bytes 0-7) and ``hi`` (uint32, bytes 8-11; zero past the
    end) with their ``length`` in bytes: Arrow string views that hold the whole
    string inline (16 bytes a row, no data buffer)."""
    n = len(length)
    views = np.empty((n, 4), dtype=np.uint32)
    views[:, 0] = length
    views[:, 1] = lo & np.uint64(0xFFFFFFFF)
    views[:, 2] = lo >> np.uint64(32)
    views[:, 3] = hi
    arr = pa.Array.from_buffers(pa.string_view(), n, [None, pa.py_buffer(views)], null_count=0)
    return pl.Series(name, arr)


def pack_inline(strs: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lo, hi, length) of :func:`inline_series` for a small list of strings
    (each at most 12 bytes of UTF-8)."""
    raw = [x.encode("utf-8") for x in strs]
    if any(len(b) > 12 for b in raw):
        raise ValueError("inline strings are at most 12 bytes")
    buf = np.zeros((len(raw), 12), dtype=np.uint8)
    for i, b in enumerate(raw):  # a small table, not per row
        buf[i, :len(b)] = np.frombuffer(b, dtype=np.uint8)
    lo = buf[:, :8].copy().view("<u8").ravel()
    hi = buf[:, 8:].copy().view("<u4").ravel()
    return lo, hi, np.array([len(b) for b in raw], dtype=np.uint32)


def views_into(base: np.ndarray, prefix: np.ndarray, rows: np.ndarray, name: str,
               valid: np.ndarray | None = None, replace: np.ndarray | None = None,
               replace_bytes: np.ndarray | None = None) -> pl.Series:
    """Strings ``base[rows[i]]`` of an (n, w) uint8 matrix of w-byte strings (w > 12)
    as Arrow string views into ``base``'s own buffer (16 bytes a row, no bytes
    copied); rows ``replace`` instead hold the strings of ``replace_bytes``
    (a second buffer); null where ``valid`` is False. ``prefix`` is the int32
    of each base string's first four bytes."""
    n_base, w = base.shape
    if w <= 12 or n_base * w >= 2**31 or not base.flags.c_contiguous:
        raise ValueError("views_into needs a contiguous matrix of strings longer than 12 bytes")
    m = len(rows)
    views = np.empty((m, 4), dtype=np.int32)
    views[:, 0] = w
    views[:, 1] = prefix[rows]
    views[:, 2] = 0
    views[:, 3] = rows
    views[:, 3] *= w
    bufs = [pa.py_buffer(base)]
    if replace is not None and len(replace):
        rb = np.ascontiguousarray(replace_bytes, dtype=np.uint8)
        views[replace, 1] = np.ascontiguousarray(rb[:, :4]).view(np.int32).ravel()
        views[replace, 2] = 1
        views[replace, 3] = np.arange(len(replace), dtype=np.int32) * w
        bufs.append(pa.py_buffer(rb))
    vbuf = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    arr = pa.Array.from_buffers(pa.string_view(), m, [vbuf, pa.py_buffer(views), *bufs],
                                null_count=-1 if valid is not None else 0)
    return pl.Series(name, arr)


def inline_views(s: pl.Series) -> np.ndarray | None:
    """(n, 4) int32 Arrow views of a String Series whose strings are all held inline
    (at most 12 bytes, no nulls, one chunk) — zero-copy — or None otherwise."""
    if s.null_count() or s.n_chunks() != 1 or len(s) == 0:
        return None
    arr = s.to_arrow(compat_level=pl.CompatLevel.newest())
    if isinstance(arr, pa.ChunkedArray):
        if arr.num_chunks != 1:
            return None
        arr = arr.chunk(0)
    if not pa.types.is_string_view(arr.type):
        return None
    views = np.frombuffer(arr.buffers()[1], dtype=np.int32).reshape(-1, 4)
    views = views[arr.offset: arr.offset + len(arr)]
    return views if int(views[:, 0].max()) <= 12 else None


def from_inline_views(views: np.ndarray, name: str) -> pl.Series:
    """String Series from (n, 4) int32 views of inline strings (see
    :func:`inline_views`)."""
    views = np.ascontiguousarray(views, dtype=np.int32)
    arr = pa.Array.from_buffers(pa.string_view(), len(views), [None, pa.py_buffer(views)],
                                null_count=0)
    return pl.Series(name, arr)


def inline_from_u8(a: np.ndarray, name: str) -> pl.Series:
    """Strings of the rows of an (n, w) uint8 matrix, w at most 12, all w bytes
    long, held inline in their views."""
    n, w = a.shape
    if w > 12:
        raise ValueError("inline strings are at most 12 bytes")
    views = np.zeros((n, 16), dtype=np.uint8)
    views[:, 4:4 + w] = a
    v32 = views.view(np.int32)
    v32[:, 0] = w
    return from_inline_views(v32, name)
