"""Checkout tokens: random, and signed by the web process that minted them.

The signature lets the hosted page tell a genuine session that the worker has not stored yet
(show "preparing") from a made-up token (the generic error), without any extra I/O on the share
path. The token also carries its minting time, so "preparing" does not last forever.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signature(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest()[:16])


def new_checkout_token(secret: bytes, now: datetime) -> str:
    """`<128 random bits>.<minted at, base 36>.<HMAC-SHA256, 128 bits>`, URL-safe, ~58 characters."""
    payload = f"{secrets.token_urlsafe(16)}.{_base36(int(now.timestamp()))}"
    return f"{payload}.{_signature(secret, payload)}"


def minted_at(secret: bytes, token: str) -> datetime | None:
    """When a genuine token was minted; None for a token we did not sign."""
    payload, _, signature = token.rpartition(".")
    if not payload or not hmac.compare_digest(_signature(secret, payload), signature):
        return None
    try:
        return datetime.fromtimestamp(int(payload.rpartition(".")[2], 36), UTC)
    except ValueError:
        return None


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out
