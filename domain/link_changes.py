"""Which accounts' sellable links a transaction changed, for the share cache (docs/scaling.md).

The share path keeps each link's `ShareLink` in Redis. A cached link is stale once a change to
it, or to a price, product, package or coupon it may sell, commits. Rather than each domain
function remembering to say so, every unit of work's session notes the accounts of those rows
as they are flushed (changed or deleted objects; new ones are in no cached link) or changed in
bulk (`update(Coupon)`: the statement names its account with the execution option
`ACCOUNT_OPTION`, or every account is meant; so is a textual UPDATE or DELETE of one of their
tables, a safety net for scripts and tests). `UnitOfWork.commit` hands the set to its
`LinkCache` after the commit, so the dashboard and API, which call the same domain functions,
invalidate alike.
"""
from __future__ import annotations

import re
from itertools import chain
from typing import Protocol

from sqlalchemy import TextClause, event
from sqlalchemy.orm import ORMExecuteState, Session

from domain.models import Coupon, Package, PaymentLink, Price, Product

WATCHED = (PaymentLink, Price, Product, Package, Coupon)
_WATCHED_TABLES = frozenset(model.__table__ for model in WATCHED)
CHANGED = "link_changes"  # session.info key: the set of account ids (or EVERY_ACCOUNT)
EVERY_ACCOUNT = "*"
ACCOUNT_OPTION = "link_changes_account"
_TEXT_WRITE = re.compile(r"^\s*(UPDATE|DELETE\s+FROM)\s+(payment_links|prices|products|packages|coupons)\b",
                         re.IGNORECASE)


class LinkCache(Protocol):
    """Forgets the cached links of these accounts (`EVERY_ACCOUNT`: of all)."""

    def forget(self, accounts: set[str]) -> None: ...


def track(session: Session) -> set[str]:
    """Start noting the accounts `session` changes; the set it fills."""
    return session.info.setdefault(CHANGED, set())


@event.listens_for(Session, "before_flush")
def _flushed(session: Session, flush_context, instances) -> None:
    changed = session.info.get(CHANGED)
    if changed is None:
        return
    for obj in chain(session.dirty, session.deleted):
        if isinstance(obj, WATCHED):
            changed.add(obj.account_id)


@event.listens_for(Session, "do_orm_execute")
def _bulk(state: ORMExecuteState) -> None:
    changed = state.session.info.get(CHANGED)
    if changed is None:
        return
    if isinstance(state.statement, TextClause):
        if _TEXT_WRITE.match(state.statement.text):
            changed.add(EVERY_ACCOUNT)
        return
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if table in _WATCHED_TABLES:
        changed.add(state.execution_options.get(ACCOUNT_OPTION) or EVERY_ACCOUNT)
