"""Reading merchant objects: one by id, and newest-first pages by cursor (never OFFSET)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from domain.errors import NotFound, invalid

T = TypeVar("T")
LIMIT_MAX = 100


@dataclass(frozen=True)
class Owner:
    """Whose objects a request may see: one account, in one mode (the API key's)."""

    account_id: str
    livemode: bool


@dataclass
class PageQuery:
    limit: int = 10
    starting_after: str | None = None
    ending_before: str | None = None
    created_gte: datetime | None = None
    created_lte: datetime | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    where: list[Any] = field(default_factory=list)   # further SQL conditions (e.g. an effective status)


@dataclass
class Page:
    data: list[Any]
    has_more: bool


def get_owned(session: Session, model: type[T], owner: Owner, object_id: str, *, param: str | None = None,
              lock: bool = False) -> T:
    """The object if it belongs to this owner; otherwise NotFound (the same for another account's)."""
    stmt = select(model).where(model.id == object_id, model.account_id == owner.account_id,
                               model.livemode == owner.livemode)
    if lock:  # re-read under the lock, even if this unit of work loaded the row before
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    # A NUL cannot be in any id (and PostgreSQL would refuse it as a parameter).
    found = session.scalars(stmt).first() if isinstance(object_id, str) and "\x00" not in object_id else None
    if found is None:
        name = model.__tablename__.rstrip("s").replace("_", " ")
        raise NotFound(f"No such {name}: {object_id!r}", param=param)
    return found


def page(session: Session, model: Any, owner: Owner, query: PageQuery) -> Page:
    """Newest first by (created_at, id), walking from a cursor object in either direction."""
    if not 1 <= query.limit <= LIMIT_MAX:
        raise invalid("limit", f"limit must be an integer from 1 to {LIMIT_MAX}")
    if query.starting_after and query.ending_before:
        raise invalid("ending_before", "give starting_after or ending_before, not both", "parameters_exclusive")

    key = tuple_(model.created_at, model.id)
    stmt = select(model).where(model.account_id == owner.account_id, model.livemode == owner.livemode)
    for column, value in query.filters.items():
        stmt = stmt.where(getattr(model, column) == value)
    for condition in query.where:
        stmt = stmt.where(condition)
    if query.created_gte is not None:
        stmt = stmt.where(model.created_at >= query.created_gte)
    if query.created_lte is not None:
        stmt = stmt.where(model.created_at <= query.created_lte)

    backwards = bool(query.ending_before)
    cursor_id = query.ending_before or query.starting_after
    if cursor_id:
        param = "ending_before" if backwards else "starting_after"
        try:
            cursor = get_owned(session, model, owner, cursor_id, param=param)
        except NotFound as missing:
            raise invalid(param, missing.message, "resource_missing") from None
        cursor_key = tuple_(cursor.created_at, cursor.id)
        stmt = stmt.where(key > cursor_key if backwards else key < cursor_key)

    if backwards:
        stmt = stmt.order_by(model.created_at.asc(), model.id.asc())
    else:
        stmt = stmt.order_by(model.created_at.desc(), model.id.desc())
    rows = list(session.scalars(stmt.limit(query.limit + 1)))
    has_more = len(rows) > query.limit
    rows = rows[: query.limit]
    if backwards:
        rows.reverse()
    return Page(rows, has_more)
