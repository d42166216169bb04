"""Subscriptions (SPEC 8): made when a subscription-mode checkout is paid, trialing or active,
billing the checkout's recurring lines on their one schedule with the saved card."""
from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from sqlalchemy import select

from domain import events, listing, test_clocks, views
from domain.db import UnitOfWork
from domain.ids import new_id
from domain.listing import get_owned
from domain.models import CheckoutSession, Coupon, Customer, Invoice, Subscription
from domain.queries import Owner, Page, PageQuery

INTERVAL_DAYS = {"day": 1, "week": 7}


def add_interval(moment: datetime, interval: str, count: int) -> datetime:
    """`moment` plus `count` intervals. Months and years are calendar ones: 31 January plus a
    month is the last day of February, and the next period starts from the anchor's day again
    when the caller adds from the first period's start."""
    if interval in INTERVAL_DAYS:
        return moment + timedelta(days=INTERVAL_DAYS[interval] * count)
    months = count * (12 if interval == "year" else 1)
    if interval not in ("month", "year"):
        raise ValueError(f"unknown interval {interval!r}")
    year, month = divmod(moment.month - 1 + months, 12)
    year += moment.year
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def start(uow: UnitOfWork, session: CheckoutSession, customer_id: str, payment_method_id: str | None,
          now: datetime) -> Subscription:
    """The subscription a paid subscription checkout makes: its recurring lines, trialing until
    the trial ends or active for a first period from now (the checkout paid it: its invoice is
    written paid). One per session (a unique key). "Now" is the customer's: a customer on a test
    clock starts at the clock's time, and the subscription lives on that clock."""
    from domain import billing  # which bills what this makes

    clock_id = uow.session.scalar(select(Customer.test_clock_id).where(Customer.id == customer_id))
    now = test_clocks.now_for(uow, clock_id, now)
    recurring = [line for line in session.line_items if line["type"] == "recurring"]
    first = recurring[0]
    interval, count = first["interval"], first.get("interval_count") or 1
    trial_end = now + timedelta(days=session.free_trial_days) if session.free_trial_days else None
    coupon = uow.session.get(Coupon, session.coupon_id) if session.coupon_id else None
    subscription = Subscription(
        id=new_id("sub", session.livemode), account_id=session.account_id, livemode=session.livemode,
        created_at=now, updated_at=now, customer_id=customer_id, checkout_session_id=session.id,
        payment_link_id=session.payment_link_id, status="trialing" if trial_end else "active",
        items=[{"price_id": line["price_id"], "quantity": line["quantity"], "description": line.get("description"),
                "unit_amount_atom": line["unit_amount_atom"]} for line in recurring],
        currency=session.currency, interval=interval, interval_count=count, current_period_start=now,
        current_period_end=trial_end or add_interval(now, interval, count), trial_end=trial_end,
        cancel_at_period_end=False, canceled_at=None, default_payment_method_id=payment_method_id,
        latest_invoice_id=None, coupon_id=coupon.id if coupon else None,
        coupon={**(session.coupon or {}), "duration": coupon.duration,
                "duration_in_months": coupon.duration_in_months} if coupon else None,
        test_clock_id=clock_id)
    subscription.next_billing_at = subscription.current_period_end
    uow.session.add(subscription)
    uow.session.flush()
    if trial_end is None:
        billing.first_invoice(uow, subscription, session, now)
    events.record(uow, "subscription.created", subscription, views.subscription(subscription), now=now)
    return subscription


# ---- reading and canceling (the API and the dashboard) -----------------------------------------

LIST_FILTERS = ("customer_id", "status", "payment_link_id")
STATUSES = ("trialing", "active", "past_due", "canceled")
INVOICE_FILTERS = ("subscription_id",)
INVOICE_STATUSES = ("open", "paid", "void", "uncollectible")


def get(uow: UnitOfWork, owner: Owner, subscription_id: str) -> Subscription:
    return get_owned(uow.session, Subscription, owner, subscription_id)


def page(uow: UnitOfWork, owner: Owner, query: PageQuery) -> Page:
    """Newest first; `query.filters` may hold any of LIST_FILTERS."""
    return listing.page(uow.session, Subscription, owner, query)


def of_customer(uow: UnitOfWork, owner: Owner, customer_id: str, limit: int = 20) -> list[Subscription]:
    return page(uow, owner, PageQuery(limit=limit, filters={"customer_id": customer_id})).data


def cancel(uow: UnitOfWork, owner: Owner, subscription_id: str, *, at_period_end: bool, now: datetime) -> Subscription:
    """Cancel at the period's end (the default) or now; a canceled subscription stays canceled."""
    from domain import billing

    subscription = get_owned(uow.session, Subscription, owner, subscription_id, lock=True)
    return billing.cancel(uow, subscription, at_period_end=at_period_end, real_now=now)


def get_invoice(uow: UnitOfWork, owner: Owner, invoice_id: str) -> Invoice:
    return get_owned(uow.session, Invoice, owner, invoice_id)


def invoice_page(uow: UnitOfWork, owner: Owner, query: PageQuery) -> Page:
    """Newest first; `query.filters` may hold `subscription_id`."""
    return listing.page(uow.session, Invoice, owner, query)
