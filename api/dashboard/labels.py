"""How the dashboard names catalog objects in menus and tables ("Tea — 4.50 USD / month")."""
from __future__ import annotations

from dataclasses import dataclass

from domain import catalog
from domain.currencies import format_atoms
from domain.models import Coupon, Price
from domain.queries import Owner


def every(interval: str | None, count: int | None) -> str:
    """`month, 1` -> "month"; `month, 3` -> "3 months"."""
    return str(interval) if (count or 1) == 1 else f"{count} {interval}s"


def price_amount(price) -> str:
    """"4.50 USD" or "4.50 USD / month": a price as a merchant says it (a Price or a stored line)."""
    amount = format_atoms(price.unit_amount_atom, price.currency)
    return f"{amount} / {every(price.interval, price.interval_count)}" if price.type == "recurring" else amount


def price_label(price: Price, product_name: str) -> str:
    return f"{product_name} — {price_amount(price)}"


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


def names_for(uow, owner: Owner, ids: set[str]) -> dict[str, str]:
    """How the merchant knows each of these ids: a price by "Product — amount", a package,
    coupon or product by its name, a customer by name or email (unknown ids are left out)."""
    by_prefix: dict[str, list[str]] = {}
    for object_id in ids:
        by_prefix.setdefault(object_id.split("_", 1)[0], []).append(object_id)
    names = dict(price_labels(uow, owner, by_prefix["price"])) if by_prefix.get("price") else {}
    for prefix, kind, name in (("pkg", "packages", lambda o: o.name), ("coupon", "coupons", lambda o: o.name),
                               ("prod", "products", lambda o: o.name), ("cus", "customers", customer_label)):
        if by_prefix.get(prefix):
            names.update({i: name(o) for i, o in catalog.by_id(uow, owner, kind, by_prefix[prefix]).items()})
    return names


@dataclass(frozen=True)
class LinkSells:
    """What a link sells, in words: "49.00 USD / month + 15.00 USD once", its packages by name,
    and what of it can no longer be sold (an archived price or package)."""

    amount: str
    packages: list[str]
    archived: list[str]


def link_sells(uow, owner: Owner, links) -> dict[str, LinkSells]:
    """For each link (one query per kind for the whole list)."""
    package_ids = {pid for link in links for pid in (link.package_ids or [])}
    packages = catalog.by_id(uow, owner, "packages", list(package_ids))
    price_ids = {item["price_id"] for link in links for item in link.line_items}
    price_ids |= {p for package in packages.values() for p in package.price_ids}
    prices = catalog.by_id(uow, owner, "prices", list(price_ids))
    names = price_labels(uow, owner, list(price_ids))
    found = {}
    for link in links:
        lines = [(item["price_id"], item["quantity"]) for item in link.line_items]
        lines += [(p, 1) for pid in (link.package_ids or []) if pid in packages for p in packages[pid].price_ids]
        archived = [names.get(pid, pid) for pid, _ in lines if pid not in prices or not prices[pid].active]
        archived += [packages[pid].name for pid in link.package_ids or [] if pid in packages
                     and not packages[pid].active]
        found[link.id] = LinkSells(_amount(link, lines, prices),
                                   [packages[pid].name if pid in packages else pid for pid in link.package_ids or []],
                                   archived)
    return found


def _amount(link, lines, prices) -> str:
    if not link.currency:
        return "—"
    recurring = [(prices[pid], qty) for pid, qty in lines if pid in prices and prices[pid].type == "recurring"]
    if link.mode != "subscription" or not recurring:
        return format_atoms(link.total_amount_atom, link.currency)
    first = recurring[0][0]
    per_period = sum(price.unit_amount_atom * qty for price, qty in recurring)
    text = f"{format_atoms(per_period, link.currency)} / {every(first.interval, first.interval_count)}"
    once = link.total_amount_atom - per_period
    return f"{text} + {format_atoms(once, link.currency)} once" if once else text
