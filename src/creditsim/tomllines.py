"""Where things are in a TOML file: key path → line, and located messages.

A core module shared by every TOML reader (policy files, scenario files, city
profiles): :func:`key_lines` maps each key path to the 1-based line defining it,
:func:`locate` turns a path into ``file:line key.path[index]``, and
:func:`did_you_mean` suggests the nearest known name for a misspelt key.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

Path_ = tuple[str | int, ...]


def format_path(path: Path_) -> str:
    """``("rules", 2, "points")`` → ``"rules[2].points"``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


_HEADER_AOT = re.compile(r"^\[\[\s*([^\[\]]+?)\s*\]\]\s*(#.*)?$")
_HEADER_TABLE = re.compile(r"^\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(
    r"^((?:[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*'))*)\s*="
)
_INNER_KEY = re.compile(r"([A-Za-z0-9_\-]+)\s*=")


def _split_key(key: str) -> list[str]:
    parts = re.findall(r"[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*'", key)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def key_lines(text: str) -> dict[Path_, int]:
    """Map key paths to the 1-based line that defines them (best effort).

    Understands ``[table]``, ``[[array.of.tables]]``, ``key = value`` with dotted
    keys, inline tables and (multi-line) arrays of inline tables. Anything it
    cannot place falls back to the nearest enclosing key when looked up.

    One pass over the text: each character is looked at a bounded number of
    times, so a policy with thousands of rules in one inline array is located
    as fast as one written as ``[[rules]]`` tables.
    """
    lines: dict[Path_, int] = {}
    aot_count: dict[Path_, int] = {}
    aot_names: set[tuple[str, ...]] = set()
    table: Path_ = ()
    src = text.splitlines()

    def resolve(names: list[str]) -> Path_:
        path: Path_ = ()
        for i, name in enumerate(names):
            path = (*path, name)
            names_so_far = tuple(names[: i + 1])
            if names_so_far in aot_names and i < len(names) - 1:
                path = (*path, aot_count.get(path, 1) - 1)
        return path

    i = 0
    while i < len(src):
        ln = i + 1
        line = src[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        m = _HEADER_AOT.match(line)
        if m:
            names = _split_key(m.group(1))
            aot_names.add(tuple(names))
            parent = resolve(names)
            idx = aot_count.get(parent, 0)
            aot_count[parent] = idx + 1
            table = (*parent, idx)
            lines.setdefault(parent, ln)
            lines[table] = ln
            continue
        m = _HEADER_TABLE.match(line)
        if m:
            table = resolve(_split_key(m.group(1)))
            lines[table] = ln
            continue
        m = _KEY.match(line)
        if not m:
            continue
        key_path: Path_ = (*table, *_split_key(m.group(1)))
        lines[key_path] = ln
        scan = _ValueScan(key_path, lines)
        scan.line(line[m.end() :], ln)
        # a value that opens more brackets than it closes goes on over the next lines
        while scan.depth > 0 and i < len(src):
            scan.line(src[i], i + 1)
            i += 1
    return lines


_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _ValueScan:
    """Walks the value of one ``key = value`` line by line, recording the line of
    each inline table of an array (``key[i]``) and of each bare key inside an
    inline table (``key.k`` or ``key[i].k``).

    The bare key before an ``=`` is the last run of key characters, with only
    whitespace between it and the ``=``; it is tracked as the scan goes (its start
    and end) rather than searched for backwards, which keeps the scan linear."""

    def __init__(self, key_path: Path_, lines: dict[Path_, int]):
        self.key_path = key_path
        self.lines = lines
        self.depth = 0
        self.elem = -1
        self.stack: list[str] = []

    def line(self, text: str, ln: int) -> None:
        stack, lines, key_path = self.stack, self.lines, self.key_path
        quote = ""
        # the last run of key characters, text[word_start:word_end], with only
        # whitespace after it (any other character resets it to -1)
        word_start = word_end = -1
        j, n = 0, len(text)
        while j < n:
            c = text[j]
            if quote:
                if c == "\\" and quote == '"':
                    j += 2
                    continue
                if c == quote:
                    quote = ""
                j += 1
                continue
            if c in _KEY_CHARS:
                if word_end != j:
                    word_start = j
                word_end = j + 1
                j += 1
                continue
            if c.isspace():
                j += 1
                continue
            if c in "\"'":
                quote = c
            elif c == "#":
                break
            elif c in "[{":
                stack.append(c)
                self.depth += 1
                if c == "{" and len(stack) == 2 and stack[0] == "[":
                    self.elem += 1
                    lines.setdefault((*key_path, self.elem), ln)
            elif c in "]}":
                if stack:
                    stack.pop()
                self.depth -= 1
            elif c == "=" and stack and stack[-1] == "{" and word_start >= 0:
                inner = text[word_start:word_end]
                if stack == ["{"]:
                    lines.setdefault((*key_path, inner), ln)
                elif stack == ["[", "{"]:
                    lines.setdefault((*key_path, self.elem, inner), ln)
            word_start = word_end = -1
            j += 1


def locate(origin: str, lines: Mapping[Path_, int], path: Path_) -> str:
    """``origin:line key.path`` for the nearest enclosing key found in ``lines``."""
    key = format_path(path)
    for n in range(len(path), 0, -1):
        if path[:n] in lines:
            return f"{origin}:{lines[path[:n]]} {key}" if key else f"{origin}:{lines[path[:n]]}"
    return f"{origin} {key}" if key else origin


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``known``, or ``""``."""
    near = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {near[0]!r}?" if near else ""

