"""Subscriptions: the list (by status), a subscription's page with its invoices, and Cancel (at
the period's end, or now), through the same domain rules as the API (domain/subscriptions.py)."""
from __future__ import annotations

from api.dashboard import labels
from api.dashboard.auth import csrf_token
from api.dashboard.web import PREFIX, owned, page_query, pager, read_form, redirect, render
from domain import catalog, payment_records, subscriptions
from domain.db import utcnow
from domain.errors import InvalidRequest
from domain.queries import PageQuery
from runtime.settings import Settings

SUBSCRIPTIONS = f"{PREFIX}/subscriptions"


def amount_per_period(sub) -> int:
    """What the recurring items cost each period, before any coupon."""
    return sum(item["unit_amount_atom"] * item["quantity"] for item in sub.items)


def every(sub) -> str:
    """`month`, `3 months`: the billing interval in words."""
    return sub.interval if sub.interval_count == 1 else f"{sub.interval_count} {sub.interval}s"


class SubscriptionList:
    dashboard = True

    def on_get(self, req, resp) -> None:
        uow, owner = req.context.uow, req.context.owner
        status = req.get_param("status") if req.get_param("status") in subscriptions.STATUSES else ""
        query = page_query(req, {"status": status} if status else {})
        try:
            found = subscriptions.page(uow, owner, query)
        except InvalidRequest:
            return redirect(resp, SUBSCRIPTIONS)
        customers = payment_records.customers_by_id(uow, owner, [s.customer_id for s in found.data])
        render(req, resp, "subscriptions.html", subscriptions=found.data, customers=customers, status_filter=status,
               statuses=subscriptions.STATUSES, amount_per_period=amount_per_period, every=every,
               pages=pager(SUBSCRIPTIONS, {"status": status}, found, query), section="subscriptions")


class SubscriptionPage:
    dashboard = True

    def on_get(self, req, resp, subscription_id: str) -> None:
        uow, owner = req.context.uow, req.context.owner
        sub = owned(subscriptions.get, req, subscription_id)
        invoices = subscriptions.invoice_page(uow, owner, PageQuery(limit=24, filters={"subscription_id": sub.id}))
        method = None
        if sub.default_payment_method_id:
            try:
                method = payment_records.payment_method(uow, owner, sub.default_payment_method_id)
            except Exception:  # noqa: BLE001 - a card of another mode or gone: shown as none
                method = None
        coupon = catalog.by_id(uow, owner, "coupons", [sub.coupon_id] if sub.coupon_id else []).get(sub.coupon_id)
        render(req, resp, "subscription.html", sub=sub, invoices=invoices.data, more_invoices=invoices.has_more,
               coupon=labels.coupon_label(coupon) if coupon else sub.coupon_id,
               customer=payment_records.customers_by_id(uow, owner, [sub.customer_id]).get(sub.customer_id),
               card=labels.card_label(method.card_brand, method.card_last4) if method else None,
               amount_per_period=amount_per_period(sub), every=every(sub), csrf_token=csrf_token(req),
               canceled=req.get_param("canceled") in ("now", "later"), section="subscriptions")


class SubscriptionCancel:
    """POST `when=now` or `when=period_end` (the page's two buttons)."""

    dashboard = True

    def __init__(self, settings: Settings):
        self._settings = settings

    def on_post(self, req, resp, subscription_id: str) -> None:
        owned(subscriptions.get, req, subscription_id)
        form = read_form(req, self._settings.max_body_bytes)
        now = form.get("when") == "now"
        subscriptions.cancel(req.context.uow, req.context.owner, subscription_id, at_period_end=not now, now=utcnow())
        redirect(resp, f"{SUBSCRIPTIONS}/{subscription_id}?canceled={'now' if now else 'later'}")


def add_routes(app, settings: Settings) -> None:
    app.add_route(SUBSCRIPTIONS, SubscriptionList())
    app.add_route(f"{SUBSCRIPTIONS}/{{subscription_id}}", SubscriptionPage())
    app.add_route(f"{SUBSCRIPTIONS}/{{subscription_id}}/cancel", SubscriptionCancel(settings))


def of_customer(uow, owner, customer_id: str) -> list:
    """The customer's subscriptions, newest first (the customer page's section)."""
    return subscriptions.of_customer(uow, owner, customer_id)
