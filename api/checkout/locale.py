"""How money and dates read for the customer: in the locale their browser asks for
(`Accept-Language`, en_US when it names none we know), through Babel.

An amount is integer atoms; it becomes an exact Decimal by the currency's exponent
(domain/currencies.py), and is written with exactly that many decimals whatever CLDR says of the
currency, so that what is shown is what is charged.
"""
from __future__ import annotations

import copy
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.numbers import NumberPattern, get_currency_symbol

from domain.currencies import exponent

DEFAULT = Locale("en", "US")
MAX_RANGES = 12  # a longer Accept-Language is read no further
# One language range of Accept-Language (RFC 9110 12.5.4), with its optional weight.
_RANGE = re.compile(r"\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)\s*(?:;\s*q\s*=\s*(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?))?\s*")


def negotiate(accept_language: str | None) -> Locale:
    """The first locale Babel knows among the header's ranges, by weight and then order; each
    range is tried whole, then as its language alone (`en-150` -> `en`). en_US when none fits."""
    ranked = []
    for position, part in enumerate((accept_language or "").split(",")[:MAX_RANGES]):
        match = _RANGE.fullmatch(part)
        if match is None:
            continue
        weight = Decimal(match.group(2) or "1")
        if weight > 0:
            ranked.append((-weight, position, match.group(1)))
    for _, _, tag in sorted(ranked):
        found = _known(tag) or _known(tag.split("-")[0])
        if found is not None:
            return found
    return DEFAULT


@lru_cache(maxsize=512)
def _known(tag: str) -> Locale | None:
    try:
        return Locale.parse(tag, sep="-")
    except (ValueError, UnknownLocaleError):
        return None


@lru_cache(maxsize=512)
def _currency_pattern(locale: Locale, digits: int) -> NumberPattern:
    """The locale's currency pattern, with exactly `digits` decimals (a copy: Babel's is shared)."""
    pattern = copy.copy(locale.currency_formats["standard"])
    pattern.frac_prec = (digits, digits)
    return pattern


def _is_symbol(char: str) -> bool:
    return unicodedata.category(char).startswith("S")


def money(amount_atom: int, currency: str, locale: Locale) -> str:
    """`129950, "USD"` -> `$1,299.50` (en_US), `1.299,50 €` for EUR in de; `¥500`; `KWD 1.005`.

    Babel does not apply CLDR's currency spacing, so as CLDR says a non-breaking space goes
    between a currency sign made of letters (`KWD`) and the digits beside it."""
    digits = exponent(currency)
    amount = Decimal(amount_atom).scaleb(-digits)
    text = _currency_pattern(locale, digits).apply(amount, locale, currency=currency, currency_digits=False)
    symbol = get_currency_symbol(currency, locale)
    if not _is_symbol(symbol[-1]):
        text = re.sub(rf"{re.escape(symbol)}(?=[0-9])", symbol + "\u00a0", text)
    if not _is_symbol(symbol[0]):
        text = re.sub(rf"(?<=[0-9]){re.escape(symbol)}", "\u00a0" + symbol, text)
    return text


def long_date(moment: datetime, locale: Locale) -> str:
    """`December 15, 2026` (en_US), `15 December 2026` (en_GB), `15. Dezember 2026` (de); in UTC."""
    return format_date(moment.astimezone(UTC), "long", locale=locale)


def date_and_time(moment: datetime, locale: Locale) -> str:
    """`June 18, 2026, 2:00 PM UTC` (en_US), `18. Juni 2026, 14:00 UTC` (de)."""
    moment = moment.astimezone(UTC)
    day, time = format_date(moment, "long", locale=locale), format_time(moment, "short", tzinfo=UTC, locale=locale)
    joined = locale.datetime_formats["long"].replace("'", "").replace("{0}", time).replace("{1}", day)
    return f"{joined} UTC"


@dataclass(frozen=True)
class Formats:
    """The formatting of one customer's locale, for the templates: `fmt.money(atoms, currency)`."""

    locale: Locale

    @classmethod
    def for_header(cls, accept_language: str | None) -> Formats:
        return cls(negotiate(accept_language))

    def money(self, amount_atom: int, currency: str) -> str:
        return money(amount_atom, currency, self.locale)

    def date(self, moment: datetime) -> str:
        return long_date(moment, self.locale)

    def date_and_time(self, moment: datetime) -> str:
        return date_and_time(moment, self.locale)
