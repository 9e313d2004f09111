"""Cited parameters.

Every default number in creditsim is a :class:`Cited` value: the number and where
it comes from — an entry of the project's source notes, cited as
``sources#<anchor>`` (``docs/sources/README.md``), or ``"assumption: <reason>"``.
The sources travel into each run's manifest, so a reader of any output can see
what every number rests on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Cited(Generic[T]):
    """A default value together with its source."""

    value: T
    source: str
    #: Unit of the value ("days", "yuan", "per resident-year", …); "" if unitless or unstated.
    unit: str = ""
    #: Allowed range (low, high), either end None for open; None: derived from the
    #: parameter's name and type (creditsim.paramspace).
    bounds: tuple[float | None, float | None] | None = None

    @property
    def is_assumption(self) -> bool:
        return self.source.lower().startswith("assumption")


def provenance(obj: Any, prefix: str = "") -> dict[str, dict[str, Any]]:
    """Flatten every :class:`Cited` attribute of a (nested) dataclass into a dict.

    Returns ``{"dotted.name": {"value": ..., "source": ...}}`` for the manifest.
    """
    out: dict[str, dict[str, Any]] = {}
    fields = getattr(obj, "__dataclass_fields__", None)
    if fields is None:
        return out
    for name in fields:
        val = getattr(obj, name)
        key = f"{prefix}{name}"
        if isinstance(val, Cited):
            v = val.value
            if isinstance(v, tuple):
                v = list(v)
            out[key] = {"value": v, "source": val.source}
        elif hasattr(val, "__dataclass_fields__"):
            out.update(provenance(val, key + "."))
        elif isinstance(val, dict):
            for k, sub in val.items():
                if isinstance(sub, Cited):
                    out[f"{key}.{k}"] = {"value": sub.value, "source": sub.source}
                elif hasattr(sub, "__dataclass_fields__"):
                    out.update(provenance(sub, f"{key}.{k}."))
    return out
