"""What the dashboard counts and lists about the catalog and a link's sessions."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.currencies import format_atoms
from domain.expiry import status_condition
from domain.listing import Owner
from domain.models import CheckoutSession, Coupon, Package, Price, Product


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


def link_counts(session: Session, owner: Owner, link_id: str, now: datetime) -> LinkCounts:
    """Counted by effective status: an open session is expired from its `expires_at` on, whether
    or not the sweep has recorded it yet."""
    cs = CheckoutSession
    made, completed, gone = session.execute(
        select(func.count(), func.count().filter(status_condition("complete", now)),
               func.count().filter(status_condition("expired", now)))
        .where(cs.account_id == owner.account_id, cs.livemode == owner.livemode, cs.payment_link_id == link_id)
    ).one()
    return LinkCounts(made, completed, gone)


def _owned(model, owner: Owner):
    return (model.account_id == owner.account_id, model.livemode == owner.livemode)


def price_label(price: Price, product_name: str) -> str:
    text = f"{product_name} — {format_atoms(price.unit_amount_atom, price.currency)}"
    if price.type == "recurring":
        every = price.interval if price.interval_count == 1 else f"{price.interval_count} {price.interval}s"
        text += f" / {every}"
    return text


def price_labels(session: Session, owner: Owner, price_ids: list[str] | None = None,
                 active_only: bool = False, limit: int = 200) -> dict[str, str]:
    """Price id -> "Product — 10.00 USD / month", newest first."""
    stmt = select(Price, Product.name).join(Product, Product.id == Price.product_id).where(*_owned(Price, owner))
    if price_ids is not None:
        stmt = stmt.where(Price.id.in_(price_ids))
    if active_only:
        stmt = stmt.where(Price.active.is_(True), Product.active.is_(True))
    rows = session.execute(stmt.order_by(Price.created_at.desc(), Price.id.desc()).limit(limit))
    return {price.id: price_label(price, name) for price, name in rows}


def coupon_label(coupon: Coupon) -> str:
    off = (f"{coupon.percent_off.normalize():f}% off" if coupon.percent_off is not None
           else f"{format_atoms(coupon.amount_off_atom, coupon.currency)} off")
    return f"{coupon.name} — {off}"


def active_coupons(session: Session, owner: Owner, limit: int = 200) -> list[Coupon]:
    return list(session.scalars(select(Coupon).where(*_owned(Coupon, owner), Coupon.active.is_(True))
                                .order_by(Coupon.created_at.desc(), Coupon.id.desc()).limit(limit)))


def active_packages(session: Session, owner: Owner, limit: int = 200) -> list[Package]:
    return list(session.scalars(select(Package).where(*_owned(Package, owner), Package.active.is_(True))
                                .order_by(Package.created_at.desc(), Package.id.desc()).limit(limit)))


def prices_of(session: Session, owner: Owner, product_id: str) -> list[Price]:
    return list(session.scalars(select(Price).where(*_owned(Price, owner), Price.product_id == product_id)
                                .order_by(Price.created_at.desc(), Price.id.desc())))
