"""Emails an event owes (SPEC 9), when SMTP is set: a receipt to the customer for each
succeeded payment (a renewal's by its paid invoice), and a notice to the merchant's
support email of each completed checkout.

They come from the same outbox as webhooks: an Email row is written with its event, in the
transaction of the change (none for a change that rolled back), one per event and kind (a
unique key), and sent by a job once committed. Each attempt is claimed by number, so a
repeated job sends nothing; only a worker that dies after the SMTP server took the message and
before it was recorded could send it again, and the Message-ID (the email's id) lets the
receiving side see the two as one. Rendering and SMTP are the workers'
(workers/emails.py): this module knows rows and due times.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from domain.db import UnitOfWork, locked
from domain.ids import new_id
from domain.models import Account, CheckoutSession, Customer, Email, Event, Payment, Price, Product, Subscription

RETRY_SCHEDULE = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                  timedelta(hours=6))
SEND_LEASE = timedelta(minutes=10)  # a claimed email is not handed out again for this long
DEFAULT_LOCALE = "en_US"


def _payer(uow: UnitOfWork, payment: dict[str, Any]) -> tuple[str | None, str]:
    """Who paid and in which locale: the email typed at checkout (for an invoice, at its
    subscription's checkout), else the customer's."""
    session_id = payment.get("checkout_session_id")
    if session_id is None and payment.get("subscription_id"):  # an invoice: its subscription's checkout
        session_id = uow.session.scalar(select(Subscription.checkout_session_id)
                                        .where(Subscription.id == payment["subscription_id"]))
    session = uow.session.get(CheckoutSession, session_id) if session_id else None
    email = session.customer_email if session is not None else None
    if email is None and payment.get("customer_id"):
        customer = uow.session.get(Customer, payment["customer_id"])
        email = customer.email if customer is not None else None
    return email, (session.locale if session is not None and session.locale else DEFAULT_LOCALE)


def _owes_receipt(uow: UnitOfWork, type_: str, obj: dict[str, Any]) -> bool:
    """One receipt per money taken: a renewal's payment is receipted by its invoice's `invoice.paid`,
    and a first invoice that the checkout paid by the checkout's `payment.succeeded`."""
    if type_ == "payment.succeeded":
        return obj.get("invoice_id") is None
    if not obj.get("payment_id") or not obj.get("amount_total_atom"):
        return False
    return uow.session.scalar(select(Payment.checkout_session_id).where(Payment.id == obj["payment_id"])) is None


def owe(uow: UnitOfWork, event: Event, now: datetime) -> list[str]:
    """The emails `event` owes, written in its transaction, each sent by a job after commit."""
    owed: list[tuple[str, str, str]] = []  # kind, address, locale
    obj = event.data["object"]
    if event.type in ("payment.succeeded", "invoice.paid") and _owes_receipt(uow, event.type, obj):
        address, locale = _payer(uow, obj)
        if address:
            owed.append(("receipt", address, locale))
    elif event.type == "checkout.session.completed":
        account = uow.session.get(Account, event.account_id)
        if account is not None and account.support_email:
            owed.append(("notice", account.support_email, DEFAULT_LOCALE))
    made = []
    for kind, address, locale in owed:
        email_id = new_id("em", event.livemode)
        written = uow.session.execute(insert(Email).values(
            id=email_id, event_id=event.id, account_id=event.account_id, livemode=event.livemode, kind=kind,
            to_address=address, locale=locale, status="pending", attempts=0, next_attempt_at=now + SEND_LEASE,
            created_at=now, updated_at=now).on_conflict_do_nothing(index_elements=["event_id", "kind"])
            .returning(Email.id)).first()
        if written is not None:
            uow.send_after_commit("emails.send", [email_id, 0], task_id=f"{email_id}.0")
            made.append(email_id)
    return made


@dataclass(frozen=True)
class ToSend:
    """What the sender needs, read in the claiming transaction."""

    email_id: str
    attempt: int
    kind: str
    to_address: str
    locale: str
    event: dict[str, Any]
    merchant_name: str
    support_email: str | None
    session: dict[str, Any] | None  # the checkout's lines and amounts, for the receipt


def begin_send(uow: UnitOfWork, email_id: str, attempt: int, now: datetime) -> ToSend | None:
    """Claim attempt number `attempt` of an email (None: sent already, given up, or this attempt
    claimed by another job)."""
    email = locked(uow, Email, email_id)
    if email is None or email.status != "pending" or email.attempts != attempt:
        return None
    email.attempts += 1
    email.next_attempt_at = now + SEND_LEASE
    email.updated_at = now
    event = uow.session.get(Event, email.event_id)
    account = uow.session.get(Account, email.account_id)
    obj = event.data["object"]
    session = None
    session_id = obj.get("checkout_session_id") if event.type.startswith("payment.") else \
        None if event.type.startswith("invoice.") else obj.get("id")
    if event.type.startswith("invoice."):  # a renewal: the invoice's own lines and amounts
        session = {"id": obj["id"], "line_items": _named(uow, obj["lines"]), "currency": obj["currency"],
                   "amount_subtotal_atom": obj["amount_subtotal_atom"],
                   "amount_discount_atom": obj["amount_discount_atom"],
                   "amount_total_atom": obj["amount_total_atom"], "customer_email": email.to_address}
    elif session_id:
        found = uow.session.get(CheckoutSession, session_id)
        if found is not None:
            names = dict(uow.session.execute(select(Price.id, Product.name).join(Product, Product.id == Price.product_id)
                                             .where(Price.id.in_([line["price_id"] for line in found.line_items]))
                                             ).all())
            lines = [{**line, "name": line.get("description") or names.get(line["price_id"], "Item")}
                     for line in found.line_items]
            session = {"id": found.id, "line_items": lines, "currency": found.currency,
                       "amount_subtotal_atom": found.amount_subtotal_atom,
                       "amount_discount_atom": found.amount_discount_atom,
                       "amount_total_atom": found.amount_total_atom, "customer_email": found.customer_email}
    uow.session.flush()
    return ToSend(email.id, attempt, email.kind, email.to_address, email.locale,
                  {"id": event.id, "type": event.type, "created_at": event.created_at, "object": obj},
                  account.display_name or account.name, account.support_email, session)


def _named(uow: UnitOfWork, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = dict(uow.session.execute(select(Price.id, Product.name).join(Product, Product.id == Price.product_id)
                                     .where(Price.id.in_([line["price_id"] for line in lines]))).all())
    return [{**line, "name": line.get("description") or names.get(line["price_id"], "Item")} for line in lines]


def record_sent(uow: UnitOfWork, email_id: str, now: datetime) -> None:
    uow.session.execute(update(Email).where(Email.id == email_id, Email.status == "pending")
                        .values(status="sent", sent_at=now, next_attempt_at=None, updated_at=now)
                        .execution_options(synchronize_session=False))


def record_failed(uow: UnitOfWork, email_id: str, now: datetime) -> None:
    """The SMTP server refused it or was out of reach: due again on the schedule, then given up."""
    email = uow.session.get(Email, email_id)
    if email is None or email.status != "pending":
        return
    if email.attempts > len(RETRY_SCHEDULE):
        email.status, email.next_attempt_at = "failed", None
    else:
        email.next_attempt_at = now + RETRY_SCHEDULE[email.attempts - 1]
    email.updated_at = now


def hand_out_due(uow: UnitOfWork, now: datetime, limit: int = 500) -> int:
    """Pending emails whose time has come (a retry, or a first job that was lost), each leased."""
    rows = uow.session.execute(select(Email.id, Email.attempts).where(Email.status == "pending",
                                                                      Email.next_attempt_at <= now)
                               .order_by(Email.next_attempt_at).limit(limit)
                               .with_for_update(skip_locked=True)).all()
    for row in rows:
        uow.session.execute(update(Email).where(Email.id == row.id).values(next_attempt_at=now + SEND_LEASE)
                            .execution_options(synchronize_session=False))
        uow.send_after_commit("emails.send", [row.id, row.attempts],
                              task_id=f"{row.id}.{row.attempts}.{secrets.token_hex(4)}")
    return len(rows)
