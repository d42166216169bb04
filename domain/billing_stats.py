"""Billing as operators see it (`paymentkit billing stats|due`, the Prometheus gauges): what is
due and how late, read from the partial indexes of domain/billing.py's due work."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from domain.billing import LIVE, OPEN, PAST_DUE
from domain.db import UnitOfWork
from domain.models import Invoice, Payment, Subscription


@dataclass(frozen=True)
class Stats:
    renewals_due: int            # real-time subscriptions whose period or trial has ended, not yet invoiced
    charges_due: int             # open invoices due to be charged (a retry, or a lost first job)
    charges_in_flight: int       # invoice payments whose outcome is not known yet (the reconcile job asks)
    open_invoices: int
    past_due: int                # subscriptions collecting a declined invoice
    oldest_overdue_seconds: float  # now - the oldest due time of either kind; 0 when nothing is due


def stats(uow: UnitOfWork, now: datetime) -> Stats:
    """Counts for operators and the gauges: the due parts read only the partial indexes."""
    s, i = Subscription, Invoice
    renewals, oldest_renewal = uow.session.execute(select(func.count(), func.min(s.next_billing_at)).where(
        s.next_billing_at.is_not(None), s.test_clock_id.is_(None), s.next_billing_at <= now)).one()
    charges, oldest_charge = uow.session.execute(select(func.count(), func.min(i.next_attempt_at)).where(
        i.status == OPEN, i.next_attempt_at.is_not(None), i.test_clock_id.is_(None), i.next_attempt_at <= now)).one()
    in_flight = uow.session.scalar(select(func.count()).select_from(Payment).where(
        Payment.invoice_id.is_not(None), Payment.status.in_(LIVE)))
    open_invoices = uow.session.scalar(select(func.count()).select_from(Invoice).where(Invoice.status == OPEN))
    past_due = uow.session.scalar(select(func.count()).select_from(Subscription).where(s.status == PAST_DUE))
    oldest = min([t for t in (oldest_renewal, oldest_charge) if t is not None], default=None)
    return Stats(renewals, charges, in_flight, open_invoices, past_due,
                 round((now - oldest).total_seconds(), 3) if oldest is not None else 0.0)


@dataclass(frozen=True)
class Due:
    kind: str          # renewal (a subscription's period or trial ends) or charge (an invoice to charge)
    id: str
    account_id: str
    due_at: datetime
    overdue_seconds: float  # > 0: past due, waiting for the sweep; < 0: time left


def due(uow: UnitOfWork, now: datetime, limit: int = 20) -> list[Due]:
    """The next billing work, soonest first (ordered reads of the partial indexes)."""
    s, i = Subscription, Invoice
    found = [Due("renewal", row.id, row.account_id, row.next_billing_at, 0.0) for row in uow.session.execute(
        select(s.id, s.account_id, s.next_billing_at).where(s.next_billing_at.is_not(None), s.test_clock_id.is_(None))
        .order_by(s.next_billing_at).limit(limit))]
    found += [Due("charge", row.id, row.account_id, row.next_attempt_at, 0.0) for row in uow.session.execute(
        select(i.id, i.account_id, i.next_attempt_at).where(i.status == OPEN, i.next_attempt_at.is_not(None),
                                                            i.test_clock_id.is_(None))
        .order_by(i.next_attempt_at).limit(limit))]
    found.sort(key=lambda d: d.due_at)
    return [Due(d.kind, d.id, d.account_id, d.due_at, round((now - d.due_at).total_seconds(), 3))
            for d in found[:limit]]
