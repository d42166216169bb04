"""Idempotency keys: a write made with a key is performed once per account and mode (live or
test, like every object) for 24 hours.

The key row is claimed inside the write's own transaction, so the stored response and the
object it describes commit together. A second request with the same key waits on the row's
unique index until the first commits, then replays its response: two concurrent requests make
one object.

A write that runs transactions of its own (a refund: hold, processor call, record) cannot be
inside the request's transaction. Its claim is committed first, in progress (no response yet):
a second request with the key meanwhile is a 409 `idempotency_key_in_use`; the response is
recorded when the write is done, or the claim released when it was refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, select, update
from sqlalchemy.dialects.postgresql import insert

from domain.db import UnitOfWork, utcnow
from domain.errors import Conflict
from domain.listing import Owner
from domain.models import IdempotencyKey

KEEP_FOR = timedelta(hours=24)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes


def claim(uow: UnitOfWork, owner: Owner, key: str, fingerprint: str) -> StoredResponse | None:
    """None when this request is the first with the key (go ahead); the first response otherwise."""
    now = utcnow()
    table = IdempotencyKey.__table__
    stmt = insert(table).values(account_id=owner.account_id, livemode=owner.livemode, key=key,
                                request_fingerprint=fingerprint, created_at=now)
    # A key older than 24 hours is free again: take it over.
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.account_id, table.c.livemode, table.c.key],
        set_={"request_fingerprint": fingerprint, "status": None, "body": None, "created_at": now},
        where=table.c.created_at < now - KEEP_FOR,
    ).returning(table.c.key)
    if uow.session.execute(stmt).first() is not None:
        return None
    stored = uow.session.scalars(select(IdempotencyKey).where(_of(owner, key))).one()
    if stored.request_fingerprint != fingerprint:
        raise Conflict("This Idempotency-Key was already used with a different request.",
                       param=None, code="idempotency_key_reused")
    if stored.status is None:
        raise Conflict("A request with this Idempotency-Key is still in progress; try again shortly.",
                       param=None, code="idempotency_key_in_use")
    return StoredResponse(stored.status, stored.body or b"")


def record(uow: UnitOfWork, owner: Owner, key: str, status: int, body: bytes) -> None:
    uow.session.execute(update(IdempotencyKey).where(_of(owner, key)).values(status=status, body=body))


def release(uow: UnitOfWork, owner: Owner, key: str) -> None:
    """Free a claim still in progress (its request was refused): the key may be used again."""
    uow.session.execute(delete(IdempotencyKey).where(_of(owner, key), IdempotencyKey.status.is_(None)))


def _of(owner: Owner, key: str):
    return and_(IdempotencyKey.account_id == owner.account_id, IdempotencyKey.livemode == owner.livemode,
                IdempotencyKey.key == key)


def purge_expired(uow: UnitOfWork, now: datetime | None = None) -> int:
    result = uow.session.execute(delete(IdempotencyKey).where(
        IdempotencyKey.created_at < (now or utcnow()) - KEEP_FOR))
    return result.rowcount
