"""Idempotency keys: a write made with a key is performed once per account and mode (live or
test, like every object) for 24 hours.

The key row is claimed inside the write's own transaction, so the stored response and the
object it describes commit together. A second request with the same key waits on the row's
unique index until the first commits, then replays its response: two concurrent requests make
one object.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, select, update
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
    return StoredResponse(stored.status or 200, stored.body or b"")


def record(uow: UnitOfWork, owner: Owner, key: str, status: int, body: bytes) -> None:
    uow.session.execute(update(IdempotencyKey).where(_of(owner, key)).values(status=status, body=body))


def _of(owner: Owner, key: str):
    return and_(IdempotencyKey.account_id == owner.account_id, IdempotencyKey.livemode == owner.livemode,
                IdempotencyKey.key == key)


def purge_expired(uow: UnitOfWork, now: datetime | None = None) -> int:
    from sqlalchemy import delete

    result = uow.session.execute(delete(IdempotencyKey).where(
        IdempotencyKey.created_at < (now or utcnow()) - KEEP_FOR))
    return result.rowcount
