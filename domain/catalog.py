"""Products, prices, packages, coupons and customers: the rules for making them, and using them."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from domain.db import UnitOfWork, utcnow
from domain.errors import Checks, NotFound, invalid
from domain.ids import new_id
from domain import listing
from domain.listing import get_owned
from domain.queries import Owner, Page, PageQuery
from domain.models import Coupon, Customer, Package, Price, Product
from domain.rules import (require_amount, require_currency, require_email, require_int_range, require_metadata,
                          require_text, require_unique)

PRICE_TYPES = ("one_time", "recurring")
INTERVALS = ("day", "week", "month", "year")
# The longest billing period is one year, whatever the unit.
MAX_INTERVAL_COUNT = {"day": 365, "week": 52, "month": 12, "year": 1}
COUPON_DURATIONS = ("once", "repeating", "forever")
MAX_DURATION_IN_MONTHS = 120
PACKAGE_MAX_PRICES = 20
MAX_PRODUCT_DESCRIPTION_CHARS = 5000


@dataclass
class NewProduct:
    name: str
    description: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass
class NewPrice:
    product_id: str
    unit_amount_atom: int
    currency: str
    type: str = "one_time"
    interval: str | None = None
    interval_count: int | None = None


@dataclass
class NewPackage:
    name: str
    price_ids: list[str]


@dataclass
class NewCoupon:
    name: str
    duration: str = "once"
    percent_off: Decimal | None = None
    amount_off_atom: int | None = None
    currency: str | None = None
    duration_in_months: int | None = None
    max_redemptions: int | None = None
    redeem_by: datetime | None = None


@dataclass
class NewCustomer:
    email: str
    name: str | None = None
    metadata: dict[str, Any] | None = None
    test_clock_id: str | None = None  # test mode: the customer lives on this clock (SPEC 8)


def _owned_fields(prefix: str, owner: Owner) -> dict[str, Any]:
    now = utcnow()
    return {"id": new_id(prefix, owner.livemode), "account_id": owner.account_id, "livemode": owner.livemode,
            "created_at": now, "updated_at": now}


def _save(uow: UnitOfWork, obj: Any) -> Any:
    """Stage a new object; the caller commits the unit of work."""
    uow.session.add(obj)
    uow.session.flush()
    return obj


# ---- products -------------------------------------------------------------------------------

def create_product(uow: UnitOfWork, owner: Owner, cmd: NewProduct) -> Product:
    checks = Checks()
    _check_product_fields(checks, {"name": cmd.name, "description": cmd.description, "metadata": cmd.metadata})
    checks.raise_any()
    return _save(uow, Product(**_owned_fields("prod", owner), name=cmd.name, description=cmd.description,
                              metadata_=require_metadata(cmd.metadata), active=True))


def _check_product_fields(checks: Checks, given: dict[str, Any]) -> None:
    if "name" in given:
        with checks.field():
            require_text(given["name"], "name")
    if "description" in given:
        with checks.field():
            require_text(given["description"], "description", MAX_PRODUCT_DESCRIPTION_CHARS, required=False)
    if "metadata" in given:
        with checks.field():
            require_metadata(given["metadata"])


# ---- prices ---------------------------------------------------------------------------------

def validate_price_fields(cmd: NewPrice) -> NewPrice:
    """The rules of a price that need no lookup (all broken ones at once); returns the price with
    defaults filled in."""
    checks = Checks()
    with checks.field():
        require_amount(cmd.unit_amount_atom, "unit_amount_atom")
    with checks.field():
        require_currency(cmd.currency)
    with checks.field():
        _check_schedule(cmd)
    checks.raise_any()
    if cmd.type == "one_time":
        return cmd
    count = 1 if cmd.interval_count is None else cmd.interval_count
    return NewPrice(cmd.product_id, cmd.unit_amount_atom, cmd.currency, cmd.type, cmd.interval, count)


def _check_schedule(cmd: NewPrice) -> None:
    if cmd.type not in PRICE_TYPES:
        raise invalid("type", "type must be one_time or recurring")
    if cmd.type == "one_time":
        if cmd.interval is not None:
            raise invalid("interval", "interval is only for recurring prices")
        if cmd.interval_count is not None:
            raise invalid("interval_count", "interval_count is only for recurring prices")
        return
    if cmd.interval is None:
        raise invalid("interval", "a recurring price needs an interval: day, week, month or year", "parameter_missing")
    if cmd.interval not in INTERVALS:
        raise invalid("interval", "interval must be day, week, month or year")
    count = 1 if cmd.interval_count is None else cmd.interval_count
    require_int_range(count, "interval_count", 1, MAX_INTERVAL_COUNT[cmd.interval])


def create_price(uow: UnitOfWork, owner: Owner, cmd: NewPrice) -> Price:
    cmd = validate_price_fields(cmd)
    try:
        product = get_owned(uow.session, Product, owner, cmd.product_id)
    except NotFound as missing:  # a reference in the body is a bad parameter, not a missing URL
        raise invalid("product_id", missing.message, "resource_missing") from None
    if not product.active:
        raise invalid("product_id", f"product {product.id} is not active")
    return _save(uow, Price(**_owned_fields("price", owner), product_id=product.id,
                            unit_amount_atom=cmd.unit_amount_atom, currency=cmd.currency, type=cmd.type,
                            interval=cmd.interval, interval_count=cmd.interval_count, active=True))


def load_active_prices(uow: UnitOfWork, owner: Owner, price_ids: Sequence[str],
                       params: Sequence[str]) -> list[Price]:
    """The prices in the order given, each existing for this owner and active; `params[i]` names
    the field that chose the i-th one when it is not."""
    found = {p.id: p for p in uow.session.scalars(select(Price).where(
        Price.id.in_(set(price_ids)), Price.account_id == owner.account_id, Price.livemode == owner.livemode))}
    prices, checks = [], Checks()  # every missing or archived one at once, each at its own param
    for price_id, param in zip(price_ids, params, strict=True):
        price = found.get(price_id)
        with checks.field():
            if price is None:
                raise invalid(param, f"No such price: {price_id!r}", "resource_missing")
            if not price.active:
                raise invalid(param, f"price {price_id} is not active")
        prices.append(price)
    checks.raise_any()
    return prices


# ---- packages -------------------------------------------------------------------------------

def create_package(uow: UnitOfWork, owner: Owner, cmd: NewPackage) -> Package:
    checks = Checks()
    with checks.field():
        require_text(cmd.name, "name")
    with checks.field():
        currency = _package_currency(uow, owner, cmd.price_ids)
    checks.raise_any()
    return _save(uow, Package(**_owned_fields("pkg", owner), name=cmd.name, price_ids=list(cmd.price_ids),
                              currency=currency, active=True))


def _package_currency(uow: UnitOfWork, owner: Owner, price_ids: list[str]) -> str:
    if not 1 <= len(price_ids) <= PACKAGE_MAX_PRICES:
        raise invalid("price_ids", f"a package has 1 to {PACKAGE_MAX_PRICES} prices")
    require_unique(price_ids, "price_ids")
    prices = load_active_prices(uow, owner, price_ids, [f"price_ids[{i}]" for i in range(len(price_ids))])
    currency = prices[0].currency
    for index, price in enumerate(prices):
        if price.currency != currency:
            raise invalid(f"price_ids[{index}]", f"all prices of a package share one currency ({currency}); "
                                                 f"{price.id} is in {price.currency}")
    return currency


# ---- coupons --------------------------------------------------------------------------------

def validate_coupon_fields(cmd: NewCoupon, now: datetime) -> None:
    """Every rule of a new coupon; all broken ones at once."""
    checks = Checks()
    with checks.field():
        require_text(cmd.name, "name")
    with checks.field():
        _check_discount(cmd)
    with checks.field():
        _check_duration(cmd)
    if cmd.max_redemptions is not None:
        with checks.field():
            require_int_range(cmd.max_redemptions, "max_redemptions", 1, 1_000_000_000)
    if cmd.redeem_by is not None:
        with checks.field():
            if cmd.redeem_by.tzinfo is None:
                raise invalid("redeem_by", "redeem_by must carry a time zone (RFC 3339)")
            if cmd.redeem_by <= now:
                raise invalid("redeem_by", "redeem_by must be in the future", "time_passed")
    checks.raise_any()


def _check_discount(cmd: NewCoupon) -> None:
    if (cmd.percent_off is None) == (cmd.amount_off_atom is None):
        raise invalid("percent_off", "a coupon has either percent_off or amount_off_atom (with currency)")
    if cmd.percent_off is not None:
        if not Decimal(0) < cmd.percent_off <= Decimal(100):
            raise invalid("percent_off", "percent_off must be greater than 0 and at most 100")
        if cmd.percent_off != cmd.percent_off.quantize(Decimal("0.01")):
            raise invalid("percent_off", "percent_off has at most two decimal places")
        if cmd.currency is not None:
            raise invalid("currency", "currency goes with amount_off_atom, not percent_off")
    else:
        require_amount(cmd.amount_off_atom, "amount_off_atom", minimum=1)
        require_currency(cmd.currency)


def _check_duration(cmd: NewCoupon) -> None:
    if cmd.duration not in COUPON_DURATIONS:
        raise invalid("duration", "duration must be once, repeating or forever")
    if cmd.duration == "repeating":
        if cmd.duration_in_months is None:
            raise invalid("duration_in_months", "a repeating coupon needs duration_in_months", "parameter_missing")
        require_int_range(cmd.duration_in_months, "duration_in_months", 1, MAX_DURATION_IN_MONTHS)
    elif cmd.duration_in_months is not None:
        raise invalid("duration_in_months", "duration_in_months is only for repeating coupons")


def create_coupon(uow: UnitOfWork, owner: Owner, cmd: NewCoupon) -> Coupon:
    now = utcnow()
    validate_coupon_fields(cmd, now)
    return _save(uow, Coupon(**_owned_fields("coupon", owner), name=cmd.name, percent_off=cmd.percent_off,
                             amount_off_atom=cmd.amount_off_atom, currency=cmd.currency, duration=cmd.duration,
                             duration_in_months=cmd.duration_in_months, max_redemptions=cmd.max_redemptions,
                             redeem_by=cmd.redeem_by.astimezone(UTC) if cmd.redeem_by else None,
                             times_redeemed=0, active=True))


def coupon_is_redeemable(coupon: Coupon, now: datetime) -> bool:
    return redeemable(coupon.active, coupon.redeem_by, coupon.max_redemptions, coupon.times_redeemed, now)


def redeemable(active: bool, redeem_by: datetime | None, max_redemptions: int | None, times_redeemed: int,
               now: datetime) -> bool:
    """Active, not past `redeem_by`, and not yet redeemed `max_redemptions` times."""
    if not active:
        return False
    if redeem_by is not None and redeem_by <= now:
        return False
    return max_redemptions is None or times_redeemed < max_redemptions


# ---- customers ------------------------------------------------------------------------------

def create_customer(uow: UnitOfWork, owner: Owner, cmd: NewCustomer) -> Customer:
    require_email(cmd.email)
    require_text(cmd.name, "name", required=False)
    metadata = require_metadata(cmd.metadata)
    from domain import events, test_clocks, views  # events import the views, which read sessions, which read the catalog

    if cmd.test_clock_id is not None:
        if owner.livemode:
            raise invalid("test_clock_id", "Test clocks exist in test mode only.", "livemode_mismatch")
        try:
            test_clocks.get(uow, owner, cmd.test_clock_id, param="test_clock_id")
        except NotFound as missing:
            raise invalid("test_clock_id", missing.message, "resource_missing") from None
    customer = _save(uow, Customer(**_owned_fields("cus", owner), email=cmd.email, name=cmd.name,
                                   metadata_=metadata, test_clock_id=cmd.test_clock_id))

    events.record(uow, "customer.created", customer, views.customer(customer), now=customer.created_at)
    return customer


# ---- changing -------------------------------------------------------------------------------

# What may change after creation, by kind: never an amount, a currency or a schedule (links and
# sessions rely on a price's amount never changing), only names, descriptions and `active`.
EDITABLE: dict[str, tuple[str, ...]] = {
    "products": ("name", "description", "metadata", "active"),
    "prices": ("active",),
    "packages": ("name", "active"),
    "coupons": ("name", "active"),
}


def update(uow: UnitOfWork, owner: Owner, kind: str, object_id: str, changes: dict[str, Any]) -> Any:
    """Change a catalog object's editable fields (`changes` holds only those given). Repeating it
    is harmless; a field it may not change is a 400 naming it, and nothing changes."""
    obj = get_owned(uow.session, KINDS[kind], owner, object_id, lock=True)
    checks = Checks()
    for name in changes:
        if name not in EDITABLE[kind]:
            with checks.field():
                raise invalid(name, f"{name} cannot be changed; make a new {kind[:-1]} instead")
    if kind == "products":
        _check_product_fields(checks, changes)
    elif "name" in changes:
        with checks.field():
            require_text(changes["name"], "name")
    if "active" in changes and not isinstance(changes["active"], bool):
        with checks.field():
            raise invalid("active", "active must be true or false")
    checks.raise_any()
    changed = False
    for name, value in changes.items():
        attribute = "metadata_" if name == "metadata" else name
        value = require_metadata(value) if name == "metadata" else value
        if getattr(obj, attribute) != value:
            setattr(obj, attribute, value)
            changed = True
    if changed:
        obj.updated_at = utcnow()
    uow.session.flush()
    return obj


def set_active(uow: UnitOfWork, owner: Owner, kind: str, object_id: str, active: bool) -> Any:
    """Deactivate (archive) or reactivate a product, price, package or coupon. Repeatable."""
    return update(uow, owner, kind, object_id, {"active": active})


# ---- reading --------------------------------------------------------------------------------

# The catalog's nouns by their API name; `get`, `page` and `set_active` take one of these.
KINDS: dict[str, type] = {"products": Product, "prices": Price, "packages": Package, "coupons": Coupon,
                          "customers": Customer}
ACTIVATABLE = ("products", "prices", "packages", "coupons")


def get(uow: UnitOfWork, owner: Owner, kind: str, object_id: str) -> Any:
    return get_owned(uow.session, KINDS[kind], owner, object_id)


def page(uow: UnitOfWork, owner: Owner, kind: str, query: PageQuery) -> Page:
    return listing.page(uow.session, KINDS[kind], owner, query)


def _owned(model: type, owner: Owner) -> tuple:
    return (model.account_id == owner.account_id, model.livemode == owner.livemode)


def prices_with_product_names(uow: UnitOfWork, owner: Owner, price_ids: Sequence[str] | None = None, *,
                              active_only: bool = False, limit: int = 200) -> list[tuple[Price, str]]:
    """Prices (these, or the newest `limit`) each with its product's name, newest first;
    `active_only`: only those a new link may use (the price and its product active)."""
    stmt = select(Price, Product.name).join(Product, Product.id == Price.product_id).where(*_owned(Price, owner))
    if price_ids is not None:
        stmt = stmt.where(Price.id.in_(set(price_ids)))
    if active_only:
        stmt = stmt.where(Price.active.is_(True), Product.active.is_(True))
    return [(price, name) for price, name in
            uow.session.execute(stmt.order_by(Price.created_at.desc(), Price.id.desc()).limit(limit))]


def prices_of_product(uow: UnitOfWork, owner: Owner, product_id: str) -> list[Price]:
    return list(uow.session.scalars(select(Price).where(*_owned(Price, owner), Price.product_id == product_id)
                                    .order_by(Price.created_at.desc(), Price.id.desc())))


def active_coupons(uow: UnitOfWork, owner: Owner, limit: int = 200) -> list[Coupon]:
    return list(uow.session.scalars(select(Coupon).where(*_owned(Coupon, owner), Coupon.active.is_(True))
                                    .order_by(Coupon.created_at.desc(), Coupon.id.desc()).limit(limit)))


def active_packages(uow: UnitOfWork, owner: Owner, limit: int = 200) -> list[Package]:
    return list(uow.session.scalars(select(Package).where(*_owned(Package, owner), Package.active.is_(True))
                                    .order_by(Package.created_at.desc(), Package.id.desc()).limit(limit)))


def by_id(uow: UnitOfWork, owner: Owner, kind: str, ids: Sequence[str]) -> dict[str, Any]:
    """These objects of one kind (those that exist for this owner), by id."""
    if not ids:
        return {}
    model = KINDS[kind]
    return {o.id: o for o in uow.session.scalars(select(model).where(*_owned(model, owner), model.id.in_(set(ids))))}


def product_names(uow: UnitOfWork, owner: Owner, product_ids: Sequence[str]) -> dict[str, str]:
    return {pid: product.name for pid, product in by_id(uow, owner, "products", product_ids).items()}


def prices_of_products(uow: UnitOfWork, owner: Owner, limit: int = 1000) -> dict[str, list[Price]]:
    """Product id -> its prices, active first, then newest first (for a list of products)."""
    found: dict[str, list[Price]] = {}
    for price in uow.session.scalars(select(Price).where(*_owned(Price, owner))
                                     .order_by(Price.active.desc(), Price.created_at.desc()).limit(limit)):
        found.setdefault(price.product_id, []).append(price)
    return found
