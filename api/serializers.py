"""Serializers: stored objects -> the API's response shapes (api/schemas.py)."""
from __future__ import annotations

from api import schemas
from domain import accounts, checkout_sessions, models
from domain.processors import ProcessorChoice


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
    return schemas.CustomerOut(**_owned(c), email=c.email, name=c.name, metadata=c.metadata_,
                               test_clock_id=c.test_clock_id)


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


def checkout_session(s: models.CheckoutSession, checkout_base_url: str, now) -> schemas.CheckoutSessionOut:
    """The session as every reader sees it at `now` (its effective status)."""
    return schemas.CheckoutSessionOut(
        id=s.id, payment_link_id=s.payment_link_id, mode=s.mode, status=checkout_sessions.effective_status(s, now),
        line_items=[schemas.CheckoutSessionLineItemOut(
            price_id=line["price_id"], description=line.get("description"), quantity=line["quantity"],
            unit_amount_atom=line["unit_amount_atom"], currency=line["currency"], type=line["type"],
            interval=line.get("interval"), interval_count=line.get("interval_count"), amount_atom=line["amount_atom"])
            for line in s.line_items],
        currency=s.currency, amount_subtotal_atom=s.amount_subtotal_atom, amount_discount_atom=s.amount_discount_atom,
        amount_total_atom=s.amount_total_atom, amount_due_today_atom=s.amount_due_today_atom,
        customer_id=s.customer_id, coupon_id=s.coupon_id, free_trial_days=s.free_trial_days,
        success_url=s.success_url, return_url=s.return_url,
        accepted_payment_methods=list(s.accepted_payment_methods) if s.accepted_payment_methods else None,
        allow_cart_edit=s.allow_cart_edit, checkout_url=f"{checkout_base_url}/checkout/{s.checkout_token}",
        expires_at=s.expires_at, created_at=s.created_at, completed_at=s.completed_at,
        expired_at=checkout_sessions.effective_expired_at(s, now), livemode=s.livemode,
        customer_email=s.customer_email, payment_id=s.payment_id, payment_method_id=s.payment_method_id,
        subscription_id=s.subscription_id, payment_status=s.payment_status)


def refund(r: models.Refund) -> schemas.RefundOut:
    return schemas.RefundOut(id=r.id, payment_id=r.payment_id, amount_atom=r.amount_atom, currency=r.currency,
                             status=r.status, reason=r.reason, failure_code=r.failure_code, livemode=r.livemode,
                             created_at=r.created_at, updated_at=r.updated_at)


def _card(brand: str, last4: str, exp_month: int, exp_year: int) -> schemas.CardOut:
    return schemas.CardOut(brand=brand, last4=last4, exp_month=exp_month, exp_year=exp_year)


def payment(p: models.Payment, refunds: list[models.Refund]) -> schemas.PaymentOut:
    """The payment with its refunds (oldest first); of its card only what CardOut holds."""
    details = schemas.PaymentMethodDetailsOut(type="card", card=_card(
        p.card["brand"], p.card["last4"], p.card["exp_month"], p.card["exp_year"])) if p.card else None
    return schemas.PaymentOut(
        id=p.id, checkout_session_id=p.checkout_session_id, customer_id=p.customer_id, amount_atom=p.amount_atom,
        currency=p.currency, status=p.status, failure_code=p.failure_code, failure_message=p.failure_message,
        payment_method_id=p.payment_method_id, payment_method_details=details, processor=p.processor,
        processor_reference=p.processor_reference, amount_refunded_atom=p.amount_refunded_atom,
        invoice_id=p.invoice_id, refunds=[refund(r) for r in refunds], livemode=p.livemode, created_at=p.created_at, updated_at=p.updated_at)


def payment_method(m: models.PaymentMethod) -> schemas.PaymentMethodOut:
    return schemas.PaymentMethodOut(id=m.id, customer_id=m.customer_id, type=m.type,
                                    card=_card(m.card_brand, m.card_last4, m.card_exp_month, m.card_exp_year),
                                    processor=m.processor, livemode=m.livemode, created_at=m.created_at)


def account(a: models.Account) -> schemas.AccountOut:
    return schemas.AccountOut(id=a.id, name=a.name, display_name=accounts.display_name_of(a),
                              support_email=a.support_email, brand_color=a.brand_color, created_at=a.created_at)


def processor_setting(c: ProcessorChoice) -> schemas.ProcessorSettingOut:
    """A mode's processor choice; its secrets come masked from the domain (processors.choice)."""
    return schemas.ProcessorSettingOut(livemode=c.livemode, processor=c.processor, publishable_key=c.publishable_key,
                                       secret_key=c.secret_key, webhook_secret=c.webhook_secret,
                                       updated_at=c.updated_at)


def subscription(s: models.Subscription) -> schemas.SubscriptionOut:
    return schemas.SubscriptionOut(
        id=s.id, customer_id=s.customer_id, checkout_session_id=s.checkout_session_id,
        payment_link_id=s.payment_link_id, status=s.status,
        items=[schemas.SubscriptionItemOut(price_id=item["price_id"], quantity=item["quantity"],
                                           description=item.get("description"),
                                           unit_amount_atom=item["unit_amount_atom"]) for item in s.items],
        currency=s.currency, interval=s.interval, interval_count=s.interval_count,
        current_period_start=s.current_period_start, current_period_end=s.current_period_end, trial_end=s.trial_end,
        cancel_at_period_end=s.cancel_at_period_end, canceled_at=s.canceled_at,
        default_payment_method_id=s.default_payment_method_id, latest_invoice_id=s.latest_invoice_id,
        coupon_id=s.coupon_id, test_clock_id=s.test_clock_id, livemode=s.livemode, created_at=s.created_at,
        updated_at=s.updated_at)


def invoice(i: models.Invoice) -> schemas.InvoiceOut:
    return schemas.InvoiceOut(
        id=i.id, subscription_id=i.subscription_id, customer_id=i.customer_id, period_start=i.period_start,
        period_end=i.period_end, lines=[schemas.InvoiceLineOut(
            price_id=line["price_id"], description=line.get("description"), quantity=line["quantity"],
            unit_amount_atom=line["unit_amount_atom"], currency=line["currency"], amount_atom=line["amount_atom"])
            for line in i.lines],
        currency=i.currency, amount_subtotal_atom=i.amount_subtotal_atom, amount_discount_atom=i.amount_discount_atom,
        amount_total_atom=i.amount_total_atom, status=i.status, attempt_count=i.attempt_count,
        next_attempt_at=i.next_attempt_at, payment_id=i.payment_id, paid_at=i.paid_at, test_clock_id=i.test_clock_id,
        livemode=i.livemode, created_at=i.created_at, updated_at=i.updated_at)


def test_clock(c: models.TestClock) -> schemas.TestClockOut:
    return schemas.TestClockOut(id=c.id, name=c.name, frozen_time=c.frozen_time, status=c.status,
                                livemode=c.livemode, created_at=c.created_at, updated_at=c.updated_at)
