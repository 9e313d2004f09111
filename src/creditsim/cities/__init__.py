"""City profiles: the published figures a synthetic city is built from, as data.

Shipped profiles are TOML files in ``creditsim/cities/data/`` (format:
``docs/cities.md``); :func:`load_city` reads one by name or any city file by path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from creditsim.cities.dump import dump_city
from creditsim.cities.files import city_names, city_source, is_shipped, load_city
from creditsim.cities.loader import CityError, city_from_text, locate_key
from creditsim.cities.model import CityProfile


class _Shipped(Mapping[str, CityProfile]):
    """The shipped profiles by name, each read when first asked for."""

    def __getitem__(self, name: str) -> CityProfile:
        if not is_shipped(name):
            raise KeyError(name)
        return load_city(name)

    def __iter__(self) -> Iterator[str]:
        return iter(city_names())

    def __len__(self) -> int:
        return len(city_names())


CITIES: Mapping[str, CityProfile] = _Shipped()
#: The default city, read from ``data/beijing.toml``.
BEIJING: CityProfile = load_city("beijing")

__all__ = ["BEIJING", "CITIES", "CityError", "CityProfile", "city_from_text", "city_names",
           "city_source", "dump_city", "is_shipped", "load_city", "locate_key"]
