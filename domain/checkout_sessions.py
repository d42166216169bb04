"""Checkout sessions: made from a link when it is opened, completed or expired afterwards.

A session snapshots what it sells at creation, so later catalog or link edits never change it.
Its state is exact at read time: from `expires_at` on, an open session reads as expired for
everyone, whatever the workers have done yet; every state change is a guarded UPDATE.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects.postgresql import insert

from domain import events, listing, views
from domain.catalog import redeemable
from domain.db import UnitOfWork
from domain.errors import Conflict, NotFound, invalid
from domain.expiry import status_condition
from domain.ids import plausible_token
from domain.link_changes import ACCOUNT_OPTION
from domain.link_reader import ShareLink
from domain.listing import get_owned
from domain.models import CheckoutSession, Coupon, Mode
from domain.models import SessionStatus as Status
from domain.money import CartLine, CouponTerms, cart_amounts, line_amount, per_period, subtotal
from domain.payment_links import MAX_QUANTITY, MIN_QUANTITY, MODE_RULES
from domain.queries import Owner, Page, PageQuery
from domain.subscriptions import add_interval

log = logging.getLogger("paymentkit.checkout_sessions")


def _coupon_terms(coupon: dict[str, Any] | None) -> CouponTerms | None:
    if coupon is None:
        return None
    percent = coupon.get("percent_off")
    return CouponTerms(percent_off=Decimal(percent) if percent is not None else None,
                       amount_off_atom=coupon.get("amount_off_atom"))


def _coupon_redeemable(coupon: dict[str, Any], now: datetime) -> bool:
    redeem_by = coupon.get("redeem_by")
    return redeemable(coupon["active"], datetime.fromisoformat(redeem_by) if redeem_by else None,
                      coupon.get("max_redemptions"), coupon["times_redeemed"], now)


def _cart(link: ShareLink) -> list[dict[str, Any]] | None:
    """The lines the link sells now, or None when any price or package is gone or inactive. Each
    line keeps the names the customer reads (its product's, and its package's when it came from
    one), so that renaming the catalog later does not change the session."""
    prices = {p["id"]: p for p in link.prices}
    wanted: list[tuple[str, int, str | None, str | None]] = []
    if link.package_ids:
        packages = {p["id"]: p for p in link.packages}
        for package_id in link.package_ids:
            package = packages.get(package_id)
            if package is None or not package["active"]:
                return None
            wanted += [(price_id, 1, None, package["name"]) for price_id in package["price_ids"]]
    else:
        wanted = [(item["price_id"], item["quantity"], item.get("description"), None) for item in link.line_items]
    lines = []
    for price_id, quantity, description, package_name in wanted:
        price = prices.get(price_id)
        if price is None or not price["active"]:
            return None
        lines.append({"price_id": price_id, "product_name": price["product_name"], "package_name": package_name,
                      "description": description, "quantity": quantity,
                      "unit_amount_atom": price["unit_amount_atom"], "currency": price["currency"],
                      "type": price["type"], "interval": price["interval"], "interval_count": price["interval_count"],
                      "amount_atom": line_amount(price["unit_amount_atom"], quantity)})
    return lines


def _cart_lines(lines: list[dict[str, Any]]) -> list[CartLine]:
    return [CartLine(line["unit_amount_atom"], line["quantity"], line["type"] == "recurring") for line in lines]


def _amount_fields(mode: str, lines: list[dict[str, Any]], coupon: CouponTerms | None,
                   trial_days: int | None) -> dict[str, int]:
    cart = _cart_lines(lines)
    amounts = cart_amounts(cart, coupon, trial_days=trial_days if MODE_RULES[Mode(mode)].takes_trial else None)
    return {"amount_subtotal_atom": amounts.subtotal_atom, "amount_discount_atom": amounts.discount_atom,
            "amount_total_atom": amounts.total_atom, "amount_due_today_atom": amounts.due_today_atom}


def sellable(link: ShareLink) -> bool:
    """Whether `new_session` makes a session of this link at all (what it sells is active). Time
    does not change the answer: a coupon past `redeem_by` or out of redemptions is left off."""
    return link.is_active and _cart(link) is not None


def new_session(link: ShareLink | None, *, session_id: str, checkout_token: str,
                now: datetime) -> dict[str, Any] | None:
    """The snapshot of a new session (JSON primitives, ready for the creation task), or None when
    the link cannot be opened: unknown, inactive, or selling something no longer active."""
    if link is None or not link.is_active:
        return None
    lines = _cart(link)
    if lines is None:
        return None
    coupon = link.coupon
    if coupon is not None and not _coupon_redeemable(coupon, now):
        coupon = None  # left off: the customer sees the real price before paying
    coupon_snapshot = ({"percent_off": coupon["percent_off"], "amount_off_atom": coupon["amount_off_atom"]}
                       if coupon else None)
    trial_days = link.free_trial_days if MODE_RULES[Mode(link.mode)].takes_trial else None
    return {
        "id": session_id, "account_id": link.account_id, "livemode": link.livemode,
        "payment_link_id": link.id, "checkout_token": checkout_token, "mode": link.mode,
        "status": Status.OPEN.value, "line_items": lines, "currency": link.currency,
        **_amount_fields(link.mode, lines, _coupon_terms(coupon_snapshot), trial_days),
        "customer_id": link.customer_id, "coupon_id": coupon["id"] if coupon else None,
        "coupon": coupon_snapshot, "free_trial_days": trial_days,
        "success_url": link.success_url, "return_url": link.return_url,
        "accepted_payment_methods": link.accepted_payment_methods, "allow_cart_edit": link.allow_cart_edit,
        "created_at": now.isoformat(), "updated_at": now.isoformat(),
        "expires_at": (now + timedelta(hours=link.expires_in_hours)).isoformat(),
    }


@dataclass(frozen=True)
class Later:
    """What a subscription's recurring lines charge each period after today, and from when."""

    amount_atom: int
    interval: str
    interval_count: int
    starts_at: datetime


@dataclass(frozen=True)
class Charges:
    """What a session charges: today (the lines charged today, their discount, the amount due)
    and, for a subscription, each period later."""

    subtotal_atom: int
    discount_atom: int
    due_today_atom: int
    later: Later | None


def charges(session: CheckoutSession, starts_at: datetime) -> Charges | None:
    """What the customer is asked to pay, for a subscription that starts at `starts_at` (now on
    the checkout page; the completion on the confirmation). None in setup mode: nothing is
    charged. With a trial the recurring lines are not charged today, and start to be once the
    trial ends; without one, they are charged today and again one interval later."""
    if session.mode == Mode.SETUP:
        return None
    trial_days = session.free_trial_days
    if trial_days:
        subtotal_today = subtotal(line for line in _cart_lines(session.line_items) if not line.recurring)
    else:
        subtotal_today = session.amount_subtotal_atom
    due_today = session.amount_due_today_atom
    recurring = [line for line in session.line_items if line["type"] == "recurring"]
    later = None
    if session.mode == Mode.SUBSCRIPTION and recurring:
        interval, count = recurring[0]["interval"], recurring[0].get("interval_count") or 1
        later = Later(per_period(_cart_lines(recurring), _coupon_terms(session.coupon)), interval, count,
                      starts_at + timedelta(days=trial_days) if trial_days else add_interval(starts_at, interval, count))
    return Charges(subtotal_today, subtotal_today - due_today, due_today, later)


# Built once, the snapshot passed as parameters: building `.values(**snapshot)` for every session
# (coercing each value, a new cache key each time) was half the creation task's CPU.
_STORE = (insert(CheckoutSession.__table__)
          .on_conflict_do_nothing(index_elements=[CheckoutSession.__table__.c.id])
          .returning(CheckoutSession.__table__.c.id))


def _store_values(snapshot: dict[str, Any]) -> dict[str, Any]:
    values = dict(snapshot)
    for name in ("created_at", "updated_at", "expires_at"):
        values[name] = datetime.fromisoformat(values[name])
    return values


def store(uow: UnitOfWork, snapshot: dict[str, Any]) -> bool:
    """Persist a snapshot made by `new_session`; storing the same one again does nothing."""
    return uow.session.execute(_STORE, _store_values(snapshot)).first() is not None


def store_many_on(connection: Connection, snapshots: list[dict[str, Any]]) -> set[str]:
    """`store` on a Core connection, for the workers, many snapshots in one multi-row INSERT
    (SQLAlchemy's insertmanyvalues); the ids of the ones not stored before. Each is stored once,
    whatever the repeats. An ORM session around it cost 0.3-0.4 ms of CPU a session."""
    if not snapshots:
        return set()
    return set(connection.execute(_STORE, [_store_values(snapshot) for snapshot in snapshots]).scalars())


# ---- reading --------------------------------------------------------------------------------

def get(uow: UnitOfWork, owner: Owner, session_id: str) -> CheckoutSession:
    return get_owned(uow.session, CheckoutSession, owner, session_id)


def page(uow: UnitOfWork, owner: Owner, query: PageQuery, now: datetime, *, status: str | None = None,
         payment_link_id: str | None = None) -> Page:
    """Newest first, optionally of one link and in one effective status at `now` (`open` leaves
    out sessions past `expires_at`, `expired` takes them in)."""
    if payment_link_id is not None:
        query.filters["payment_link_id"] = payment_link_id
    if status is not None:
        query.where.append(status_condition(status, now))
    return listing.page(uow.session, CheckoutSession, owner, query)


def effective_status(session: CheckoutSession, now: datetime) -> str:
    """What every reader sees: an open session is expired from `expires_at` on, unless a
    payment is under way (a charge in flight is not cut off: it completes or fails first)."""
    if session.status == Status.OPEN and now >= session.expires_at and session.payment_id is None:
        return Status.EXPIRED
    return session.status


def effective_expired_at(session: CheckoutSession, now: datetime) -> datetime | None:
    if session.expired_at is not None:
        return session.expired_at
    return session.expires_at if effective_status(session, now) == Status.EXPIRED else None


def find_by_token(uow: UnitOfWork, checkout_token: str, *, lock: bool = False) -> CheckoutSession | None:
    if not plausible_token(checkout_token):
        return None
    stmt = select(CheckoutSession).where(CheckoutSession.checkout_token == checkout_token)
    if lock:  # re-read under the lock, even if this unit of work loaded the row before
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return uow.session.scalars(stmt).first()


# ---- changing -------------------------------------------------------------------------------

def _open_for_change(uow: UnitOfWork, checkout_token: str, now: datetime) -> CheckoutSession:
    session = find_by_token(uow, checkout_token, lock=True)
    if session is None:
        raise NotFound("No such checkout session")
    status = effective_status(session, now)
    if status != Status.OPEN:
        raise Conflict(f"This checkout session is {status}.", code=f"session_{status}")
    return session


def hold_coupon(uow: UnitOfWork, session: CheckoutSession, now: datetime) -> bool:
    """Before any charge: count the session's coupon as redeemed (never beyond max_redemptions),
    or, when it has run out, take it off the session and reprice it (False: the customer must
    see the new total before paying). A session holds at most one redemption."""
    if session.coupon_id is None or session.coupon_redeemed:
        return True
    held = uow.session.execute(
        update(Coupon)
        .where(Coupon.id == session.coupon_id,
               (Coupon.max_redemptions.is_(None)) | (Coupon.times_redeemed < Coupon.max_redemptions))
        .values(times_redeemed=Coupon.times_redeemed + 1)
        .execution_options(synchronize_session=False, **{ACCOUNT_OPTION: session.account_id})
    ).rowcount == 1
    if held:
        session.coupon_redeemed = True
    else:
        session.coupon_id, session.coupon = None, None
        _recompute(session)
    session.updated_at = now
    uow.session.flush()
    return held


def release_coupon(uow: UnitOfWork, session: CheckoutSession) -> None:
    """A payment failed: give the held redemption back, so the coupon's count stays exact."""
    if session.coupon_id is None or not session.coupon_redeemed:
        return
    uow.session.execute(update(Coupon).where(Coupon.id == session.coupon_id, Coupon.times_redeemed > 0)
                        .values(times_redeemed=Coupon.times_redeemed - 1)
                        .execution_options(synchronize_session=False, **{ACCOUNT_OPTION: session.account_id}))
    session.coupon_redeemed = False


def complete(uow: UnitOfWork, session: CheckoutSession, now: datetime, *, payment_status: str,
             payment_method_id: str | None = None, subscription_id: str | None = None) -> bool:
    """Mark an open session complete, in the caller's transaction (the one that records its
    payment). Guarded: a session completes once, and only with the payment it was paying. The
    row comes back from the UPDATE (RETURNING) into `session`; only when the guard stops it is
    the session read again."""
    done = uow.session.scalars(
        update(CheckoutSession)
        .where(CheckoutSession.id == session.id, CheckoutSession.status == Status.OPEN,
               CheckoutSession.payment_id.is_not_distinct_from(session.payment_id))
        .values(status=Status.COMPLETE.value, completed_at=now, updated_at=now, payment_status=payment_status,
                payment_method_id=payment_method_id or session.payment_method_id,
                subscription_id=subscription_id)
        .returning(CheckoutSession)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).first() is not None
    if not done:
        uow.session.refresh(session)
    if done:
        events.record(uow, "checkout.session.completed", session,
                      views.checkout_session(session, uow.outbox.urls, now), now=now)
        uow.after_commit(lambda: _log_completed(session))
    return done


def _log_completed(session: CheckoutSession) -> None:
    """Once committed: the session is paid. Its id and amounts, never its checkout token."""
    log.info("checkout session %s completed", session.id,
             extra={"fields": {"checkout_session_id": session.id, "account_id": session.account_id,
                               "payment_link_id": session.payment_link_id, "livemode": session.livemode,
                               "amount_total_atom": session.amount_total_atom, "currency": session.currency,
                               "payment_id": session.payment_id, "payment_status": session.payment_status}})


def change_quantities(uow: UnitOfWork, checkout_token: str, quantities: dict[int, int], now: datetime) -> CheckoutSession:
    """Cart edit at checkout: new quantities (MIN_QUANTITY to MAX_QUANTITY) for some lines; the amounts follow."""
    session = _open_for_change(uow, checkout_token, now)
    if not session.allow_cart_edit:
        raise invalid("quantity", "This checkout does not allow changing quantities.")
    lines = [dict(line) for line in session.line_items]
    for index, quantity in quantities.items():
        if not 0 <= index < len(lines):
            raise invalid(f"line_items[{index}]", "No such line in this checkout.")
        if not MIN_QUANTITY <= quantity <= MAX_QUANTITY:
            raise invalid(f"line_items[{index}].quantity", f"Quantity must be {MIN_QUANTITY} to {MAX_QUANTITY}.")
        lines[index]["quantity"] = quantity
        lines[index]["amount_atom"] = line_amount(lines[index]["unit_amount_atom"], quantity)
    session.line_items = lines
    _recompute(session)
    session.updated_at = now
    uow.session.flush()
    return session


def _recompute(session: CheckoutSession) -> None:
    for name, value in _amount_fields(session.mode, session.line_items, _coupon_terms(session.coupon),
                                      session.free_trial_days).items():
        setattr(session, name, value)


def expire(uow: UnitOfWork, owner: Owner, session_id: str, now: datetime) -> CheckoutSession:
    """An operator or merchant expires an open session by hand; anything else is a 409."""
    session = get_owned(uow.session, CheckoutSession, owner, session_id, lock=True)
    status = effective_status(session, now)  # past expires_at it is already expired for every reader
    if status != Status.OPEN:
        raise Conflict(f"Only an open checkout session can be expired; this one is {status}.",
                       code="session_not_open")
    if session.payment_id is not None:
        raise Conflict("A payment of this checkout session is under way; it cannot be expired until that "
                       "payment has succeeded or failed.", code="payment_in_progress")
    session.status = Status.EXPIRED.value
    session.expired_at = min(now, session.expires_at)
    session.updated_at = now
    uow.session.flush()
    announce_expired(uow, session, now)
    uow.send_after_commit("checkout_sessions.expired", [session.id], task_id=f"{session.id}.expired")
    return session


def announce_expired(uow: UnitOfWork, session: CheckoutSession, now: datetime) -> bool:
    """The `checkout.session.expired` event of an expired session, written once whoever asks
    (a merchant's expire in its own transaction; for the sweep's batches, the follow-up job):
    False when it was written already. An expired session never changes again, so the object
    shown is the one it expired as."""
    written = events.record(uow, "checkout.session.expired", session,
                            views.checkout_session(session, uow.outbox.urls, now),
                            now=now, dedupe_key=f"{session.id}.expired")
    return written is not None
