"""Malformed policy files: the loader raises only PolicyError, every problem located.

A few hundred examples run by default; ``pytest -m fuzz`` runs >= 10,000.
"""

from __future__ import annotations

import copy
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from budget import examples
from creditsim.policy import (
    PolicyError,
    policy_from_data,
    policy_from_text,
    preset_names,
    preset_text,
)

from .tomlwrite import dumps

PRESET_DATA = {n: tomllib.loads(preset_text(n)) for n in preset_names()}

junk_values = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.lists(st.integers(-5, 5), max_size=3),
    st.dictionaries(st.text(max_size=6), st.integers(), max_size=2),
    st.just("indefinite"),
    st.just([]),
    st.just({}),
)


def _paths(node, prefix=()):  # noqa: ANN001, ANN202
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _get(node, path):  # noqa: ANN001, ANN202
    for p in path:
        node = node[p]
    return node


@st.composite
def mutated(draw):  # noqa: ANN201
    data = copy.deepcopy(PRESET_DATA[draw(st.sampled_from(sorted(PRESET_DATA)))])
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _get(data, path[:-1]), path[-1]
        op = draw(
            st.sampled_from(["delete", "retype", "unknown_key", "swap", "negate", "drop_section"])
        )
        if op == "delete":
            del parent[key]
        elif op == "retype":
            parent[key] = draw(junk_values)
        elif op == "unknown_key" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(junk_values)
        elif op == "swap" and isinstance(parent, list) and len(parent) > 1:
            parent.reverse()
        elif (
            op == "negate"
            and isinstance(parent[key], (int, float))
            and not isinstance(parent[key], bool)
        ):
            parent[key] = -parent[key] - 1
        elif op == "drop_section":
            data.pop(path[0], None)
    return data


def _check(call, *args) -> None:  # noqa: ANN001
    try:
        call(*args)
    except PolicyError as e:
        assert e.problems
        for p in e.problems:
            assert p.location, p
            assert p.message, p


def _run_data(data) -> None:  # noqa: ANN001
    _check(policy_from_data, data, "fuzz.toml")
    try:
        text = dumps(data)
    except TypeError:
        return
    _check(policy_from_text, text, "fuzz.toml")


@st.composite
def mangled_text(draw):  # noqa: ANN201
    text = preset_text(draw(st.sampled_from(preset_names()))).encode()
    op = draw(st.sampled_from(["truncate", "garbage", "delete_line", "bytes"]))
    if op == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    if op == "garbage":
        i = draw(st.integers(0, len(text)))
        return text[:i] + draw(st.binary(min_size=1, max_size=20)) + text[i:]
    if op == "delete_line":
        lines = text.split(b"\n")
        del lines[draw(st.integers(0, len(lines) - 1))]
        return b"\n".join(lines)
    return draw(st.binary(max_size=200))


_FAST = settings(max_examples=examples(150), deadline=None, suppress_health_check=list(HealthCheck))
_LONG = settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))


@_FAST
@given(mutated())
def test_mutated_policies_raise_only_located_policy_errors(data) -> None:  # noqa: ANN001
    _run_data(data)


@_FAST
@given(mangled_text())
def test_mangled_text_raises_only_located_policy_errors(raw: bytes) -> None:
    _check(policy_from_text, raw, "fuzz.toml")


def _opt_in(request: pytest.FixtureRequest) -> None:
    if "fuzz" not in (request.config.getoption("-m") or ""):
        pytest.skip("opt-in: run with pytest -m fuzz")


@pytest.mark.fuzz
def test_fuzz_long_mutated(request: pytest.FixtureRequest) -> None:
    _opt_in(request)
    _LONG(given(mutated())(lambda data: _run_data(data)))()


@pytest.mark.fuzz
def test_fuzz_long_text(request: pytest.FixtureRequest) -> None:
    _opt_in(request)
    _LONG(given(mangled_text())(lambda raw: _check(policy_from_text, raw, "fuzz.toml")))()
