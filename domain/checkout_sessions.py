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

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from domain import listing
from domain.catalog import redeemable
from domain.db import UnitOfWork
from domain.errors import Conflict, NotFound, invalid
from domain.expiry import status_condition
from domain.ids import plausible_token
from domain.link_reader import ShareLink
from domain.listing import get_owned
from domain.models import CheckoutSession, Coupon, Mode
from domain.models import SessionStatus as Status
from domain.money import CartLine, CouponTerms, cart_amounts, line_amount
from domain.payment_links import MAX_QUANTITY, MIN_QUANTITY, MODE_RULES
from domain.queries import Owner, Page, PageQuery

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
    """The lines the link sells now, or None when any price or package is gone or inactive."""
    prices = {p["id"]: p for p in link.prices}
    wanted: list[tuple[str, int, str | None]] = []
    if link.package_ids:
        packages = {p["id"]: p for p in link.packages}
        for package_id in link.package_ids:
            package = packages.get(package_id)
            if package is None or not package["active"]:
                return None
            wanted += [(price_id, 1, None) for price_id in package["price_ids"]]
    else:
        wanted = [(item["price_id"], item["quantity"], item.get("description")) for item in link.line_items]
    lines = []
    for price_id, quantity, description in wanted:
        price = prices.get(price_id)
        if price is None or not price["active"]:
            return None
        lines.append({"price_id": price_id, "description": description, "quantity": quantity,
                      "unit_amount_atom": price["unit_amount_atom"], "currency": price["currency"],
                      "type": price["type"], "interval": price["interval"], "interval_count": price["interval_count"],
                      "amount_atom": line_amount(price["unit_amount_atom"], quantity)})
    return lines


def _amount_fields(mode: str, lines: list[dict[str, Any]], coupon: CouponTerms | None,
                   trial_days: int | None) -> dict[str, int]:
    cart = [CartLine(line["unit_amount_atom"], line["quantity"], line["type"] == "recurring") for line in lines]
    amounts = cart_amounts(cart, coupon, trial_days=trial_days if MODE_RULES[Mode(mode)].takes_trial else None)
    return {"amount_subtotal_atom": amounts.subtotal_atom, "amount_discount_atom": amounts.discount_atom,
            "amount_total_atom": amounts.total_atom, "amount_due_today_atom": amounts.due_today_atom}


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


# Built once, the snapshot passed as parameters: building `.values(**snapshot)` for every session
# (coercing each value, a new cache key each time) was half the creation task's CPU.
_STORE = (insert(CheckoutSession.__table__)
          .on_conflict_do_nothing(index_elements=[CheckoutSession.__table__.c.id])
          .returning(CheckoutSession.__table__.c.id))


def store(uow: UnitOfWork, snapshot: dict[str, Any]) -> bool:
    """Persist a snapshot made by `new_session`; storing the same one again does nothing."""
    values = dict(snapshot)
    for name in ("created_at", "updated_at", "expires_at"):
        values[name] = datetime.fromisoformat(values[name])
    return uow.session.execute(_STORE, values).first() is not None


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
    """What every reader sees: an open session is expired from `expires_at` on."""
    if session.status == Status.OPEN and now >= session.expires_at:
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

@dataclass(frozen=True)
class Completion:
    """The outcome of Pay: completed, or why not (`session_expired`, `session_not_open`,
    `coupon_unavailable` — the coupon ran out; the session now shows the price without it)."""

    completed: bool
    reason: str | None = None


def _open_for_change(uow: UnitOfWork, checkout_token: str, now: datetime) -> CheckoutSession:
    session = find_by_token(uow, checkout_token, lock=True)
    if session is None:
        raise NotFound("No such checkout session")
    status = effective_status(session, now)
    if status != Status.OPEN:
        raise Conflict(f"This checkout session is {status}.", code=f"session_{status}")
    return session


def complete(uow: UnitOfWork, checkout_token: str, now: datetime) -> Completion:
    """Pay (a test-mode payment): complete an open, unexpired session, redeeming its coupon."""
    try:
        session = _open_for_change(uow, checkout_token, now)
    except Conflict as refused:
        return Completion(False, "session_expired" if refused.code == "session_expired" else "session_not_open")
    if session.coupon_id and not _redeem_coupon(uow, session.coupon_id):
        session.coupon_id, session.coupon = None, None
        _recompute(session)
        session.updated_at = now
        uow.session.flush()
        return Completion(False, "coupon_unavailable")
    done = uow.session.execute(
        update(CheckoutSession)
        .where(CheckoutSession.id == session.id, CheckoutSession.status == Status.OPEN, CheckoutSession.expires_at > now)
        .values(status=Status.COMPLETE.value, completed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    uow.session.refresh(session)
    if done == 1:
        uow.after_commit(lambda: _log_completed(session))
    return Completion(done == 1, None if done == 1 else "session_expired")


def _log_completed(session: CheckoutSession) -> None:
    """Once committed: the session is paid. Its id and amounts, never its checkout token."""
    log.info("checkout session %s completed", session.id,
             extra={"fields": {"checkout_session_id": session.id, "account_id": session.account_id,
                               "payment_link_id": session.payment_link_id, "livemode": session.livemode,
                               "amount_total_atom": session.amount_total_atom, "currency": session.currency}})


def _redeem_coupon(uow: UnitOfWork, coupon_id: str) -> bool:
    """Count one redemption, never beyond max_redemptions (a guarded UPDATE)."""
    return uow.session.execute(
        update(Coupon)
        .where(Coupon.id == coupon_id,
               (Coupon.max_redemptions.is_(None)) | (Coupon.times_redeemed < Coupon.max_redemptions))
        .values(times_redeemed=Coupon.times_redeemed + 1)
        .execution_options(synchronize_session=False)
    ).rowcount == 1


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
    session.status = Status.EXPIRED.value
    session.expired_at = min(now, session.expires_at)
    session.updated_at = now
    uow.session.flush()
    uow.send_after_commit("checkout_sessions.expired", [session.id], task_id=f"{session.id}.expired")
    return session
