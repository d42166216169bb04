"""Request and response shapes, declared once with msgspec: they validate request bodies (types,
unknown fields) and produce the OpenAPI document. The business rules live in the domain."""
from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from domain import catalog, rules

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


class AccountCreated(Response, kw_only=True):
    account_id: str
    api_key: str
    test_api_key: str


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
