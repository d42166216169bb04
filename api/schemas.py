"""Request and response shapes, declared once with msgspec: they validate request bodies (types,
unknown fields) and produce the OpenAPI document. The business rules live in the domain."""
from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from domain import catalog, payment_links, rules

Name = Annotated[str, Meta(max_length=rules.MAX_NAME_CHARS)]
Metadata = Annotated[dict[str, Any], Meta(max_length=rules.METADATA_MAX_KEYS)]
AmountAtom = Annotated[int, Meta(ge=0, le=rules.MAX_AMOUNT_ATOM)]
Currency = Annotated[str, Meta(min_length=3, max_length=3, description="ISO 4217, upper case")]


class Request(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A request body: unknown fields are an error."""


class Response(msgspec.Struct, kw_only=True):
    pass


# ---- requests -------------------------------------------------------------------------------

class ProductCreate(Request, kw_only=True):
    name: Name
    description: str | None = None
    metadata: Metadata | None = None


class PriceCreate(Request, kw_only=True):
    product_id: str
    unit_amount_atom: AmountAtom
    currency: Currency
    type: Literal["one_time", "recurring"] = "one_time"
    interval: Literal["day", "week", "month", "year"] | None = None
    interval_count: Annotated[int, Meta(ge=1, le=365)] | None = None


class PackageCreate(Request, kw_only=True):
    name: Name
    price_ids: Annotated[list[str], Meta(min_length=1, max_length=catalog.PACKAGE_MAX_PRICES)]


class CouponCreate(Request, kw_only=True):
    name: Name
    duration: Literal["once", "repeating", "forever"] = "once"
    percent_off: Annotated[float, Meta(gt=0, le=100)] | None = None
    amount_off_atom: Annotated[int, Meta(ge=1, le=rules.MAX_AMOUNT_ATOM)] | None = None
    currency: Currency | None = None
    duration_in_months: Annotated[int, Meta(ge=1, le=catalog.MAX_DURATION_IN_MONTHS)] | None = None
    max_redemptions: Annotated[int, Meta(ge=1, le=1_000_000_000)] | None = None
    redeem_by: datetime | None = None


class CustomerCreate(Request, kw_only=True):
    email: Annotated[str, Meta(max_length=rules.MAX_EMAIL_CHARS)]
    name: Name | None = None
    metadata: Metadata | None = None


class ActiveUpdate(Request, kw_only=True):
    active: bool


# ---- responses ------------------------------------------------------------------------------

class Owned(Response, kw_only=True):
    id: str
    livemode: bool
    created_at: datetime
    updated_at: datetime


class ProductOut(Owned, kw_only=True):
    object: Literal["product"] = "product"
    name: str
    description: str | None
    metadata: dict[str, Any]
    active: bool


class PriceOut(Owned, kw_only=True):
    object: Literal["price"] = "price"
    product_id: str
    unit_amount_atom: int
    currency: str
    type: str
    interval: str | None
    interval_count: int | None
    active: bool


class PackageOut(Owned, kw_only=True):
    object: Literal["package"] = "package"
    name: str
    price_ids: list[str]
    currency: str
    active: bool


class CouponOut(Owned, kw_only=True):
    object: Literal["coupon"] = "coupon"
    name: str
    percent_off: float | None
    amount_off_atom: int | None
    currency: str | None
    duration: str
    duration_in_months: int | None
    max_redemptions: int | None
    redeem_by: datetime | None
    times_redeemed: int
    active: bool


class CustomerOut(Owned, kw_only=True):
    object: Literal["customer"] = "customer"
    email: str
    name: str | None
    metadata: dict[str, Any]


# ---- payment links --------------------------------------------------------------------------

PaymentMethod = Literal[tuple(payment_links.PAYMENT_METHODS)]  # type: ignore[valid-type]
PaymentMethods = Annotated[list[PaymentMethod], Meta(min_length=1, max_length=len(payment_links.PAYMENT_METHODS))]
Url = Annotated[str, Meta(max_length=rules.MAX_URL_CHARS, description="absolute http or https URL")]


class PaymentLinkLineItemIn(Request, kw_only=True):
    price_id: str
    quantity: Annotated[int, Meta(ge=1, le=payment_links.MAX_QUANTITY)] = 1
    description: Annotated[str, Meta(max_length=payment_links.MAX_DESCRIPTION_CHARS)] | None = None


class PaymentLinkCreate(Request, kw_only=True):
    name: Name | None = None
    mode: Literal[payment_links.MODES] = "payment"  # type: ignore[valid-type]
    line_items: Annotated[list[PaymentLinkLineItemIn],
                          Meta(min_length=1, max_length=payment_links.MAX_LINE_ITEMS)] | None = None
    package_ids: Annotated[list[str], Meta(min_length=1, max_length=payment_links.MAX_PACKAGES)] | None = None
    customer_id: str | None = None
    coupon_id: str | None = None
    free_trial_days: Annotated[int, Meta(ge=1, le=payment_links.MAX_TRIAL_DAYS)] | None = None
    success_url: Url | None = None
    return_url: Url | None = None
    expires_in_hours: Annotated[int, Meta(ge=1, le=payment_links.MAX_EXPIRES_IN_HOURS)] = \
        payment_links.DEFAULT_EXPIRES_IN_HOURS
    allow_cart_edit: bool = False
    accepted_payment_methods: PaymentMethods | None = None
    metadata: Metadata | None = None


class PaymentLinkUpdate(Request, kw_only=True):
    """Only these fields may change; a field left out stays as it is, null removes it."""

    name: Name | None | UnsetType = UNSET
    coupon_id: str | None | UnsetType = UNSET
    success_url: Url | None | UnsetType = UNSET
    return_url: Url | None | UnsetType = UNSET
    accepted_payment_methods: PaymentMethods | None | UnsetType = UNSET
    metadata: Metadata | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET


class PaymentLinkLineItemOut(Response, kw_only=True):
    price_id: str
    quantity: int
    description: str | None
    unit_amount_atom: int
    currency: str
    type: str
    amount_atom: int


class PaymentLinkOut(Response, kw_only=True):
    object: Literal["payment_link"] = "payment_link"
    id: str
    secure_token: str
    url: str
    name: str | None
    mode: str
    is_active: bool
    line_items: list[PaymentLinkLineItemOut]
    package_ids: list[str]
    total_amount_atom: int
    currency: str | None
    expires_in_hours: int
    success_url: str | None
    return_url: str | None
    customer_id: str | None
    coupon_id: str | None
    free_trial_days: int | None
    allow_cart_edit: bool
    accepted_payment_methods: list[str] | None
    metadata: dict[str, Any]
    livemode: bool
    created_at: datetime
    updated_at: datetime


class ErrorDetail(Response, kw_only=True):
    type: str
    code: str
    message: str
    param: str | None


class ErrorOut(Response, kw_only=True):
    error: ErrorDetail


@functools.cache
def list_of(item: type) -> type:
    """The `{object: "list", data, has_more}` envelope around `item`."""
    return msgspec.defstruct(f"{item.__name__.removesuffix('Out')}List",
                             [("object", Literal["list"], "list"), ("data", list[item]), ("has_more", bool)],
                             kw_only=True)


__all__ = ["UNSET", "UnsetType"]


class ShareOut(Response, kw_only=True):
    checkout_session_id: str
    checkout_url: str


# ---- checkout sessions ----------------------------------------------------------------------

class CheckoutSessionLineItemOut(Response, kw_only=True):
    price_id: str
    description: str | None
    quantity: int
    unit_amount_atom: int
    currency: str
    type: str
    interval: str | None
    interval_count: int | None
    amount_atom: int


class CheckoutSessionOut(Response, kw_only=True):
    """`status` is the effective status: an open session past `expires_at` reads as expired,
    with `expired_at` = `expires_at`, whether or not the sweep has recorded it yet."""

    id: str
    object: Literal["checkout.session"] = "checkout.session"
    payment_link_id: str
    mode: str
    status: Literal["open", "complete", "expired"]
    line_items: list[CheckoutSessionLineItemOut]
    currency: str | None
    amount_subtotal_atom: int
    amount_discount_atom: int
    amount_total_atom: int
    amount_due_today_atom: int
    customer_id: str | None
    coupon_id: str | None
    free_trial_days: int | None
    success_url: str | None
    return_url: str | None
    accepted_payment_methods: list[str] | None
    allow_cart_edit: bool
    checkout_url: str
    expires_at: datetime
    created_at: datetime
    completed_at: datetime | None
    expired_at: datetime | None
    livemode: bool
    customer_email: str | None
    payment_id: str | None
    payment_method_id: str | None
    subscription_id: str | None
    payment_status: Literal["unpaid", "paid", "no_payment_required"]
