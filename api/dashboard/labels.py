"""How the dashboard names catalog objects in menus and tables ("Tea — 4.50 USD / month")."""
from __future__ import annotations

from domain import catalog
from domain.currencies import format_atoms
from domain.models import Coupon, Price
from domain.queries import Owner


def price_label(price: Price, product_name: str) -> str:
    text = f"{product_name} — {format_atoms(price.unit_amount_atom, price.currency)}"
    if price.type == "recurring":
        every = price.interval if price.interval_count == 1 else f"{price.interval_count} {price.interval}s"
        text += f" / {every}"
    return text


def price_labels(uow, owner: Owner, price_ids: list[str] | None = None, active_only: bool = False) -> dict[str, str]:
    """Price id -> "Product — 10.00 USD / month", newest first."""
    if price_ids is not None and not price_ids:
        return {}
    return {price.id: price_label(price, name)
            for price, name in catalog.prices_with_product_names(uow, owner, price_ids, active_only=active_only)}


def coupon_label(coupon: Coupon) -> str:
    off = (f"{coupon.percent_off.normalize():f}% off" if coupon.percent_off is not None
           else f"{format_atoms(coupon.amount_off_atom, coupon.currency)} off")
    return f"{coupon.name} — {off}"


def card_label(brand: str | None, last4: str | None) -> str:
    """`"Visa •••• 4242"`: how a card is named everywhere (never more of its number)."""
    if not last4:
        return "—"
    return f"{(brand or 'card').replace('_', ' ').title()} •••• {last4}"


def reason_label(reason: str | None) -> str:
    """`requested_by_customer` -> "Requested by customer"."""
    return reason.replace("_", " ").capitalize() if reason else "No reason given"


def customer_label(customer) -> str:
    """A customer by name, else by email."""
    return (customer.name or customer.email) if customer else "the customer"
