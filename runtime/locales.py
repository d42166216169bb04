"""The customer's locale, from their browser's Accept-Language (receipts show amounts and dates
in it, with Babel's CLDR data)."""
from __future__ import annotations

from babel import Locale, UnknownLocaleError


def preferred_locale(accept_language: str | None) -> str | None:
    """The first language of `Accept-Language` (by weight) that CLDR knows, as `de_DE`; None
    when the header names none."""
    if not accept_language:
        return None
    ranked = []
    for index, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and len(tag) <= 35:
            ranked.append((-weight, index, tag))
    for _, _, tag in sorted(ranked):
        try:
            return str(Locale.parse(tag, sep="-"))
        except (ValueError, UnknownLocaleError):
            continue
    return None
