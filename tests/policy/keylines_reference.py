"""The loader's first line locator, kept as a slow, obvious reference for the
differential test of :func:`creditsim.tomllines.key_lines` (it searches back
from every ``=`` with a regular expression, which is quadratic in a line's length)."""

from __future__ import annotations

import re

from creditsim.tomllines import _HEADER_AOT, _HEADER_TABLE, _KEY, Path_, _split_key


def key_lines_reference(text: str) -> dict[Path_, int]:
    """Map key paths to the 1-based line that defines them (best effort).

    Understands ``[table]``, ``[[array.of.tables]]``, ``key = value`` with dotted
    keys, inline tables and (multi-line) arrays of inline tables. Anything it
    cannot place falls back to the nearest enclosing key when looked up.
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
        rest = line[m.end() :]
        # scan the value (possibly over several lines) for inline tables
        depth = 0
        elem = -1
        stack: list[str] = []
        cur_line = ln
        text_rest = rest
        while True:
            j = 0
            quote = ""
            while j < len(text_rest):
                c = text_rest[j]
                if quote:
                    if c == "\\" and quote == '"':
                        j += 2
                        continue
                    if c == quote:
                        quote = ""
                    j += 1
                    continue
                if c in "\"'":
                    quote = c
                elif c == "#":
                    break
                elif c in "[{":
                    stack.append(c)
                    depth += 1
                    if c == "{" and len(stack) == 2 and stack[0] == "[":
                        elem += 1
                        lines.setdefault((*key_path, elem), cur_line)
                elif c in "]}":
                    if stack:
                        stack.pop()
                    depth -= 1
                elif c == "=" and stack and stack[-1] == "{":
                    km = re.search(r"([A-Za-z0-9_\-]+)\s*$", text_rest[:j])
                    if km:
                        inner = km.group(1)
                        if stack == ["{"]:
                            lines.setdefault((*key_path, inner), cur_line)
                        elif stack == ["[", "{"]:
                            lines.setdefault((*key_path, elem, inner), cur_line)
                j += 1
            if depth <= 0 or i >= len(src):
                break
            text_rest = src[i]
            cur_line = i + 1
            i += 1
    return lines

