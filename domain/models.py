"""The stored objects, as SQLAlchemy 2 typed mappings. The schema itself comes from migrations/."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, Numeric, String, Text, text
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


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]


class ApiKey(Base):
    """Only the SHA-256 of a key is stored; the key itself is shown once at creation."""

    __tablename__ = "api_keys"
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    livemode: Mapped[bool]
    created_at: Mapped[datetime]


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
    __table_args__ = (Index("customers_list", "account_id", "livemode", text("created_at DESC"), text("id DESC")),)


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
    __table_args__ = (
        Index("checkout_sessions_list", "account_id", "livemode", text("created_at DESC"), text("id DESC")),
        Index("checkout_sessions_by_link", "account_id", "livemode", "payment_link_id", text("created_at DESC"),
              text("id DESC")),
        Index("checkout_sessions_by_status", "account_id", "livemode", "status", text("created_at DESC"),
              text("id DESC")),
        # The expiry sweep reads open sessions by expires_at; the partial index holds only those.
        Index("checkout_sessions_open_by_expiry", "expires_at", postgresql_where=text("status = 'open'")),
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
