"""The shipped beijing.toml is the Python profile it replaces, field by field."""

from __future__ import annotations

import dataclasses

from creditsim.cities import load_city
from creditsim.cities.beijing import BEIJING as PYTHON_BEIJING


def test_the_toml_profile_equals_the_python_one() -> None:
    loaded = load_city("beijing")
    for f in dataclasses.fields(PYTHON_BEIJING):
        if f.name in ("title", "default_policy", "linkage_model", "origin", "text"):
            continue
        a, b = getattr(loaded, f.name), getattr(PYTHON_BEIJING, f.name)
        assert a == b, f.name
        if isinstance(getattr(b, "value", None), tuple):  # same element types (ints stay ints)
            assert [type(x) for x in a.value] == [type(x) for x in b.value], f.name
    assert (loaded.default_policy, loaded.linkage_model) == ("beijing", "beijing")
