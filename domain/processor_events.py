"""Processors' notifications (Stripe's webhooks): kept once by their own id in an inbox table, in
the transaction of the request that brought them, then applied by a job.

Applying one is recording a result the processor tells about one of our objects (a payment, a
refund, a card saved by a setup checkout) through the same functions as the pay flow, so a
duplicate, or news older than what we know (a `requires_action` after `succeeded`), changes
nothing. An event about anything else is kept and ignored.

What applying one did is kept as its `outcome`: `ignored`, `recorded`, or `completed` when it
completed a checkout session (the door counts those, as the pay flow's doors count theirs).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from domain import checkout_payments, payment_records
from domain.db import UnitOfWork
from domain.models import CheckoutSession, Mode, Payment, ProcessorEvent, Refund
from domain.payments.processor import AnyResult
from domain.queries import Owner

COMPLETED = "completed"  # the outcome of a notification that completed a checkout session

Translate = Callable[[dict[str, Any]], tuple[str, AnyResult] | None]


def receive(uow: UnitOfWork, owner: Owner, processor: str, event: dict[str, Any], now: datetime) -> bool:
    """Keep a verified notification once; True when it is new (its job is then sent after commit)."""
    kept = uow.session.execute(
        insert(ProcessorEvent).values(processor=processor, event_id=str(event["id"]), account_id=owner.account_id,
                                      livemode=owner.livemode, type=str(event.get("type", ""))[:128], payload=event,
                                      received_at=now)
        .on_conflict_do_nothing(index_elements=[ProcessorEvent.processor, ProcessorEvent.event_id])
        .returning(ProcessorEvent.event_id)).first() is not None
    if kept:
        uow.send_after_commit("processor_events.apply", [processor, str(event["id"])],
                              task_id=f"{processor}.{event['id']}")
    return kept


def apply(uow: UnitOfWork, processor: str, event_id: str, translate: Translate, now: datetime) -> str | None:
    """Apply a kept notification once; what it did (`recorded`, `completed`, `ignored`), None if done before."""
    event = uow.session.scalars(select(ProcessorEvent).where(ProcessorEvent.processor == processor,
                                                             ProcessorEvent.event_id == event_id)
                                .with_for_update()).first()
    if event is None or event.applied_at is not None:
        return None
    event.outcome = _record(uow, event, translate(event.payload), now)
    event.applied_at = now
    return event.outcome


def _record(uow: UnitOfWork, event: ProcessorEvent, told: tuple[str, AnyResult] | None, now: datetime) -> str:
    if told is None:
        return "ignored"
    key, result = told
    if key.startswith("re_"):
        refund = uow.session.get(Refund, key)
        if refund is None or refund.account_id != event.account_id:
            return "ignored"  # the merchant chose the secret it was signed with: only its own refunds
        payment_records.record_refund(uow, key, result, now)
        return "recorded"
    if key.startswith("pay_"):
        payment = uow.session.get(Payment, key)
        if payment is not None and payment.account_id == event.account_id and payment.invoice_id is not None:
            from domain import billing  # a renewal's charge: the invoice follows it

            billing.record_charge(uow, key, result, now)
            return "recorded"
        if payment is None or payment.account_id != event.account_id or payment.checkout_session_id is None:
            return "ignored"
        return _told(checkout_payments.record_charge(uow, payment.checkout_session_id, key, result, now))
    session_id, _, _ = key.partition(".method.")  # a card saved at checkout
    session = uow.session.get(CheckoutSession, session_id)
    if session is None or session.account_id != event.account_id or session.mode != Mode.SETUP \
            or session.payment_method_id is not None:
        return "ignored"  # a subscription's saved card is followed by its charge: the pay flow does that
    attempt, _ = checkout_payments.record_saved_method(uow, session.id, result, event.processor, now)
    return _told(attempt)


def _told(attempt: checkout_payments.Attempt) -> str:
    return COMPLETED if attempt.completed else "recorded"
