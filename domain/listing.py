"""Reading merchant objects: one by id, and newest-first pages by cursor (never OFFSET).

The SQL behind every feature's read side (`payment_links.get/page`, `catalog.get/page`, ...);
what a read asks for and gets back is in domain/queries.py."""
from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from domain.errors import NotFound, invalid
from domain.ids import plausible_token
from domain.queries import LIMIT_MAX, Owner, Page, PageQuery

T = TypeVar("T")


def get_owned(session: Session, model: type[T], owner: Owner, object_id: str, *, param: str | None = None,
              lock: bool = False) -> T:
    """The object if it belongs to this owner; otherwise NotFound (the same for another account's)."""
    stmt = select(model).where(model.id == object_id, model.account_id == owner.account_id,
                               model.livemode == owner.livemode)
    if lock:  # re-read under the lock, even if this unit of work loaded the row before
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    found = session.scalars(stmt).first() if plausible_token(object_id) else None
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
