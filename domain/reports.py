"""What the dashboard's lists say beside their rows: totals of a filtered list (how many, and the
money its succeeded payments brought in, less refunds, per currency), each customer's payments,
the payments of one link, and the links to filter by. Read side only."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from domain import listing
from domain.db import UnitOfWork
from domain.expiry import status_condition
from domain.models import CheckoutSession, Payment, PaymentLink
from domain.payments.states import PaymentStatus
from domain.queries import Owner, Page, PageQuery

MAX_LINK_CHOICES = 200


@dataclass
class Totals:
    count: int = 0
    net: dict[str, int] = field(default_factory=dict)  # currency -> succeeded amounts less refunds


def _mine(model, owner: Owner) -> tuple:
    return model.account_id == owner.account_id, model.livemode == owner.livemode


def _link_sessions(owner: Owner, link_id: str):
    cs = CheckoutSession
    return select(cs.id).where(*_mine(cs, owner), cs.payment_link_id == link_id)


def _net(uow: UnitOfWork, *conditions) -> dict[str, int]:
    rows = uow.session.execute(
        select(Payment.currency, func.sum(Payment.amount_atom - Payment.amount_refunded_atom))
        .where(Payment.status == PaymentStatus.SUCCEEDED.value, *conditions)
        .group_by(Payment.currency).order_by(Payment.currency))
    return {currency: int(atoms) for currency, atoms in rows}


def _payment_conditions(owner: Owner, status: str | None, customer_id: str | None,
                        payment_link_id: str | None) -> list:
    conditions = list(_mine(Payment, owner))
    if status:
        conditions.append(Payment.status == status)
    if customer_id:
        conditions.append(Payment.customer_id == customer_id)
    if payment_link_id:
        conditions.append(Payment.checkout_session_id.in_(_link_sessions(owner, payment_link_id)))
    return conditions


def payments_page(uow: UnitOfWork, owner: Owner, query: PageQuery, *, payment_link_id: str | None = None) -> Page:
    """payment_records.page, optionally of one link's checkout sessions."""
    if payment_link_id:
        query.where.append(Payment.checkout_session_id.in_(_link_sessions(owner, payment_link_id)))
    return listing.page(uow.session, Payment, owner, query)


def payment_totals(uow: UnitOfWork, owner: Owner, *, status: str | None = None, customer_id: str | None = None,
                   payment_link_id: str | None = None) -> Totals:
    conditions = _payment_conditions(owner, status, customer_id, payment_link_id)
    count = uow.session.scalar(select(func.count()).select_from(Payment).where(*conditions))
    return Totals(count, _net(uow, *conditions))


def session_totals(uow: UnitOfWork, owner: Owner, now: datetime, *, status: str | None = None,
                   payment_link_id: str | None = None) -> Totals:
    """The sessions of the list (by effective status at `now`) and what their payments brought in."""
    cs = CheckoutSession
    conditions = list(_mine(cs, owner))
    if status:
        conditions.append(status_condition(status, now))
    if payment_link_id:
        conditions.append(cs.payment_link_id == payment_link_id)
    count = uow.session.scalar(select(func.count()).select_from(cs).where(*conditions))
    sessions = select(cs.id).where(*conditions)
    return Totals(count, _net(uow, *_mine(Payment, owner), Payment.checkout_session_id.in_(sessions)))


@dataclass
class CustomerStats:
    payments: int = 0  # succeeded ones
    net: dict[str, int] = field(default_factory=dict)


def customer_stats(uow: UnitOfWork, owner: Owner, customer_ids: list[str]) -> dict[str, CustomerStats]:
    """Each customer's succeeded payments and their total less refunds (one query for a page)."""
    found: dict[str, CustomerStats] = defaultdict(CustomerStats)
    wanted = [c for c in customer_ids if c]
    if not wanted:
        return found
    rows = uow.session.execute(
        select(Payment.customer_id, Payment.currency, func.count(),
               func.sum(Payment.amount_atom - Payment.amount_refunded_atom))
        .where(*_mine(Payment, owner), Payment.customer_id.in_(wanted), Payment.status == PaymentStatus.SUCCEEDED.value)
        .group_by(Payment.customer_id, Payment.currency).order_by(Payment.currency))
    for customer_id, currency, count, atoms in rows:
        found[customer_id].payments += count
        found[customer_id].net[currency] = int(atoms)
    return found


def link_choices(uow: UnitOfWork, owner: Owner) -> list[tuple[str, str]]:
    """(id, name) of the newest links, for a filter's list."""
    rows = uow.session.execute(select(PaymentLink.id, PaymentLink.name).where(*_mine(PaymentLink, owner))
                               .order_by(PaymentLink.created_at.desc(), PaymentLink.id.desc()).limit(MAX_LINK_CHOICES))
    return [(link_id, name or "Untitled link") for link_id, name in rows]
