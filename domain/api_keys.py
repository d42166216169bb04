"""An account's API keys (SPEC 10): list them (prefix and last four characters, mode, created,
last used), add one (its secret shown once: only the hash is kept), revoke one at once. An account
keeps at least one key, so nobody locks themselves out of the API.

Which keys a key may see and manage: a live key, every key of its account (it is the account's
master: whoever holds it can move real money anyway); a test key, only test keys, so that a test
key handed to CI or a staging host can never mint, list or revoke a live key (SPEC 2: a key acts on
objects of its own mode). The dashboard's signed-in users manage every key (`caller=None`).

Keys are not cached anywhere: every request looks its key up by hash (accounts.find_api_key),
so a revoked key is refused from the next request on. The API and the dashboard both call these.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from domain.accounts import key_record
from domain.db import UnitOfWork, utcnow
from domain.errors import Conflict, NotFound, invalid
from domain.ids import mode_name, new_api_key, plausible_token
from domain.models import Account, ApiKey

MODES = ("live", "test")
# `last_used_at` is written at most once a minute per key, in a transaction of its own: one small
# write per key per minute, not one per request, and a GET (which never commits) still counts.
USED_RESOLUTION = timedelta(minutes=1)
# Enough for a key per service and environment; a limit so that a loop cannot fill the table.
MAX_ACTIVE_KEYS = 50


@dataclass(frozen=True)
class NewKey:
    record: ApiKey
    secret: str  # shown once, never stored


def prefix_of(key: ApiKey) -> str:
    return f"sk_{mode_name(key.livemode)}_"


def _visible(caller_livemode: bool | None) -> tuple:
    """SQL conditions for the keys a caller sees: a test key's caller only test keys."""
    return (ApiKey.livemode.is_(False),) if caller_livemode is False else ()


def active(uow: UnitOfWork, account_id: str, caller_livemode: bool | None = None) -> list[ApiKey]:
    """The account's keys that still work (those the caller may see), newest first."""
    return list(uow.session.scalars(
        select(ApiKey).where(ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None), *_visible(caller_livemode))
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())))


def _lock_account(uow: UnitOfWork, account_id: str) -> None:
    """Key changes of one account one at a time, so two revocations cannot both take the last two."""
    uow.session.execute(select(Account.id).where(Account.id == account_id).with_for_update())


def _active_count(uow: UnitOfWork, account_id: str) -> int:
    return uow.session.scalar(select(func.count()).select_from(ApiKey)
                              .where(ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None)))


def create(uow: UnitOfWork, account_id: str, mode: str, now: datetime | None = None,
           caller_livemode: bool | None = None) -> NewKey:
    if mode not in MODES:
        raise invalid("mode", "mode must be live or test")
    if caller_livemode is False and mode == "live":
        raise invalid("mode", "a test key makes only test keys; make a live key with a live key or in the dashboard")
    _lock_account(uow, account_id)
    if _active_count(uow, account_id) >= MAX_ACTIVE_KEYS:
        raise Conflict(f"an account has at most {MAX_ACTIVE_KEYS} keys; revoke one first", code="too_many_keys")
    livemode = mode == "live"
    secret = new_api_key(livemode)
    record = key_record(secret, account_id, livemode, now or utcnow())
    uow.session.add(record)
    uow.session.flush()
    return NewKey(record, secret)


def get(uow: UnitOfWork, account_id: str, key_id: str, caller_livemode: bool | None = None) -> ApiKey:
    """An unrevoked key of this account the caller may see; any other is not found."""
    found = uow.session.scalars(select(ApiKey).where(ApiKey.id == key_id, ApiKey.account_id == account_id,
                                                     ApiKey.revoked_at.is_(None), *_visible(caller_livemode))).first() \
        if plausible_token(key_id) else None
    if found is None:
        raise NotFound(f"No such API key: {key_id!r}")
    return found


def revoke(uow: UnitOfWork, account_id: str, key_id: str, now: datetime | None = None,
           caller_livemode: bool | None = None) -> ApiKey:
    """Revoked when this unit of work commits; the last working key of an account is refused."""
    _lock_account(uow, account_id)
    key = get(uow, account_id, key_id, caller_livemode)
    if _active_count(uow, account_id) <= 1:
        raise Conflict("this is the account's last API key: make another one before revoking it",
                       code="last_api_key")
    key.revoked_at = now or utcnow()
    uow.session.flush()
    return key


def mark_used(uow: UnitOfWork, key: ApiKey, now: datetime | None = None) -> None:
    """Record that `key` was used, if its last use is older than USED_RESOLUTION, in a short
    transaction of its own (the request's may be rolled back; a GET never commits). A row locked by
    another request doing the same is skipped, never waited for."""
    now = now or utcnow()
    if key.last_used_at is not None and now - key.last_used_at < USED_RESOLUTION:
        return
    locked = select(ApiKey.key_hash).where(ApiKey.key_hash == key.key_hash).with_for_update(skip_locked=True)
    with uow.session.get_bind().begin() as conn:
        conn.execute(update(ApiKey).where(ApiKey.key_hash.in_(locked), (ApiKey.last_used_at.is_(None)) |
                                          (ApiKey.last_used_at < now - USED_RESOLUTION))
                     .values(last_used_at=now))
    set_committed_value(key, "last_used_at", now)  # what this request reads of it, without a second write
