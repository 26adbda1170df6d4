"""Country and currency codes: whatever Salesforce holds -> ISO 3166 alpha-2 / ISO 4217.

Partner Center requires an ISO alpha-2 country; Salesforce orgs hold names ("Germany"), alpha-3 codes
("DEU") or codes in any case. Lookup is exact after folding case, accents and punctuation (no fuzzy
matching: a guess that picks the wrong country is worse than a validation error).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import pycountry


class UnknownCountry(ValueError):
    """The text names no ISO 3166 country we can identify."""


# Everyday names that ISO's name, official name and common name do not cover.
_ALIASES: dict[str, str] = {
    "usa": "US",
    "u s a": "US",
    "u s": "US",
    "america": "US",
    "united states": "US",
    "uk": "GB",
    "u k": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "russia": "RU",
    "south korea": "KR",
    "republic of korea": "KR",
    "north korea": "KP",
    "vietnam": "VN",
    "czech republic": "CZ",
    "turkey": "TR",
    "holland": "NL",
    "the netherlands": "NL",
    "ivory coast": "CI",
    "cape verde": "CV",
    "swaziland": "SZ",
    "macedonia": "MK",
    "burma": "MM",
    "laos": "LA",
    "syria": "SY",
    "moldova": "MD",
    "tanzania": "TZ",
    "venezuela": "VE",
    "brunei": "BN",
    "vatican": "VA",
    "vatican city": "VA",
    "palestine": "PS",
    "uae": "AE",
    "hong kong": "HK",
    "macau": "MO",
    "macao": "MO",
    "east timor": "TL",
    "micronesia": "FM",
    "congo kinshasa": "CD",
    "democratic republic of the congo": "CD",
    "drc": "CD",
    "congo brazzaville": "CG",
    "republic of the congo": "CG",
}


def _fold(text: str) -> str:
    """Case-, accent- and punctuation-insensitive key: "Côte d'Ivoire" -> "cote d ivoire"."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", ascii_only.casefold()).split())


@lru_cache(maxsize=1)
def _index() -> dict[str, str]:
    index: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name", "alpha_3", "numeric", "alpha_2"):
            value = getattr(country, attr, None)
            if value:
                index[_fold(value)] = country.alpha_2
    # ISO names written "Bolivia, Plurinational State of" are also looked up without the suffix.
    for country in pycountry.countries:
        head = country.name.split(",")[0]
        index.setdefault(_fold(head), country.alpha_2)
    index.update(_ALIASES)
    return index


def normalise_country(value: str | None) -> str | None:
    """ISO 3166 alpha-2 code for a country name, alpha-2/alpha-3/numeric code or common alias.

    Empty input gives None; text that names no country raises `UnknownCountry`.
    """
    if value is None or not value.strip():
        return None
    code = _index().get(_fold(value))
    if code is None:
        raise UnknownCountry(f"{value.strip()!r} is not a recognised ISO 3166 country")
    return code


def is_country_code(value: str | None) -> bool:
    """True for an ISO 3166 alpha-2 code written in upper case."""
    return bool(
        value and len(value) == 2 and value.isupper() and pycountry.countries.get(alpha_2=value) is not None
    )


def is_currency_code(value: str | None) -> bool:
    """True for an ISO 4217 alphabetic code written in upper case."""
    return bool(
        value and len(value) == 3 and value.isupper() and pycountry.currencies.get(alpha_3=value) is not None
    )
