"""Ids and secrets, all drawn from `secrets` (a CSPRNG)."""
from __future__ import annotations

import hashlib
import secrets
import string

BASE62 = string.digits + string.ascii_letters
ID_RANDOM_CHARS = 20  # 20 base62 characters ~ 119 bits


# Byte -> character: the 248 bytes below 4 * 62 map 4 to each character; the 8 above are dropped.
_BYTE_TO_CHAR = bytes((BASE62[b % 62] if b < 248 else "-").encode()[0] for b in range(256))


def random_base62(length: int) -> str:
    """Each character uniform and independent: CSPRNG bytes, those below 248 taken modulo 62
    (rejection sampling), in C (`bytes.translate`): 2 µs an id where a draw below 62**length
    written out by divmod took 13 (the share path makes two ids)."""
    while True:
        drawn = secrets.token_bytes(length + 8).translate(_BYTE_TO_CHAR).replace(b"-", b"")
        if len(drawn) >= length:
            return drawn[:length].decode()


def mode_name(livemode: bool) -> str:
    return "live" if livemode else "test"


def new_id(prefix: str, livemode: bool) -> str:
    """`pl_live_x7k9m2n4p8q1abcdEFGH`: prefix, mode, random base62."""
    return f"{prefix}_{mode_name(livemode)}_{random_base62(ID_RANDOM_CHARS)}"


def new_account_id() -> str:
    return f"acct_{random_base62(ID_RANDOM_CHARS)}"


def new_api_key(livemode: bool) -> str:
    return f"sk_{mode_name(livemode)}_{random_base62(32)}"


def hash_secret(secret: str) -> str:
    """API keys are stored only as this hash; a 190-bit random key needs no slow KDF."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_url_token() -> str:
    """At least 128 bits, URL-safe: 24 random bytes -> 32 characters."""
    return secrets.token_urlsafe(24)


# No id or token we make is longer (ids ~30 characters, share tokens 32, checkout tokens ~50;
# the columns hold 64), so a longer one is not looked up at all.
MAX_TOKEN_CHARS = 64


def plausible_token(value: object) -> bool:
    """Could `value` be one of our ids or tokens? A string of at most MAX_TOKEN_CHARS with no NUL
    (none of ours has one, and PostgreSQL refuses NUL in a parameter)."""
    return isinstance(value, str) and len(value) <= MAX_TOKEN_CHARS and "\x00" not in value
