"""Payment links: the rules of a link (pure, over plain values) and the create/update/deactivate
services that check them against this owner's catalog.

A link stores its line items expanded (each price's amount, currency and type) because a
price's amount never changes; only its `active` flag does, which the share path checks on every open
(domain/checkout_sessions.py).
"""
from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain import events, listing, money, views
from domain.catalog import coupon_is_redeemable, load_active_prices
from domain.db import UnitOfWork, utcnow
from domain.errors import Checks, NotFound, invalid
from domain.ids import new_id, new_url_token
from domain.expiry import status_condition
from domain.listing import get_owned
from domain.queries import Owner, Page, PageQuery
from domain.models import CheckoutSession, Coupon, Customer, Mode, Package, PaymentLink, Price
from domain.rules import MAX_NAME_CHARS, require_int_range, require_metadata, require_text, require_unique, require_url

MODES = tuple(mode.value for mode in Mode)
# Every method a link may accept, with the name a customer reads.
PAYMENT_METHODS = {
    "credit_card": "Credit card", "debit_card": "Debit card", "apple_pay": "Apple Pay", "google_pay": "Google Pay",
    "paypal": "PayPal", "bank_transfer": "Bank transfer", "sepa_debit": "SEPA Direct Debit",
    "ach_debit": "ACH Direct Debit",
}
MAX_LINE_ITEMS = 20
MAX_PACKAGES = 20
MIN_QUANTITY, MAX_QUANTITY = 1, 999
MAX_DESCRIPTION_CHARS = 500
MAX_TRIAL_DAYS = 730
MAX_EXPIRES_IN_HOURS = 720
DEFAULT_EXPIRES_IN_HOURS = 24


@dataclass(frozen=True)
class ModeRules:
    """What a link of one mode may sell and take."""

    sells: bool                    # has line_items or package_ids (setup sells nothing)
    price_types: frozenset[str]    # the price types its cart may hold
    needs_recurring: bool          # at least one recurring price, all on one schedule
    takes_coupon: bool
    takes_trial: bool
    refusal: str                   # why a field it does not take is refused


MODE_RULES: dict[Mode, ModeRules] = {
    Mode.PAYMENT: ModeRules(sells=True, price_types=frozenset({"one_time"}), needs_recurring=False,
                            takes_coupon=True, takes_trial=False,
                            refusal="free_trial_days is only for subscription links"),
    Mode.SUBSCRIPTION: ModeRules(sells=True, price_types=frozenset({"one_time", "recurring"}), needs_recurring=True,
                                 takes_coupon=True, takes_trial=True, refusal=""),
    Mode.SETUP: ModeRules(sells=False, price_types=frozenset(), needs_recurring=False, takes_coupon=False,
                          takes_trial=False, refusal="a setup link charges nothing: leave out {param}"),
}


@dataclass
class LineItem:
    price_id: str
    quantity: int = 1
    description: str | None = None


@dataclass
class NewPaymentLink:
    name: str | None = None
    mode: str = "payment"
    line_items: list[LineItem] | None = None
    package_ids: list[str] | None = None
    customer_id: str | None = None
    coupon_id: str | None = None
    free_trial_days: int | None = None
    success_url: str | None = None
    return_url: str | None = None
    expires_in_hours: int = DEFAULT_EXPIRES_IN_HOURS
    allow_cart_edit: bool = False
    accepted_payment_methods: list[str] | None = None
    metadata: dict[str, Any] | None = None


class Unchanged(enum.Enum):
    """A field left out of an update (as opposed to set to null)."""

    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED


@dataclass
class PaymentLinkUpdate:
    """What a PATCH may change; None removes coupon_id/return_url/success_url/name, and makes
    accepted_payment_methods "every method"."""

    name: str | None | Unchanged = UNCHANGED
    coupon_id: str | None | Unchanged = UNCHANGED
    success_url: str | None | Unchanged = UNCHANGED
    return_url: str | None | Unchanged = UNCHANGED
    accepted_payment_methods: list[str] | None | Unchanged = UNCHANGED
    metadata: dict[str, Any] | Unchanged = UNCHANGED
    is_active: bool | Unchanged = UNCHANGED

    def given(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not UNCHANGED}


# ---- rules over plain values ----------------------------------------------------------------

def check_name(name: str | None) -> None:
    require_text(name, "name", MAX_NAME_CHARS, required=False)


def check_mode(mode: str) -> ModeRules:
    if mode not in MODES:
        raise invalid("mode", "mode must be payment, subscription or setup")
    return MODE_RULES[Mode(mode)]


def _refuse(rules: ModeRules, param: str):
    return invalid(param, rules.refusal.format(param=param))


def check_cart_shape(mode: str, line_items: list[LineItem] | None, package_ids: list[str] | None) -> None:
    """Line items xor packages; none at all for a mode that sells nothing, one of them otherwise."""
    rules = check_mode(mode)
    if not rules.sells:
        for param, value in (("line_items", line_items), ("package_ids", package_ids)):
            if value is not None:
                raise _refuse(rules, param)
        return
    if line_items is not None and package_ids is not None:
        raise invalid("package_ids", "give line_items or package_ids, not both")
    if line_items is None and package_ids is None:
        raise invalid("line_items", f"a {mode} link needs line_items or package_ids", "parameter_missing")
    if line_items is not None:
        if not 1 <= len(line_items) <= MAX_LINE_ITEMS:
            raise invalid("line_items", f"a link has 1 to {MAX_LINE_ITEMS} line items")
        for index, item in enumerate(line_items):
            check_line_item(item, f"line_items[{index}]")
    else:
        if not 1 <= len(package_ids) <= MAX_PACKAGES:
            raise invalid("package_ids", f"a link has 1 to {MAX_PACKAGES} packages")
        for index, package_id in enumerate(package_ids):
            require_text(package_id, f"package_ids[{index}]")
        require_unique(package_ids, "package_ids")


def check_line_item(item: LineItem, param: str) -> None:
    require_text(item.price_id, f"{param}.price_id")
    require_int_range(item.quantity, f"{param}.quantity", MIN_QUANTITY, MAX_QUANTITY)
    require_text(item.description, f"{param}.description", MAX_DESCRIPTION_CHARS, required=False)


def check_trial(mode: str, free_trial_days: int | None) -> None:
    if free_trial_days is None:
        return
    rules = MODE_RULES[Mode(mode)]
    if not rules.takes_trial:
        raise _refuse(rules, "free_trial_days")
    require_int_range(free_trial_days, "free_trial_days", 1, MAX_TRIAL_DAYS)


def check_coupon_allowed(mode: str, coupon_id: str | None) -> None:
    rules = MODE_RULES[Mode(mode)]
    if coupon_id is not None and not rules.takes_coupon:
        raise _refuse(rules, "coupon_id")


def check_payment_methods(methods: list[str] | None, param: str = "accepted_payment_methods") -> None:
    """None means every method enabled for the account; a list must be non-empty, known, unrepeated."""
    if methods is None:
        return
    if not methods:
        raise invalid(param, f"{param} must not be empty; leave it out to accept every method")
    for index, method in enumerate(methods):
        if method not in PAYMENT_METHODS:
            raise invalid(f"{param}[{index}]", f"unknown payment method {method!r}; use one of "
                                               f"{', '.join(PAYMENT_METHODS)}")
    require_unique(methods, param)


def validate_new(cmd: NewPaymentLink, checks: Checks | None = None) -> None:
    """Every rule of a new link that needs no lookup; all broken ones are raised together (or
    added to `checks`)."""
    mine = checks or Checks()
    with mine.field():
        check_name(cmd.name)
    with mine.field():
        check_cart_shape(cmd.mode, cmd.line_items, cmd.package_ids)
    if cmd.mode in MODES:
        with mine.field():
            check_coupon_allowed(cmd.mode, cmd.coupon_id)
        with mine.field():
            check_trial(cmd.mode, cmd.free_trial_days)
    with mine.field():
        require_int_range(cmd.expires_in_hours, "expires_in_hours", 1, MAX_EXPIRES_IN_HOURS)
    for param in ("success_url", "return_url"):
        with mine.field():
            require_url(getattr(cmd, param), param)
    with mine.field():
        check_payment_methods(cmd.accepted_payment_methods)
    with mine.field():
        require_metadata(cmd.metadata)
    if checks is None:
        mine.raise_any()


def validate_update(changes: PaymentLinkUpdate, checks: Checks | None = None) -> None:
    mine = checks or Checks()
    if changes.name is not UNCHANGED:
        with mine.field():
            check_name(changes.name)
    for param in ("success_url", "return_url"):
        value = getattr(changes, param)
        if value is not UNCHANGED:
            with mine.field():
                require_url(value, param)
    if changes.accepted_payment_methods is not UNCHANGED:
        with mine.field():
            check_payment_methods(changes.accepted_payment_methods)
    if changes.metadata is not UNCHANGED:
        with mine.field():
            if changes.metadata is None:
                raise invalid("metadata", "metadata must be an object; send {} to clear it")
            require_metadata(changes.metadata)
    if checks is None:
        mine.raise_any()


def check_cart_prices(mode: str, entries: Sequence[tuple[str, Price]], cart_param: str) -> str:
    """The mode and currency rules over the cart's prices, each paired with the param that chose
    it (every item that breaks one is told); returns the cart's one currency."""
    checks = Checks()
    currency = entries[0][1].currency
    rules = MODE_RULES[Mode(mode)]
    recurring = [(param, price) for param, price in entries if price.type == "recurring"]
    first = recurring[0][1] if recurring else None
    for param, price in entries:
        with checks.field():
            if price.currency != currency:
                raise invalid(param, f"all items of a link share one currency ({currency}); {price.id} is in "
                                     f"{price.currency}")
            if price.type not in rules.price_types:
                raise invalid(param, f"a payment link sells one-time prices only; {price.id} is recurring "
                                     "(use mode subscription)")
            if first is not None and price.type == "recurring" and \
                    (price.interval, price.interval_count) != (first.interval, first.interval_count):
                raise invalid(param, f"all recurring prices of a link bill on one schedule (every "
                                     f"{first.interval_count} {first.interval}); {price.id} bills every "
                                     f"{price.interval_count} {price.interval}")
    if rules.needs_recurring and not recurring:
        with checks.field():
            raise invalid(cart_param, f"a {mode} link needs at least one recurring price")
    checks.raise_any()
    return currency


def check_coupon(coupon: Coupon, currency: str | None, now: datetime) -> None:
    if not coupon.active:
        raise invalid("coupon_id", f"coupon {coupon.id} is not active")
    if not coupon_is_redeemable(coupon, now):
        raise invalid("coupon_id", f"coupon {coupon.id} can no longer be redeemed")
    if coupon.amount_off_atom is not None and coupon.currency != currency:
        raise invalid("coupon_id", f"coupon {coupon.id} takes off an amount in {coupon.currency}; this link "
                                   f"is in {currency}")


def expand_line_items(items: Sequence[LineItem], prices: Sequence[Price]) -> list[dict[str, Any]]:
    """The stored form of line items: each with its price's amount, currency and type."""
    return [{"price_id": price.id, "quantity": item.quantity, "description": item.description,
             "unit_amount_atom": price.unit_amount_atom, "currency": price.currency, "type": price.type,
             "amount_atom": money.line_amount(price.unit_amount_atom, item.quantity)}
            for item, price in zip(items, prices, strict=True)]


def cart_total(lines: Sequence[tuple[Price, int]]) -> int:
    """The cart before any coupon: the sum of unit amount times quantity."""
    return money.subtotal(money.CartLine(price.unit_amount_atom, quantity, price.type == "recurring")
                          for price, quantity in lines)


# ---- lookups --------------------------------------------------------------------------------

def _owned_by_id(session: Session, model: type, owner: Owner, ids: Sequence[str]) -> dict[str, Any]:
    if not ids:
        return {}
    return {o.id: o for o in session.scalars(select(model).where(
        model.id.in_(set(ids)), model.account_id == owner.account_id, model.livemode == owner.livemode))}


def _owned_or_invalid(session: Session, model: type, owner: Owner, object_id: str, param: str) -> Any:
    try:
        return get_owned(session, model, owner, object_id)
    except NotFound as missing:
        raise invalid(param, missing.message, "resource_missing") from None


def _line_item_prices(uow: UnitOfWork, owner: Owner, items: Sequence[LineItem]) -> list[tuple[str, Price]]:
    params = [f"line_items[{index}].price_id" for index in range(len(items))]
    return list(zip(params, load_active_prices(uow, owner, [item.price_id for item in items], params)))


def _package_prices(session: Session, owner: Owner, package_ids: Sequence[str]) -> list[tuple[str, Price]]:
    """Every price of every package, in order, each paired with `package_ids[j]` of its package."""
    packages = _owned_by_id(session, Package, owner, package_ids)
    for index, package_id in enumerate(package_ids):
        package = packages.get(package_id)
        if package is None:
            raise invalid(f"package_ids[{index}]", f"No such package: {package_id!r}", "resource_missing")
        if not package.active:
            raise invalid(f"package_ids[{index}]", f"package {package_id} is not active")
    prices = _owned_by_id(session, Price, owner, [p for pid in package_ids for p in packages[pid].price_ids])
    entries = []
    for index, package_id in enumerate(package_ids):
        for price_id in packages[package_id].price_ids:
            price = prices.get(price_id)
            if price is None or not price.active:
                raise invalid(f"package_ids[{index}]", f"package {package_id} holds price {price_id}, which is "
                                                       "no longer active")
            entries.append((f"package_ids[{index}]", price))
    return entries


# ---- services -------------------------------------------------------------------------------

@dataclass
class CheckedCart:
    line_items: list[dict[str, Any]]
    currency: str | None
    total: int


def check_new(uow: UnitOfWork, owner: Owner, cmd: NewPaymentLink, checks: Checks | None = None) -> CheckedCart:
    """Every rule of a new link, lookups included, without making it: each independent failure is
    raised together (or added to `checks`, for a caller that found more of its own)."""
    mine = checks or Checks()
    validate_new(cmd, mine)
    session = uow.session
    cart = CheckedCart([], None, 0)
    cart_ok = not (mine.failed("line_items") or mine.failed("package_ids") or mine.failed("mode"))
    if cart_ok and cmd.line_items is not None:
        with mine.field():
            entries = _line_item_prices(uow, owner, cmd.line_items)
            cart.currency = check_cart_prices(cmd.mode, entries, "line_items")
            prices = [price for _, price in entries]
            cart.line_items = expand_line_items(cmd.line_items, prices)
            cart.total = cart_total([(price, item.quantity) for price, item in zip(prices, cmd.line_items)])
    elif cart_ok and cmd.package_ids is not None:
        with mine.field():
            entries = _package_prices(session, owner, cmd.package_ids)
            cart.currency = check_cart_prices(cmd.mode, entries, "package_ids")
            cart.total = cart_total([(price, 1) for _, price in entries])
    if cmd.customer_id is not None:
        with mine.field():
            _owned_or_invalid(session, Customer, owner, cmd.customer_id, "customer_id")
    if cmd.coupon_id is not None and not mine.failed("coupon_id"):
        with mine.field():
            coupon = _owned_or_invalid(session, Coupon, owner, cmd.coupon_id, "coupon_id")
            # With a cart that failed, its currency is unknown: only the coupon's own rules apply.
            check_coupon(coupon, cart.currency if cart.currency else coupon.currency, utcnow())
    if checks is None:
        mine.raise_any()
    return cart


def create(uow: UnitOfWork, owner: Owner, cmd: NewPaymentLink) -> PaymentLink:
    cart = check_new(uow, owner, cmd)
    session = uow.session
    line_items, currency, total = cart.line_items, cart.currency, cart.total
    now = utcnow()
    link = PaymentLink(
        id=new_id("pl", owner.livemode), account_id=owner.account_id, livemode=owner.livemode,
        created_at=now, updated_at=now, secure_token=new_url_token(), name=cmd.name, mode=cmd.mode,
        is_active=True, line_items=line_items, package_ids=list(cmd.package_ids or []),
        customer_id=cmd.customer_id, coupon_id=cmd.coupon_id, free_trial_days=cmd.free_trial_days,
        success_url=cmd.success_url, return_url=cmd.return_url, expires_in_hours=cmd.expires_in_hours,
        allow_cart_edit=cmd.allow_cart_edit,
        accepted_payment_methods=list(cmd.accepted_payment_methods) if cmd.accepted_payment_methods else None,
        metadata_=require_metadata(cmd.metadata), currency=currency, total_amount_atom=total,
    )
    session.add(link)
    session.flush()
    events.record(uow, "payment_link.created", link, views.payment_link(link, uow.outbox.urls), now=now)
    return link


def update(uow: UnitOfWork, owner: Owner, link_id: str, changes: PaymentLinkUpdate) -> PaymentLink:
    link = get_owned(uow.session, PaymentLink, owner, link_id, lock=True)
    checks = Checks()
    validate_update(changes, checks)
    given = changes.given()
    if given.get("coupon_id") is not None:
        with checks.field():
            check_coupon_allowed(link.mode, given["coupon_id"])
            coupon = _owned_or_invalid(uow.session, Coupon, owner, given["coupon_id"], "coupon_id")
            check_coupon(coupon, link.currency, utcnow())
    checks.raise_any()
    changed = False
    was_active = link.is_active
    for name, value in given.items():
        attribute = "metadata_" if name == "metadata" else name
        if getattr(link, attribute) != value:
            setattr(link, attribute, value)
            changed = True
    if changed:
        link.updated_at = utcnow()
    uow.session.flush()
    if changed:
        type_ = "payment_link.deactivated" if was_active and not link.is_active else "payment_link.updated"
        events.record(uow, type_, link, views.payment_link(link, uow.outbox.urls), now=link.updated_at)
    return link


def deactivate(uow: UnitOfWork, owner: Owner, link_id: str) -> PaymentLink:
    """Soft delete: shared URLs stop working, sessions already made are untouched. Repeatable."""
    return update(uow, owner, link_id, PaymentLinkUpdate(is_active=False))


# ---- reading --------------------------------------------------------------------------------

# What a merchant may filter a list of links by (columns of the link).
LIST_FILTERS = ("is_active", "mode", "customer_id")


def get(uow: UnitOfWork, owner: Owner, link_id: str) -> PaymentLink:
    return get_owned(uow.session, PaymentLink, owner, link_id)


def page(uow: UnitOfWork, owner: Owner, query: PageQuery) -> Page:
    """Newest first; `query.filters` may hold any of LIST_FILTERS."""
    unknown = set(query.filters) - set(LIST_FILTERS)
    if unknown:
        raise ValueError(f"not a payment link filter: {sorted(unknown)}")
    return listing.page(uow.session, PaymentLink, owner, query)


def active_share_token(uow: UnitOfWork, link_id: str) -> str | None:
    """The secure token of the link a session was made from, while that link is active (the
    hosted page's "start again" for an expired session)."""
    return uow.session.scalar(select(PaymentLink.secure_token)
                              .where(PaymentLink.id == link_id, PaymentLink.is_active.is_(True)))


@dataclass(frozen=True)
class LinkCounts:
    made: int
    completed: int
    expired: int

    @property
    def open(self) -> int:
        return self.made - self.completed - self.expired

    @property
    def completion_rate(self) -> str:
        """Completed sessions per session made, in percent with one decimal ("—" before the first)."""
        if not self.made:
            return "—"
        tenths = (self.completed * 1000 + self.made // 2) // self.made
        return f"{tenths // 10}.{tenths % 10}%"


def counts(uow: UnitOfWork, owner: Owner, link_id: str, now: datetime) -> LinkCounts:
    """The sessions made from a link, by effective status: an open session is expired from its
    `expires_at` on, whether or not the sweep has recorded it yet."""
    cs = CheckoutSession
    made, completed, gone = uow.session.execute(
        select(func.count(), func.count().filter(status_condition("complete", now)),
               func.count().filter(status_condition("expired", now)))
        .where(cs.account_id == owner.account_id, cs.livemode == owner.livemode, cs.payment_link_id == link_id)
    ).one()
    return LinkCounts(made, completed, gone)
