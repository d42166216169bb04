"""Field rules shared by several objects: names, metadata, URLs, emails, amounts, currencies."""
from __future__ import annotations

import json
import re
from typing import Any

from domain.currencies import is_currency
from domain.errors import invalid

MAX_AMOUNT_ATOM = 99_999_999_999  # an upper bound that keeps any cart total far inside int64
MAX_NAME_CHARS = 255
MAX_URL_CHARS = 2048
METADATA_MAX_KEYS = 50
METADATA_MAX_KEY_CHARS = 40
METADATA_MAX_BYTES = 8 * 1024
METADATA_MAX_DEPTH = 5  # {"a": {"b": [1]}} is 3 deep; deeper is a document, not metadata
MAX_EMAIL_CHARS = 512
# Written once, as regular expressions both Python and JSON Schema (ECMA-262) read alike, so that
# /openapi.json states these rules exactly (api/schemas.py). So no \s (the two disagree on it):
# WHITESPACE is what Python's str.isspace() and strip() call whitespace, spelled out, and NUL is
# left out everywhere (PostgreSQL refuses it in text).
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK_PATTERN = rf"^[^\x00]*[^{WHITESPACE}\x00][^\x00]*$"
EMAIL_PATTERN = rf"^[^@{WHITESPACE}\x00]+@[^@{WHITESPACE}\x00]+\.[^@{WHITESPACE}\x00]+$"
# http or https (any case), `//`, an optional user, a host name or a bracketed IPv6 address, an
# optional port, then a path, query or fragment; no whitespace anywhere.
URL_PATTERN = (rf"^[Hh][Tt][Tt][Pp][Ss]?://([^{WHITESPACE}/?#@\x00]*@)?"
               rf"([^{WHITESPACE}/?#@:\[\]\x00]+|\[[0-9A-Fa-f:.]+\])(:[0-9]*)?([/?#][^{WHITESPACE}\x00]*)?$")
_EMAIL = re.compile(EMAIL_PATTERN)
_URL = re.compile(URL_PATTERN)


def require_text(value: str | None, param: str, max_chars: int = MAX_NAME_CHARS, *, required: bool = True) -> None:
    if value is None:
        if required:
            raise invalid(param, f"{param} is required", "parameter_missing")
        return
    if required and not value.strip():
        raise invalid(param, f"{param} must not be empty")
    if len(value) > max_chars:
        raise invalid(param, f"{param} must be at most {max_chars} characters")
    if "\x00" in value:
        raise invalid(param, f"{param} must not contain NUL characters")


def require_currency(code: str | None, param: str = "currency") -> str:
    if code is None:
        raise invalid(param, f"{param} is required", "parameter_missing")
    if not is_currency(code):
        raise invalid(param, f"{param} must be an upper-case ISO 4217 currency code such as USD, got {code!r}")
    return code


def require_amount(value: int, param: str, minimum: int = 0) -> None:
    if not minimum <= value <= MAX_AMOUNT_ATOM:
        raise invalid(param, f"{param} must be an integer from {minimum} to {MAX_AMOUNT_ATOM}")


def require_int_range(value: int, param: str, low: int, high: int) -> None:
    if not low <= value <= high:
        raise invalid(param, f"{param} must be an integer from {low} to {high}")


def require_metadata(metadata: dict[str, Any] | None, param: str = "metadata") -> dict[str, Any]:
    if metadata is None:
        return {}
    if len(metadata) > METADATA_MAX_KEYS:
        raise invalid(param, f"{param} may have at most {METADATA_MAX_KEYS} keys")
    for key in metadata:
        if not key or len(key) > METADATA_MAX_KEY_CHARS:
            # A long key is named by its start; an empty one has no name, so the object is named.
            raise invalid(f"{param}.{key[:METADATA_MAX_KEY_CHARS]}" if key else param,
                          f"{param} keys must be 1 to {METADATA_MAX_KEY_CHARS} characters")
    if _depth(metadata) > METADATA_MAX_DEPTH:
        raise invalid(param, f"{param} may nest objects and arrays at most {METADATA_MAX_DEPTH} deep")
    encoded = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode()
    if len(encoded) > METADATA_MAX_BYTES:
        raise invalid(param, f"{param} must be at most {METADATA_MAX_BYTES} bytes as JSON", "metadata_too_large")
    if b"\\u0000" in encoded:
        raise invalid(param, f"{param} must not contain NUL characters")  # PostgreSQL jsonb refuses them
    return metadata


def _depth(value: Any) -> int:
    """How deep objects and arrays nest in `value` (iterative: no recursion limit to hit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def require_url(url: str | None, param: str) -> None:
    if url is None:
        return
    if len(url) > MAX_URL_CHARS:
        raise invalid(param, f"{param} must be at most {MAX_URL_CHARS} characters")
    if not _URL.fullmatch(url):
        raise invalid(param, f"{param} must be an absolute http or https URL")


def require_email(email: str | None, param: str = "email") -> None:
    require_text(email, param, MAX_EMAIL_CHARS)
    if not _EMAIL.fullmatch(email or ""):
        raise invalid(param, f"{param} must be an email address")


def require_unique(values: list[str], param: str) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise invalid(f"{param}[{index}]", f"{param} must not repeat {value!r}")
        seen.add(value)
