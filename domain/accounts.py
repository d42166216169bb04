"""Merchant accounts and their API keys (one live, one test; stored only as hashes)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.db import UnitOfWork, utcnow
from domain.ids import hash_secret, new_account_id, new_api_key
from domain.models import Account, ApiKey
from domain.rules import require_text


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
    uow.session.add_all([
        ApiKey(key_hash=hash_secret(live_key), account_id=account.id, livemode=True, created_at=now),
        ApiKey(key_hash=hash_secret(test_key), account_id=account.id, livemode=False, created_at=now),
    ])
    uow.session.flush()
    return NewAccount(account.id, live_key, test_key)


def find_api_key(session: Session, presented_key: str) -> ApiKey | None:
    """The key's record, looked up by its hash (so no secret is ever compared in clear)."""
    if not presented_key.startswith(("sk_live_", "sk_test_")):
        return None
    return session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_secret(presented_key))).first()


@dataclass(frozen=True)
class MerchantDisplay:
    """What a customer sees of the merchant on the hosted pages."""

    name: str
    support_email: str | None
    brand_color: str | None


def display_of(uow: UnitOfWork, account_id: str) -> MerchantDisplay:
    account = uow.session.get(Account, account_id)
    return MerchantDisplay(account.display_name or account.name, account.support_email, account.brand_color)
