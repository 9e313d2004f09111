"""Where city profiles come from: the shipped files (by name) or a path.

:func:`load_city` reads a file's bytes once per call and keeps the parsed profile
by (origin, sha256 of the bytes), so reading an unchanged file again costs a hash
and never a second validation, and an edited file is validated anew.
"""

from __future__ import annotations

import hashlib
import threading
from importlib import resources
from pathlib import Path
from typing import Any

from creditsim.cities.loader import CityError, city_from_text
from creditsim.cities.model import CityProfile
from creditsim.errors import Problem

_CACHE: dict[tuple[str, str], CityProfile] = {}
_LOCK = threading.Lock()
#: Parsed profiles kept (custom files edited many times in one process).
_CACHE_SIZE = 64


def _data_dir() -> Any:
    return resources.files("creditsim.cities.data")


def city_names() -> list[str]:
    """Names of the shipped city profiles, sorted."""
    return sorted(p.name.removesuffix(".toml") for p in _data_dir().iterdir()
                  if p.name.endswith(".toml"))


def is_shipped(ref: str | Path) -> bool:
    return isinstance(ref, str) and ref in city_names()


def city_source(ref: str | Path) -> tuple[bytes, str]:
    """The bytes of a shipped profile (by name) or a city file, and where they came from."""
    if is_shipped(ref):
        return (_data_dir() / f"{ref}.toml").read_bytes(), f"cities/{ref}.toml"
    path = Path(ref)
    if not path.is_file():
        shipped = ", ".join(city_names())
        looks_like_file = str(ref).endswith(".toml") or "/" in str(ref)
        what = "no such city file" if looks_like_file else "unknown city"
        raise CityError(Problem(f"{what} {str(ref)!r} (not a shipped city, and no such "
                                f"file); shipped: {shipped}", str(ref)))
    try:
        return path.read_bytes(), str(path)
    except OSError as e:
        raise CityError(Problem(f"cannot read: {e.strerror}", str(path))) from None


def load_city(ref: str | Path) -> CityProfile:
    """The profile of a shipped city (``"beijing"``) or of a city file; raises CityError
    listing every problem of the file, each located ``file:line key.path``."""
    raw, origin = city_source(ref)
    key = (origin, hashlib.sha256(raw).hexdigest())
    with _LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        return hit
    city = city_from_text(raw, origin)
    with _LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = city
    return city
