"""Money and dates on the customer's pages: Babel in the locale of Accept-Language (en_US when it
names none we know), amounts exact from integer atoms by our exponents."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from babel import Locale

from api.checkout.locale import DEFAULT, Formats, date_and_time, long_date, money, negotiate

NBSP = "\u00a0"


@pytest.mark.parametrize("header, atoms, currency, shown", [
    ("en-US", 129950, "USD", "$1,299.50"),
    ("de-DE", 129950, "EUR", f"1.299,50{NBSP}€"),
    ("ja-JP", 500, "JPY", "￥500"),  # CLDR's full-width yen in Japanese
    ("en-US", 500, "JPY", "¥500"),
    ("en-US", 1005, "KWD", f"KWD{NBSP}1.005"),  # a sign made of letters is spaced from the digits
    ("de-DE", 1005, "KWD", f"1,005{NBSP}KWD"),
    ("fr-FR", 5, "EUR", f"0,05{NBSP}€"),
    ("en-US", 0, "USD", "$0.00"),
    ("en-US", 123456789012, "USD", "$1,234,567,890.12"),
])
def test_money_in_the_customers_locale(header, atoms, currency, shown):
    assert Formats.for_header(header).money(atoms, currency) == shown


def test_our_exponent_wins_over_cldrs_so_the_amount_shown_is_the_amount_charged():
    """CLDR writes IQD and HUF without decimals; their atoms have three and two (domain/currencies.py)."""
    assert money(1005, "IQD", DEFAULT) == f"IQD{NBSP}1.005"
    assert money(199, "HUF", DEFAULT) == f"HUF{NBSP}1.99"


def test_amounts_never_go_through_a_float():
    """An amount no float holds exactly is written digit for digit."""
    assert money(900719925474099312, "USD", DEFAULT) == "$9,007,199,254,740,993.12"


@pytest.mark.parametrize("header, locale", [
    (None, "en_US"),
    ("", "en_US"),
    ("de-DE,de;q=0.9,en;q=0.8", "de_DE"),
    ("fr;q=0.2, de;q=0.8", "de"),  # by weight, not by order
    ("da, en-GB;q=0.8", "da"),
    ("en-150", "en_150"),
    ("es-419", "es_419"),
    ("xx-YY, en-GB;q=0.5", "en_GB"),  # an unknown language is passed over
    ("en-419", "en"),  # a region Babel has no English for: the language alone
    ("de;q=0", "en_US"),  # "not German"
    ("*", "en_US"),
    ("!!!", "en_US"),
    ("de-DE;q=abc", "en_US"),
    ("de" + "-abcdefghi" * 3, "en_US"),
    (",".join(["zz"] * 12 + ["de"]), "en_US"),  # read no further than 12 ranges
    ("x" * 10_000, "en_US"),
])
def test_the_locale_comes_from_accept_language_with_english_by_default(header, locale):
    assert str(negotiate(header)) == locale


def test_dates_are_the_locales_long_form_in_utc():
    moment = datetime(2026, 12, 15, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # 16 December, UTC
    assert long_date(datetime(2026, 12, 15, 8, tzinfo=UTC), DEFAULT) == "December 15, 2026"
    assert long_date(datetime(2026, 12, 15, 8, tzinfo=UTC), Locale.parse("en_GB")) == "15 December 2026"
    assert long_date(datetime(2026, 12, 15, 8, tzinfo=UTC), Locale.parse("de")) == "15. Dezember 2026"
    assert long_date(moment, DEFAULT) == "December 16, 2026"
    assert date_and_time(datetime(2026, 6, 18, 14, tzinfo=UTC), DEFAULT) == "June 18, 2026, 2:00\u202fPM UTC"
    assert date_and_time(datetime(2026, 6, 18, 14, tzinfo=UTC), Locale.parse("de")) == "18. Juni 2026, 14:00 UTC"
