"""✔/✖ marks never accumulate; countries and currencies normalise to ISO codes or fail loudly."""

from __future__ import annotations

import pycountry
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.core.countries import UnknownCountry, is_country_code, is_currency_code, normalise_country
from shared.core.marks import NAME_MAX_CHARS, strip_mark, with_mark
from tests.unit.builders import a_settings

MARKED = a_settings(check_mark_in_name=True)
UNMARKED = a_settings(check_mark_in_name=False)


@pytest.mark.parametrize(
    ("name", "ok", "expected"),
    [
        ("Contoso deal", True, "✔ Contoso deal"),
        ("Contoso deal", False, "✖ Contoso deal"),
        ("✔ Contoso deal", False, "✖ Contoso deal"),
        ("✖ ✔ ✔Contoso deal", True, "✔ Contoso deal"),
        ("Contoso deal ✔", True, "✔ Contoso deal"),
        ("✔️ Contoso deal", True, "✔ Contoso deal"),
        ("Deal ✔ phase 2", True, "✔ Deal ✔ phase 2"),
    ],
)
def test_with_mark_replaces_any_existing_mark(name, ok, expected):
    assert with_mark(name, ok, MARKED) == expected


def test_with_mark_leaves_the_name_bare_when_the_setting_is_off():
    assert with_mark("✔ Contoso deal", True, UNMARKED) == "Contoso deal"


def test_a_long_name_is_cut_to_fit_salesforce_with_its_mark():
    marked = with_mark("x" * 200, True, MARKED)
    assert len(marked) == NAME_MAX_CHARS
    assert marked.startswith("✔ x")


names = st.text(max_size=150) | st.text(alphabet="✔✖ \ufe0fab", max_size=12)


@given(name=names, first=st.booleans(), second=st.booleans(), setting=st.booleans())
def test_marks_never_accumulate(name, first, second, setting):
    settings = MARKED if setting else UNMARKED
    once = with_mark(name, first, settings)
    assert with_mark(once, second, settings) == with_mark(name, second, settings)
    assert strip_mark(once) == strip_mark(with_mark(once, second, settings))
    assert once.count("✔") + once.count("✖") <= (1 if setting else 0) + name.count("✔") + name.count("✖")
    assert len(once) <= NAME_MAX_CHARS


@given(name=st.text(max_size=100))
def test_strip_mark_is_idempotent_and_keeps_unmarked_names(name):
    assert strip_mark(strip_mark(name)) == strip_mark(name)
    if not any(ch in name for ch in "✔✖✓✗✅❌✘"):
        assert strip_mark(name) == name


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Germany", "DE"),
        ("germany", "DE"),
        ("DEU", "DE"),
        ("de", "DE"),
        ("United States", "US"),
        ("united states of america", "US"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("UK", "GB"),
        ("Great Britain", "GB"),
        ("Côte d'Ivoire", "CI"),
        ("Cote d'Ivoire", "CI"),
        ("Ivory Coast", "CI"),
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("Viet Nam", "VN"),
        ("Vietnam", "VN"),
        ("Czechia", "CZ"),
        ("Bolivia", "BO"),
        ("  Japan  ", "JP"),
        ("276", "DE"),
        (None, None),
        ("", None),
        ("   ", None),
    ],
)
def test_country_text_normalises_to_alpha_2(text, code):
    assert normalise_country(text) == code


@pytest.mark.parametrize("text", ["Atlantis", "Germanyy", "XX", "Europe", "Republic"])
def test_what_names_no_country_is_an_error_naming_it(text):
    with pytest.raises(UnknownCountry, match=text):
        normalise_country(text)


@pytest.mark.parametrize("country", list(pycountry.countries), ids=lambda c: c.alpha_2)
def test_every_iso_country_normalises_from_each_of_its_names_and_codes(country):
    for text in {
        country.alpha_2,
        country.alpha_3,
        country.name,
        country.name.upper(),
        country.alpha_2.lower(),
    }:
        assert normalise_country(text) == country.alpha_2, text
    official = getattr(country, "official_name", None)
    if official:
        assert normalise_country(official) == country.alpha_2
    assert is_country_code(country.alpha_2)


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("USD", True),
        ("JPY", True),
        ("KWD", True),
        ("usd", False),
        ("XYZ", False),
        (None, False),
        ("US", False),
    ],
)
def test_currency_codes_are_iso_4217(code, valid):
    assert is_currency_code(code) is valid


def test_country_codes_must_be_upper_case_alpha_2():
    assert not is_country_code("us")
    assert not is_country_code("USA")
    assert not is_country_code(None)
