"""Merchant accounts, their first API keys (one live, one test; stored only as hashes; domain/api_keys.py
lists, adds and revokes keys) and what
customers see of them on the hosted pages (SPEC 10: display name, support email, brand colour)."""
from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.db import UnitOfWork, utcnow
from domain.errors import invalid
from domain.ids import hash_secret, new_account_id, new_api_key, new_id
from domain.models import Account, ApiKey
from domain.payment_links import UNCHANGED, Unchanged
from domain.rules import MAX_NAME_CHARS, require_email, require_text

# `#RRGGBB`; a regular expression Python and JSON Schema read alike (api/schemas.py states it).
BRAND_COLOR_PATTERN = r"^#[0-9a-fA-F]{6}$"
_BRAND_COLOR = re.compile(BRAND_COLOR_PATTERN)


@dataclass(frozen=True)
class NewAccount:
    account_id: str
    api_key: str
    test_api_key: str


def create_account(uow: UnitOfWork, name: str) -> NewAccount:
    require_text(name, "name")
    now = utcnow()
    account = Account(id=new_account_id(), name=name, created_at=now)
    live_key, test_key = new_api_key(True), new_api_key(False)
    uow.session.add(account)
    uow.session.flush()
    uow.session.add_all([key_record(live_key, account.id, True, now), key_record(test_key, account.id, False, now)])
    uow.session.flush()
    return NewAccount(account.id, live_key, test_key)


def key_record(secret: str, account_id: str, livemode: bool, now) -> ApiKey:
    """What is kept of a new key: its hash, an id, its last four characters."""
    return ApiKey(key_hash=hash_secret(secret), id=new_id("key", livemode), account_id=account_id, livemode=livemode,
                  created_at=now, last4=secret[-4:])


def find_api_key(session: Session, presented_key: str) -> ApiKey | None:
    """The key's record, looked up by its hash (so no secret is ever compared in clear); None once
    revoked. Read from the database on every request (no cache), so a revocation holds at once."""
    if not presented_key.startswith(("sk_live_", "sk_test_")):
        return None
    return session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_secret(presented_key),
                                                ApiKey.revoked_at.is_(None))).first()


@dataclass(frozen=True)
class MerchantDisplay:
    """What a customer sees of the merchant on the hosted pages."""

    name: str
    support_email: str | None
    brand_color: str | None


def display_name_of(account: Account) -> str:
    """The name customers see: the display name, or the account's name while none is set."""
    return account.display_name or account.name


def display_of(uow: UnitOfWork, account_id: str) -> MerchantDisplay:
    account = uow.session.get(Account, account_id)
    return MerchantDisplay(display_name_of(account), account.support_email, account.brand_color)


# ---- display settings -----------------------------------------------------------------------

@dataclass
class DisplayUpdate:
    """What a merchant may change of their account; a field left out stays as it is. None
    resets: the display name to the account's name, the support email and brand colour to none."""

    display_name: str | None | Unchanged = UNCHANGED
    support_email: str | None | Unchanged = UNCHANGED
    brand_color: str | None | Unchanged = UNCHANGED

    def given(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not UNCHANGED}


def validate_display_update(changes: DisplayUpdate) -> None:
    given = changes.given()
    if given.get("display_name") is not None:
        require_text(given["display_name"], "display_name", MAX_NAME_CHARS)
    if given.get("support_email") is not None:
        require_email(given["support_email"], "support_email")
    if given.get("brand_color") is not None and not _BRAND_COLOR.fullmatch(given["brand_color"]):
        raise invalid("brand_color", "brand_color must be a colour as #RRGGBB, such as #1a73e8")


def get_account(uow: UnitOfWork, account_id: str) -> Account:
    return uow.session.get(Account, account_id)


def update_display(uow: UnitOfWork, account_id: str, changes: DisplayUpdate) -> Account:
    validate_display_update(changes)
    account = get_account(uow, account_id)
    for name, value in changes.given().items():
        setattr(account, name, value)
    uow.session.flush()
    return account
