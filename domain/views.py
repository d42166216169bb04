"""The objects an event carries, as the API shows them: plain JSON values (SPEC 9, "data.object
as the API shows it then").

Why here and not api/serializers.py: an event is written by the domain, in the transaction of
the change, and changes happen in the web process and in the workers alike (a reconciled
payment completes its session in a worker; the expiry follow-up job announces expiries). The
workers may not import api/, and the domain imports nothing above it, so the shape an event
stores is made here, from the stored row, with the same fields in the same order as the API's
serializer. tests/integration/test_event_objects.py holds each view equal to what the API
answers for the same object, so the two cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.models import (CheckoutSession, Customer, Invoice, Payment, PaymentLink, PaymentMethod, Refund, Subscription,
                           TestClock)


@dataclass(frozen=True)
class Urls:
    """Where the API says links and checkouts are served (an object's `url` and `checkout_url`)."""

    public_base_url: str
    checkout_base_url: str


def time(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with `Z`, as the API's encoder writes a datetime."""
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def payment_link(link: PaymentLink, urls: Urls) -> dict[str, Any]:
    return {
        "object": "payment_link", "id": link.id, "secure_token": link.secure_token,
        "url": f"{urls.public_base_url}/api/pay/share/{link.secure_token}", "name": link.name, "mode": link.mode,
        "is_active": link.is_active,
        "line_items": [{"price_id": item["price_id"], "quantity": item["quantity"],
                        "description": item.get("description"), "unit_amount_atom": item["unit_amount_atom"],
                        "currency": item["currency"], "type": item["type"], "amount_atom": item["amount_atom"]}
                       for item in link.line_items],
        "package_ids": list(link.package_ids or []), "total_amount_atom": link.total_amount_atom,
        "currency": link.currency, "expires_in_hours": link.expires_in_hours, "success_url": link.success_url,
        "return_url": link.return_url, "customer_id": link.customer_id, "coupon_id": link.coupon_id,
        "free_trial_days": link.free_trial_days, "allow_cart_edit": link.allow_cart_edit,
        "accepted_payment_methods": list(link.accepted_payment_methods) if link.accepted_payment_methods else None,
        "metadata": link.metadata_, "livemode": link.livemode, "created_at": time(link.created_at),
        "updated_at": time(link.updated_at),
    }


def checkout_session(s: CheckoutSession, urls: Urls, now: datetime) -> dict[str, Any]:
    """The session as every reader sees it at `now` (its effective status)."""
    from domain import checkout_sessions as sessions  # which write events themselves

    return {
        "id": s.id, "object": "checkout.session", "payment_link_id": s.payment_link_id, "mode": s.mode,
        "status": sessions.effective_status(s, now),
        "line_items": [{"price_id": line["price_id"], "description": line.get("description"),
                        "quantity": line["quantity"], "unit_amount_atom": line["unit_amount_atom"],
                        "currency": line["currency"], "type": line["type"], "interval": line.get("interval"),
                        "interval_count": line.get("interval_count"), "amount_atom": line["amount_atom"]}
                       for line in s.line_items],
        "currency": s.currency, "amount_subtotal_atom": s.amount_subtotal_atom,
        "amount_discount_atom": s.amount_discount_atom, "amount_total_atom": s.amount_total_atom,
        "amount_due_today_atom": s.amount_due_today_atom, "customer_id": s.customer_id, "coupon_id": s.coupon_id,
        "free_trial_days": s.free_trial_days, "success_url": s.success_url, "return_url": s.return_url,
        "accepted_payment_methods": list(s.accepted_payment_methods) if s.accepted_payment_methods else None,
        "allow_cart_edit": s.allow_cart_edit, "checkout_url": f"{urls.checkout_base_url}/checkout/{s.checkout_token}",
        "expires_at": time(s.expires_at), "created_at": time(s.created_at), "completed_at": time(s.completed_at),
        "expired_at": time(sessions.effective_expired_at(s, now)), "livemode": s.livemode,
        "customer_email": s.customer_email, "payment_id": s.payment_id, "payment_method_id": s.payment_method_id,
        "subscription_id": s.subscription_id, "payment_status": s.payment_status,
    }


def customer(c: Customer) -> dict[str, Any]:
    return {"id": c.id, "livemode": c.livemode, "created_at": time(c.created_at), "updated_at": time(c.updated_at),
            "object": "customer", "email": c.email, "name": c.name, "metadata": c.metadata_,
            "test_clock_id": c.test_clock_id}


def refund(r: Refund) -> dict[str, Any]:
    return {"object": "refund", "id": r.id, "payment_id": r.payment_id, "amount_atom": r.amount_atom,
            "currency": r.currency, "status": r.status, "reason": r.reason, "failure_code": r.failure_code,
            "livemode": r.livemode, "created_at": time(r.created_at), "updated_at": time(r.updated_at)}


def payment(p: Payment, refunds: list[Refund]) -> dict[str, Any]:
    """SPEC 7's Payment, its refunds oldest first. The API's own payment serializer (the payments
    API) shows the same fields; the card is the summary the processor gave (never a number)."""
    return {
        "object": "payment", "id": p.id, "checkout_session_id": p.checkout_session_id, "customer_id": p.customer_id,
        "amount_atom": p.amount_atom, "currency": p.currency, "status": p.status, "failure_code": p.failure_code,
        "failure_message": p.failure_message, "payment_method_id": p.payment_method_id,
        "card": dict(p.card) if p.card else None, "processor": p.processor,
        "processor_reference": p.processor_reference, "amount_refunded_atom": p.amount_refunded_atom,
        "invoice_id": p.invoice_id, "refunds": [refund(r) for r in refunds], "livemode": p.livemode, "created_at": time(p.created_at),
        "updated_at": time(p.updated_at),
    }


def payment_method(m: PaymentMethod) -> dict[str, Any]:
    return {"object": "payment_method", "id": m.id, "customer_id": m.customer_id, "type": m.type,
            "card": {"brand": m.card_brand, "last4": m.card_last4, "exp_month": m.card_exp_month,
                     "exp_year": m.card_exp_year},
            "processor": m.processor, "livemode": m.livemode, "created_at": time(m.created_at),
            "updated_at": time(m.updated_at)}


def subscription(s: Subscription) -> dict[str, Any]:
    return {
        "object": "subscription", "id": s.id, "customer_id": s.customer_id,
        "checkout_session_id": s.checkout_session_id, "payment_link_id": s.payment_link_id, "status": s.status,
        "items": [dict(item) for item in s.items], "currency": s.currency, "interval": s.interval,
        "interval_count": s.interval_count, "current_period_start": time(s.current_period_start),
        "current_period_end": time(s.current_period_end), "trial_end": time(s.trial_end),
        "cancel_at_period_end": s.cancel_at_period_end, "canceled_at": time(s.canceled_at),
        "default_payment_method_id": s.default_payment_method_id, "latest_invoice_id": s.latest_invoice_id,
        "coupon_id": s.coupon_id, "test_clock_id": s.test_clock_id, "livemode": s.livemode,
        "created_at": time(s.created_at), "updated_at": time(s.updated_at),
    }


def invoice(i: Invoice) -> dict[str, Any]:
    return {
        "object": "invoice", "id": i.id, "subscription_id": i.subscription_id, "customer_id": i.customer_id,
        "period_start": time(i.period_start), "period_end": time(i.period_end),
        "lines": [{"price_id": line["price_id"], "description": line.get("description"), "quantity": line["quantity"],
                   "unit_amount_atom": line["unit_amount_atom"], "currency": line["currency"],
                   "amount_atom": line["amount_atom"]} for line in i.lines],
        "currency": i.currency, "amount_subtotal_atom": i.amount_subtotal_atom,
        "amount_discount_atom": i.amount_discount_atom, "amount_total_atom": i.amount_total_atom,
        "status": i.status, "attempt_count": i.attempt_count, "next_attempt_at": time(i.next_attempt_at),
        "payment_id": i.payment_id, "paid_at": time(i.paid_at), "test_clock_id": i.test_clock_id,
        "livemode": i.livemode, "created_at": time(i.created_at), "updated_at": time(i.updated_at),
    }


def test_clock(c: TestClock) -> dict[str, Any]:
    return {"object": "test_clock", "id": c.id, "name": c.name, "frozen_time": time(c.frozen_time),
            "status": c.status, "livemode": c.livemode, "created_at": time(c.created_at),
            "updated_at": time(c.updated_at)}
