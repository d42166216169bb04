"""The stored objects, as SQLAlchemy 2 typed mappings. The schema itself comes from migrations/."""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, Numeric, String, Text, UniqueConstraint,
                        text)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import DateTime, TypeDecorator


class UtcDateTime(TypeDecorator):
    """timestamptz read back in UTC, whatever the database session's TimeZone is."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value, dialect):
        return value.astimezone(UTC) if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSONB,
        list[str]: ARRAY(String),
        list[dict[str, Any]]: JSONB,
        dict[str, Any] | None: JSONB,
        int: Integer,
    }


class Mode(StrEnum):
    """What a payment link (and each session made from it) does: the seed's three modes."""

    PAYMENT = "payment"            # a one-time charge
    SUBSCRIPTION = "subscription"  # recurring billing
    SETUP = "setup"                # collect a payment method, charge nothing


class SessionStatus(StrEnum):
    """A checkout session's stored status (readers see `expired` from `expires_at` on)."""

    OPEN = "open"
    COMPLETE = "complete"
    EXPIRED = "expired"


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    # What customers see on the hosted checkout (SPEC 10); the name when unset.
    display_name: Mapped[str | None] = mapped_column(String(255))
    support_email: Mapped[str | None] = mapped_column(String(512))
    brand_color: Mapped[str | None] = mapped_column(String(7))


class ApiKey(Base):
    """Only the SHA-256 of a key is stored; the key itself is shown once at creation."""

    __tablename__ = "api_keys"
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)  # `key_live_...`: names the key without its secret
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    livemode: Mapped[bool]
    created_at: Mapped[datetime]
    last4: Mapped[str | None] = mapped_column(String(4))  # None for keys made before it was kept
    last_used_at: Mapped[datetime | None]  # to the minute (domain/api_keys.py)
    revoked_at: Mapped[datetime | None]  # a revoked key authenticates nothing


class _Owned:
    """Columns every merchant object has: its owner, its mode and its timestamps."""

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    livemode: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Product(_Owned, Base):
    __tablename__ = "products"
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata")
    active: Mapped[bool]
    __table_args__ = (Index("products_list", "account_id", "livemode", text("created_at DESC"), text("id DESC")),)


class Price(_Owned, Base):
    __tablename__ = "prices"
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    unit_amount_atom: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    type: Mapped[str] = mapped_column(String(16))
    interval: Mapped[str | None] = mapped_column(String(8))
    interval_count: Mapped[int | None]
    active: Mapped[bool]
    __table_args__ = (Index("prices_list", "account_id", "livemode", text("created_at DESC"), text("id DESC")),)


class Package(_Owned, Base):
    __tablename__ = "packages"
    name: Mapped[str] = mapped_column(String(255))
    price_ids: Mapped[list[str]]
    currency: Mapped[str] = mapped_column(String(3))
    active: Mapped[bool]
    __table_args__ = (Index("packages_list", "account_id", "livemode", text("created_at DESC"), text("id DESC")),)


class Coupon(_Owned, Base):
    __tablename__ = "coupons"
    name: Mapped[str] = mapped_column(String(255))
    percent_off: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    amount_off_atom: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    duration: Mapped[str] = mapped_column(String(16))
    duration_in_months: Mapped[int | None]
    max_redemptions: Mapped[int | None]
    redeem_by: Mapped[datetime | None]
    times_redeemed: Mapped[int]
    active: Mapped[bool]
    __table_args__ = (Index("coupons_list", "account_id", "livemode", text("created_at DESC"), text("id DESC")),)


class Customer(_Owned, Base):
    __tablename__ = "customers"
    email: Mapped[str] = mapped_column(String(512))
    name: Mapped[str | None] = mapped_column(String(255))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata")
    # The same customer at Stripe (cus_… of the merchant's Stripe account), made at its first payment there.
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    # A test-mode customer may live on a test clock: its subscriptions bill on the clock's time.
    test_clock_id: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (Index("customers_list", "account_id", "livemode", text("created_at DESC"), text("id DESC")),
                      # Checkout reuses a customer by email, case-insensitively.
                      Index("customers_by_email", "account_id", "livemode", text("lower(email)")))


class IdempotencyKey(Base):
    """The first response to a write made with an `Idempotency-Key`, kept for 24 hours. A key is
    the account's in one mode: live and test keys never share one, as they share no object."""

    __tablename__ = "idempotency_keys"
    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    livemode: Mapped[bool] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None]
    body: Mapped[bytes | None]
    created_at: Mapped[datetime] = mapped_column(index=True)


class PaymentLink(_Owned, Base):
    """A shareable URL's settings. `line_items` is stored expanded (amounts are fixed per price)."""

    __tablename__ = "payment_links"
    secure_token: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    mode: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool]
    line_items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    package_ids: Mapped[list[str] | None]
    customer_id: Mapped[str | None] = mapped_column(String(64))
    coupon_id: Mapped[str | None] = mapped_column(String(64))
    free_trial_days: Mapped[int | None]
    success_url: Mapped[str | None] = mapped_column(Text)
    return_url: Mapped[str | None] = mapped_column(Text)
    expires_in_hours: Mapped[int]
    allow_cart_edit: Mapped[bool]
    accepted_payment_methods: Mapped[list[str] | None]
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata")
    currency: Mapped[str | None] = mapped_column(String(3))
    total_amount_atom: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (
        Index("payment_links_list", "account_id", "livemode", text("created_at DESC"), text("id DESC")),
        Index("payment_links_by_active", "account_id", "livemode", "is_active", text("created_at DESC"), text("id DESC")),
        Index("payment_links_by_mode", "account_id", "livemode", "mode", text("created_at DESC"), text("id DESC")),
        Index("payment_links_by_customer", "account_id", "livemode", "customer_id", text("created_at DESC"),
              text("id DESC")),
    )


class CheckoutSession(_Owned, Base):
    """One customer's checkout, made from a link: a snapshot of what it sells, at creation."""

    __tablename__ = "checkout_sessions"
    payment_link_id: Mapped[str] = mapped_column(String(64))
    checkout_token: Mapped[str] = mapped_column(String(64), unique=True)
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    line_items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    currency: Mapped[str | None] = mapped_column(String(3))
    amount_subtotal_atom: Mapped[int] = mapped_column(BigInteger)
    amount_discount_atom: Mapped[int] = mapped_column(BigInteger)
    amount_total_atom: Mapped[int] = mapped_column(BigInteger)
    amount_due_today_atom: Mapped[int] = mapped_column(BigInteger)
    customer_id: Mapped[str | None] = mapped_column(String(64))
    coupon_id: Mapped[str | None] = mapped_column(String(64))
    # The coupon's terms as they were when the session was made (percent_off or amount_off_atom).
    coupon: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    free_trial_days: Mapped[int | None]
    success_url: Mapped[str | None] = mapped_column(Text)
    return_url: Mapped[str | None] = mapped_column(Text)
    accepted_payment_methods: Mapped[list[str] | None]
    allow_cart_edit: Mapped[bool]
    expires_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    expired_at: Mapped[datetime | None]
    # Paying (SPEC 7). `payment_id` is the payment under way or the one that paid: while it is
    # set and not paid, the session stays open (a charge in flight is not cut off by expiry).
    customer_email: Mapped[str | None] = mapped_column(String(512))
    payment_id: Mapped[str | None] = mapped_column(String(64))
    payment_method_id: Mapped[str | None] = mapped_column(String(64))
    subscription_id: Mapped[str | None] = mapped_column(String(64))
    payment_status: Mapped[str] = mapped_column(String(24), server_default="unpaid")
    failed_attempts: Mapped[int] = mapped_column(server_default="0")
    # One redemption of the coupon is held while a payment is under way (released if it fails).
    coupon_redeemed: Mapped[bool] = mapped_column(server_default="false")
    # The customer's locale as their browser said at Pay (receipts show amounts in it).
    locale: Mapped[str | None] = mapped_column(String(35))
    # A setup checkout whose card-saving answer was lost: when to ask the processor again (a
    # payment's own next_check_at does this for the other modes).
    method_check_at: Mapped[datetime | None]
    __table_args__ = (
        Index("checkout_sessions_list", "account_id", "livemode", text("created_at DESC"), text("id DESC")),
        Index("checkout_sessions_by_link", "account_id", "livemode", "payment_link_id", text("created_at DESC"),
              text("id DESC")),
        Index("checkout_sessions_by_status", "account_id", "livemode", "status", text("created_at DESC"),
              text("id DESC")),
        # The expiry sweep reads open sessions by expires_at; the partial index holds only those.
        Index("checkout_sessions_open_by_expiry", "expires_at", postgresql_where=text("status = 'open'")),
        Index("checkout_sessions_due_for_method_check", "method_check_at",
              postgresql_where=text("method_check_at IS NOT NULL")),
    )


class User(Base):
    """A person who signs in to the dashboard of one account (Argon2 hash of the password only)."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    email: Mapped[str] = mapped_column(String(512), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]


class WebSession(Base):
    """A signed-in dashboard session. The id is the SHA-256 of the cookie's random token, so the
    table alone never lets anyone act as a user."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    livemode: Mapped[bool]
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ProcessorSetting(Base):
    """Which processor takes an account's payments in one mode, with its keys; the secrets
    are encrypted with a key from the settings (PAYMENTKIT_ENCRYPTION_KEY)."""

    __tablename__ = "processor_settings"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    livemode: Mapped[bool] = mapped_column(primary_key=True)
    processor: Mapped[str] = mapped_column(String(16))
    publishable_key: Mapped[str | None] = mapped_column(String(255))
    secret_key_encrypted: Mapped[bytes | None]
    webhook_secret_encrypted: Mapped[bytes | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PaymentMethod(_Owned, Base):
    """A card saved to a customer. Never a full number or CVC: brand, last four and expiry."""

    __tablename__ = "payment_methods"
    customer_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    card_brand: Mapped[str] = mapped_column(String(32))
    card_last4: Mapped[str] = mapped_column(String(4))
    card_exp_month: Mapped[int]
    card_exp_year: Mapped[int]
    processor: Mapped[str] = mapped_column(String(16))
    processor_reference: Mapped[str] = mapped_column(String(255))
    __table_args__ = (Index("payment_methods_by_customer", "account_id", "livemode", "customer_id",
                            text("created_at DESC"), text("id DESC")),
                      # One of ours per method saved at a processor (a recorded save, repeated, makes none).
                      Index("payment_methods_by_reference", "processor", "processor_reference", unique=True))


class Payment(_Owned, Base):
    """One attempt to take money. Its id is the idempotency key of every processor call for it."""

    __tablename__ = "payments"
    checkout_session_id: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    amount_atom: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    payment_method_id: Mapped[str | None] = mapped_column(String(64))
    card: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # brand, last4, exp_month, exp_year
    processor: Mapped[str] = mapped_column(String(16))
    processor_reference: Mapped[str | None] = mapped_column(String(255))
    action_url: Mapped[str | None] = mapped_column(Text)
    amount_refunded_atom: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # Due work for the reconcile sweep: when to ask the processor again about an open outcome.
    next_check_at: Mapped[datetime | None]
    checks: Mapped[int] = mapped_column(server_default="0")
    # The invoice this payment is an attempt to pay (a renewal charged off-session), if any.
    invoice_id: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (
        Index("payments_list", "account_id", "livemode", text("created_at DESC"), text("id DESC")),
        Index("payments_by_session", "checkout_session_id"),
        Index("payments_by_customer", "account_id", "livemode", "customer_id", text("created_at DESC"),
              text("id DESC")),
        # At most one payment of a session is under way or paid: two Pay clicks never charge twice.
        Index("payments_one_live_per_session", "checkout_session_id", unique=True,
              postgresql_where=text("status IN ('processing', 'requires_action', 'succeeded')")),
        Index("payments_due_for_check", "next_check_at",
              postgresql_where=text("status IN ('processing', 'requires_action')")),
        Index("payments_by_invoice", "invoice_id", postgresql_where=text("invoice_id IS NOT NULL")),
        # At most one payment of an invoice is under way or paid: no renewal is charged twice.
        Index("payments_one_live_per_invoice", "invoice_id", unique=True,
              postgresql_where=text("invoice_id IS NOT NULL AND status IN ('processing', 'requires_action', 'succeeded')")),
    )


class Refund(_Owned, Base):
    """Money given back on a payment; its id is the processor call's idempotency key."""

    __tablename__ = "refunds"
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"))
    amount_atom: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    processor_reference: Mapped[str | None] = mapped_column(String(255))
    next_check_at: Mapped[datetime | None]  # a pending refund whose outcome the processor has not told
    __table_args__ = (Index("refunds_by_payment", "payment_id", "created_at"),
                      Index("refunds_due_for_check", "next_check_at", postgresql_where=text("status = 'pending'")))


class TestProcessorOperation(Base):
    """The built-in test processor's own books (domain/payments/builtin.py's Operation): one
    row per idempotency key, as a real processor keeps them on its side."""

    __test__ = False
    __tablename__ = "test_processor_operations"
    idempotency_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(64), unique=True)
    outcome: Mapped[str] = mapped_column(String(16))
    amount_atom: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    customer_reference: Mapped[str | None] = mapped_column(String(64))
    payment_method_reference: Mapped[str | None] = mapped_column(String(64), index=True)
    charge_reference: Mapped[str | None] = mapped_column(String(64), index=True)
    off_session: Mapped[bool]
    card: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    behavior: Mapped[str | None] = mapped_column(String(32))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    challenge_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    return_url: Mapped[str | None] = mapped_column(Text)
    never_submitted: Mapped[bool]
    created_at: Mapped[datetime]


class Subscription(_Owned, Base):
    """Recurring billing made by a subscription-mode checkout (SPEC 8)."""

    __tablename__ = "subscriptions"
    customer_id: Mapped[str] = mapped_column(String(64))
    checkout_session_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    payment_link_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)  # the recurring lines and quantities
    currency: Mapped[str] = mapped_column(String(3))
    interval: Mapped[str] = mapped_column(String(8))
    interval_count: Mapped[int]
    current_period_start: Mapped[datetime]
    current_period_end: Mapped[datetime]
    trial_end: Mapped[datetime | None]
    cancel_at_period_end: Mapped[bool]
    canceled_at: Mapped[datetime | None]
    default_payment_method_id: Mapped[str | None] = mapped_column(String(64))
    latest_invoice_id: Mapped[str | None] = mapped_column(String(64))
    coupon_id: Mapped[str | None] = mapped_column(String(64))
    coupon: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # the coupon's terms and duration, as sold
    test_clock_id: Mapped[str | None] = mapped_column(String(64))  # its customer's clock
    # Due work (domain/billing.py): when the current period (or trial) ends and the next invoice is
    # made, or it is canceled at period end. None while an invoice is being collected, or once canceled.
    next_billing_at: Mapped[datetime | None]
    __table_args__ = (
        Index("subscriptions_list", "account_id", "livemode", text("created_at DESC"), text("id DESC")),
        Index("subscriptions_by_customer", "account_id", "livemode", "customer_id", text("created_at DESC"),
              text("id DESC")),
        Index("subscriptions_by_status", "account_id", "livemode", "status", text("created_at DESC"), text("id DESC")),
        Index("subscriptions_by_link", "account_id", "livemode", "payment_link_id", text("created_at DESC"),
              text("id DESC")),
        Index("subscriptions_due", "next_billing_at",
              postgresql_where=text("next_billing_at IS NOT NULL AND test_clock_id IS NULL")),
        Index("subscriptions_due_on_clock", "test_clock_id", "next_billing_at",
              postgresql_where=text("next_billing_at IS NOT NULL AND test_clock_id IS NOT NULL")),
    )


class Invoice(_Owned, Base):
    """What one period of a subscription costs, and its collection (SPEC 8): one per subscription
    and period (a unique key), charged off-session; `next_attempt_at` is its due work."""

    __tablename__ = "invoices"
    subscription_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(64))
    test_clock_id: Mapped[str | None] = mapped_column(String(64))
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    currency: Mapped[str] = mapped_column(String(3))
    amount_subtotal_atom: Mapped[int] = mapped_column(BigInteger)
    amount_discount_atom: Mapped[int] = mapped_column(BigInteger)
    amount_total_atom: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # open, paid, void, uncollectible
    attempt_count: Mapped[int]  # charges that reached an outcome (declined or paid)
    next_attempt_at: Mapped[datetime | None]
    payment_id: Mapped[str | None] = mapped_column(String(64))  # the latest attempt's payment
    paid_at: Mapped[datetime | None]
    __table_args__ = (
        UniqueConstraint("subscription_id", "period_start", name="invoices_one_per_period"),
        Index("invoices_list", "account_id", "livemode", text("created_at DESC"), text("id DESC")),
        Index("invoices_by_subscription", "account_id", "livemode", "subscription_id", text("created_at DESC"),
              text("id DESC")),
        Index("invoices_due", "next_attempt_at",
              postgresql_where=text("status = 'open' AND next_attempt_at IS NOT NULL AND test_clock_id IS NULL")),
        Index("invoices_due_on_clock", "test_clock_id", "next_attempt_at",
              postgresql_where=text("status = 'open' AND next_attempt_at IS NOT NULL AND test_clock_id IS NOT NULL")),
    )


class TestClock(_Owned, Base):
    """A test-mode clock (SPEC 8): the customers on it, and their subscriptions, live at `frozen_time`."""

    __test__ = False
    __tablename__ = "test_clocks"
    name: Mapped[str | None] = mapped_column(String(255))
    frozen_time: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # ready, advancing
    __table_args__ = (Index("test_clocks_list", "account_id", "livemode", text("created_at DESC"), text("id DESC")),)


class ProcessorEvent(Base):
    """A processor's notification (a Stripe webhook), kept once by its own id: the inbox. A job
    applies it; a duplicate is not kept again, and applying one twice changes nothing."""

    __tablename__ = "processor_events"
    processor: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    livemode: Mapped[bool]
    type: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime]
    applied_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))  # what applying it did: recorded, ignored, ...


# ---- events, webhooks and emails (SPEC 9) ----------------------------------------------------

class Event(Base):
    """Something a merchant may act on, written in the transaction of the change (the outbox).
    `data` is `{"object": ...}`, the object as the API showed it then; json, not jsonb, so the
    object's fields keep the API's order in every delivery."""

    __tablename__ = "events"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    livemode: Mapped[bool]
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    # An announcement that more than one path may make (an expiry: the sweep's follow-up job and
    # a merchant's expire) is written once: the second finds this key taken.
    dedupe_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    __table_args__ = (
        Index("events_list", "account_id", "livemode", text("created_at DESC"), text("id DESC")),
        Index("events_by_type", "account_id", "livemode", "type", text("created_at DESC"), text("id DESC")),
        Index("events_by_age", "created_at"),  # the 30-day purge
    )


class WebhookEndpoint(_Owned, Base):
    """Where a merchant wants events sent. Its secrets are encrypted at rest (SecretBox) and
    opened to sign; after a rotation the previous secret signs too until it expires."""

    __tablename__ = "webhook_endpoints"
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    enabled_events: Mapped[list[str]]
    disabled: Mapped[bool]
    # Why it stopped: `merchant` (PATCH), `gone` (answered 410), `failing` (5 days of failures).
    disabled_reason: Mapped[str | None] = mapped_column(String(16))
    disabled_at: Mapped[datetime | None]
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    previous_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_expires_at: Mapped[datetime | None]
    # The first failed attempt since the last success (None while it answers).
    failing_since: Mapped[datetime | None]
    # An attempt to this endpoint is in flight until then: one at a time per endpoint, so a slow
    # or dead endpoint holds one worker slot, never all of them.
    busy_until: Mapped[datetime | None]
    __table_args__ = (Index("webhook_endpoints_list", "account_id", "livemode", text("created_at DESC"),
                            text("id DESC")),)


class WebhookDelivery(Base):
    """One event owed to one endpoint: due work (`next_attempt_at`) until it succeeds or is given up."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    livemode: Mapped[bool]
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))  # pending, succeeded, failed, canceled
    attempts: Mapped[int]
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    __table_args__ = (
        Index("webhook_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        Index("webhook_deliveries_by_endpoint_due", "endpoint_id", "next_attempt_at",
              postgresql_where=text("status = 'pending'")),
        Index("webhook_deliveries_by_event", "event_id"),
    )


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery: what the endpoint answered (the first 2 KB) and how long it took."""

    __tablename__ = "webhook_attempts"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str] = mapped_column(String(64))
    livemode: Mapped[bool]
    attempt: Mapped[int]
    succeeded: Mapped[bool]
    status_code: Mapped[int | None]
    duration_ms: Mapped[int]
    response_body: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(64))
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    __table_args__ = (
        Index("webhook_attempts_by_endpoint", "endpoint_id", text("created_at DESC"), text("id DESC")),
        Index("webhook_attempts_by_delivery", "delivery_id"),
    )


class Email(Base):
    """A receipt or notice owed by email for an event, sent once (one per event and kind)."""

    __tablename__ = "emails"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(String(64))
    livemode: Mapped[bool]
    kind: Mapped[str] = mapped_column(String(16))  # receipt, notice
    to_address: Mapped[str] = mapped_column(String(512))
    locale: Mapped[str] = mapped_column(String(35))
    status: Mapped[str] = mapped_column(String(16))  # pending, sent, failed
    attempts: Mapped[int]
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    __table_args__ = (
        Index("emails_one_per_event_and_kind", "event_id", "kind", unique=True),
        Index("emails_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    )


class LinkDailyOpens(Base):
    """How often a link's share URL was opened (a session enqueued) on one UTC day: counted in
    Redis on the share path, copied here by the `link_opens.rollup` beat job (domain/funnel.py)."""

    __tablename__ = "link_daily_opens"
    payment_link_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    opens: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]
