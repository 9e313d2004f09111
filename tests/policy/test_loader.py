"""The policy loader: presets load, every problem is reported with file, line and key."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from budget import examples
from creditsim.policy import (
    PolicyError,
    list_presets,
    load_policy,
    policy_from_text,
    preset_names,
    preset_text,
    read_policy,
)
from creditsim.tomllines import key_lines
from creditsim.policy.model import Policy

from .keylines_reference import key_lines_reference
from .strategies import policies

SEVEN = {"rongcheng", "fuzhou", "hangzhou", "xiamen", "spc-list", "beijing", "sesame"}

BAD = """\
[meta]
name = "bad"
title = "x"
description = "y"
city = "z"

[scale]
baseline = 1000
min = 0
max = 900
source = "s"
status = "published"

[[tiers]]
name = "A"
min = 500
max = 900
source = "s"
status = "maybe"

[[tiers]]
name = "B"
min = 600
max = 499
source = "s"
status = "published"

[[rules]]
id = "r1"
kinds = ["nope"]
points = "5"
expires_days = -1
cap = "missing"
source = "s"
status = "published"
bogus = 1

[[lists]]
id = "l"
title = "t"
source = "s"
status = "published"
grace_days = -3
[[lists.triggers]]
kinds = ["drunk_driving"]
term_days = 0

[[overrides]]
id = "o"
on_list = "nolist"
cap_tier = "Z"
source = "s"
status = "published"
"""


def test_seven_presets_load_and_list() -> None:
    assert set(preset_names()) == SEVEN
    infos = {p.name: p for p in list_presets()}
    assert set(infos) == SEVEN
    for name in SEVEN:
        assert isinstance(load_policy(name), Policy)
        assert infos[name].description and len(infos[name].description) <= 200


def test_every_preset_section_is_cited() -> None:
    for name in SEVEN:
        p = load_policy(name)
        for section in (p.tiers, p.caps, p.rules, p.overrides, p.lists, p.consequences):
            for item in section:
                assert item.source.strip(), (name, item)
        assert "sources#" in preset_text(name)


def test_assumptions_are_marked() -> None:
    # presets whose published tables are incomplete say which rows are assumptions
    for name in ("rongcheng", "fuzhou", "hangzhou", "xiamen", "beijing", "sesame"):
        statuses = {i.status for i in load_policy(name).rules}
        assert statuses & {"assumption", "low_quality", "secondary", "unverified"}, name
    assert all(t.status == "unverified" for t in load_policy("rongcheng").tiers)
    assert {r.status for r in load_policy("sesame").rules} == {"low_quality"}


def test_all_problems_reported_with_lines(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(BAD)
    with pytest.raises(PolicyError) as ei:
        load_policy(f)
    probs = {p.location.split(" ", 1)[1]: (p.location, p.message) for p in ei.value.problems}
    expect_lines = {
        "scale": 7,
        "tiers[0].status": 19,
        "tiers[1]": 21,
        "rules[0].kinds[0]": 30,
        "rules[0].points": 31,
        "rules[0].expires_days": 32,
        "rules[0].bogus": 36,
        "lists[0].grace_days": 43,
        "lists[0].triggers[0].term_days": 46,
    }
    for key, line in expect_lines.items():
        assert key in probs, (key, sorted(probs))
        assert probs[key][0] == f"{f}:{line} {key}", probs[key]
    # cross-section problems are reported even though other sections are broken
    assert any("unknown list 'nolist'" in m for _, m in probs.values())
    for p in ei.value.problems:
        assert re.match(rf"{re.escape(str(f))}:\d+ ", p.location), p


def test_tier_order_overlap_gap() -> None:
    base = preset_text("sesame")
    swapped = base.replace("min = 650\nmax = 699", "min = 640\nmax = 699")  # overlaps 'good'
    with pytest.raises(PolicyError) as ei:
        policy_from_text(swapped, "s.toml")
    assert any("overlaps" in p.message for p in ei.value.problems)
    gap = base.replace("min = 650\nmax = 699", "min = 655\nmax = 699")
    with pytest.raises(PolicyError) as ei:
        policy_from_text(gap, "s.toml")
    assert any("gap" in p.message for p in ei.value.problems)


def test_garbage_and_missing() -> None:
    with pytest.raises(PolicyError) as ei:
        policy_from_text(b"\xff\xfe\x00garbage", "g.toml")
    assert ei.value.problems[0].location == "g.toml:1"
    with pytest.raises(PolicyError) as ei:
        policy_from_text("x = [1,\n", "t.toml")
    assert ei.value.problems[0].location.startswith("t.toml:")
    with pytest.raises(PolicyError):
        policy_from_text("", "e.toml")
    with pytest.raises(PolicyError):
        load_policy("no-such-preset-or-file")


def test_key_lines_inline_and_arrays() -> None:
    text = (
        'a = 1\n[[r]]\nid = "x"\n[r.p]\nb = [\n  { u = 1 },\n  { u = 2, v = 3 },\n]\n'
        "c = { d = 4 }\n"
    )
    lines = key_lines(text)
    assert lines[("a",)] == 1
    assert lines[("r", 0, "id")] == 3
    assert lines[("r", 0, "p", "b", 1, "v")] == 7
    assert lines[("r", 0, "p", "c", "d")] == 9


def test_no_truth_columns_in_policy_package() -> None:
    root = Path(__file__).resolve().parents[2] / "src" / "creditsim" / "policy"
    for f in root.rglob("*.py"):
        assert "truth_" not in f.read_text().replace("``truth_*``", ""), f


# ----------------------------------------------------------------------------- the locator


def _inline(v: object) -> str:
    """A TOML value with bare keys in inline tables (what people write by hand)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_inline(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_inline(x)}" for k, x in v.items() if x is not None) + " }"
    return repr(v)


@st.composite
def policy_texts(draw) -> str:  # noqa: ANN001
    """A random valid policy written in one of three layouts: sections as inline
    arrays on one line, one element per line, or as [[tables]]."""
    data = draw(policies()).model_dump(mode="json", exclude_defaults=True)
    layout = draw(st.sampled_from(["one_line", "per_line", "tables"]))
    out = []
    for name, value in data.items():
        if isinstance(value, list) and layout != "tables":
            sep = ", " if layout == "one_line" else ",\n  "
            out.insert(0, f"{name} = [" + sep.join(_inline(x) for x in value) + "]")
        elif isinstance(value, list):
            for item in value:
                out.append(f"\n[[{name}]]")
                out += [f"{k} = {_inline(x)}" for k, x in item.items() if x is not None]
        else:
            out.append(f"\n[{name}]")
            out += [f"{k} = {_inline(x)}" for k, x in value.items() if x is not None]
    return "\n".join(out) + "\n"


#: Text made of the characters the locator reacts to (brackets, quotes, escapes,
#: comments, "=", whitespace) and key characters.
toml_ish = st.text(alphabet=st.sampled_from(list("[]{}=\"'#,.\\ \t\n\u00a0ab_-1")), max_size=300)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(policy_texts(), toml_ish, st.sampled_from(preset_names()).map(preset_text)))
def test_key_lines_agrees_with_the_reference(text: str) -> None:
    assert key_lines(text) == key_lines_reference(text)


def _many_rules(n: int) -> str:
    rules = ", ".join(
        f'{{ id = "r{i}", kinds = ["honour"], points = 1, expires_days = 10, source = "s", '
        f'status = "assumption" }}'
        for i in range(n)
    )
    return (
        f"rules = [{rules}]\n"
        '[meta]\nname = "big"\ntitle = "t"\ndescription = "d"\ncity = "c"\n'
        '[scale]\nbaseline = 10\nmin = 0\nmax = 20\nsource = "s"\nstatus = "assumption"\n'
        '[[tiers]]\nname = "A"\nmin = 0\nmax = 20\nsource = "s"\nstatus = "assumption"\n'
    )


def test_two_thousand_rules_in_one_inline_array_check_fast() -> None:
    text = _many_rules(2000)
    t0 = time.perf_counter()
    policy = policy_from_text(text, "big.toml")
    secs = time.perf_counter() - t0
    assert len(policy.rules) == 2000
    assert secs < 5.0, f"{secs:.1f} s to check 2000 rules"
    bad = text.replace('id = "r1999", kinds = ["honour"], points = 1',
                       'id = "r1999", kinds = ["honour"], points = 0')
    with pytest.raises(PolicyError) as ei:
        policy_from_text(bad, "big.toml")
    assert [p.location for p in ei.value.problems] == ["big.toml:1 rules[1999]"]


def test_read_policy_keeps_the_bytes_it_validated(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    raw = preset_text("sesame").replace("\n", "\r\n").encode("utf-8") + b"# end\r\n"
    f.write_bytes(raw)
    loaded = read_policy(f)
    assert loaded.text == raw and loaded.origin == str(f)
    assert loaded.policy == load_policy("sesame")
    f.write_text("garbage", encoding="utf-8")  # replaced afterwards: the loaded copy stands
    assert loaded.text == raw
    preset = read_policy("rongcheng")
    assert preset.text == preset_text("rongcheng").encode("utf-8")
    assert preset.origin == "presets/rongcheng.toml"
