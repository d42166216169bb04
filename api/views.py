"""Stored objects -> response shapes."""
from __future__ import annotations

from api import schemas
from domain import models


def _owned(obj) -> dict:
    return {"id": obj.id, "livemode": obj.livemode, "created_at": obj.created_at, "updated_at": obj.updated_at}


def product(p: models.Product) -> schemas.ProductOut:
    return schemas.ProductOut(**_owned(p), name=p.name, description=p.description, metadata=p.metadata_,
                              active=p.active)


def price(p: models.Price) -> schemas.PriceOut:
    return schemas.PriceOut(**_owned(p), product_id=p.product_id, unit_amount_atom=p.unit_amount_atom,
                            currency=p.currency, type=p.type, interval=p.interval, interval_count=p.interval_count,
                            active=p.active)


def package(p: models.Package) -> schemas.PackageOut:
    return schemas.PackageOut(**_owned(p), name=p.name, price_ids=list(p.price_ids), currency=p.currency,
                              active=p.active)


def coupon(c: models.Coupon) -> schemas.CouponOut:
    return schemas.CouponOut(**_owned(c), name=c.name,
                             percent_off=float(c.percent_off) if c.percent_off is not None else None,
                             amount_off_atom=c.amount_off_atom, currency=c.currency, duration=c.duration,
                             duration_in_months=c.duration_in_months, max_redemptions=c.max_redemptions,
                             redeem_by=c.redeem_by, times_redeemed=c.times_redeemed, active=c.active)


def customer(c: models.Customer) -> schemas.CustomerOut:
    return schemas.CustomerOut(**_owned(c), email=c.email, name=c.name, metadata=c.metadata_)


def payment_link(link: models.PaymentLink, public_base_url: str) -> schemas.PaymentLinkOut:
    return schemas.PaymentLinkOut(
        id=link.id, secure_token=link.secure_token, url=f"{public_base_url}/api/pay/share/{link.secure_token}",
        name=link.name, mode=link.mode, is_active=link.is_active,
        line_items=[schemas.PaymentLinkLineItemOut(**item) for item in link.line_items],
        package_ids=list(link.package_ids or []), total_amount_atom=link.total_amount_atom, currency=link.currency,
        expires_in_hours=link.expires_in_hours, success_url=link.success_url, return_url=link.return_url,
        customer_id=link.customer_id, coupon_id=link.coupon_id, free_trial_days=link.free_trial_days,
        allow_cart_edit=link.allow_cart_edit,
        accepted_payment_methods=list(link.accepted_payment_methods) if link.accepted_payment_methods else None,
        metadata=link.metadata_, livemode=link.livemode, created_at=link.created_at, updated_at=link.updated_at)
