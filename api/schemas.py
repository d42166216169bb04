"""Request and response shapes, declared once with msgspec: they validate request bodies (types,
unknown fields) and produce the OpenAPI document. The business rules live in the domain; what of
them a JSON Schema can say is said here too, from the domain's own constants and patterns
(`extra_json_schema` and `RULES`: documentation only, the domain still decides and names the field),
so that a request the document allows is one the API accepts, but for data rules it states in words."""
from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from domain import accounts, catalog, events, payment_links, payment_records, processors, rules, webhooks
from domain.currencies import EXPONENTS
from domain.payments.states import PaymentStatus, RefundStatus

NOT_BLANK = rules.NOT_BLANK_PATTERN  # what the domain's "must not be empty" (strip()) leaves standing


REF = "#/components/schemas/{name}"


def metadata_value_components() -> dict[str, dict[str, Any]]:
    """`MetadataValue{n}`: a metadata value whose arrays and objects nest at most n deep (with the
    metadata object around them, METADATA_MAX_DEPTH); no NUL in any string or key."""
    no_nul = r"^[^\x00]*$"
    components: dict[str, dict[str, Any]] = {}
    for levels in range(rules.METADATA_MAX_DEPTH):
        kinds: list[dict[str, Any]] = [{"type": "null"}, {"type": "boolean"}, {"type": "number"},
                                       {"type": "string", "pattern": no_nul}]
        if levels:
            inner = {"$ref": REF.format(name=f"MetadataValue{levels - 1}")}
            kinds += [{"type": "array", "items": inner},
                      {"type": "object", "additionalProperties": inner, "propertyNames": {"pattern": no_nul}}]
        components[f"MetadataValue{levels}"] = {"anyOf": kinds}
    return components


def _id_of(noun: str) -> dict[str, Any]:
    return {"description": f"the id of a {noun} of this account and mode; an id that names none is a 400 "
                           "`resource_missing` naming this field"}


def _ref(noun: str, *, not_blank: bool = False) -> Any:
    """An id field: never empty (min_length 1, so the document says what the validation does: ""
    is a 400 naming the field, not a lookup that finds nothing)."""
    extra = {**_id_of(noun), **({"pattern": NOT_BLANK} if not_blank else {})}
    return Annotated[str, Meta(min_length=1, extra_json_schema=extra)]


ProductId = _ref("product")
PriceId = _ref("active price")
CartPriceId = _ref("active price", not_blank=True)
CartPackageId = _ref("active package", not_blank=True)
CustomerId = _ref("customer")
CouponId = _ref("redeemable coupon")
Name = Annotated[str, Meta(max_length=rules.MAX_NAME_CHARS)]
RequiredName = Annotated[str, Meta(max_length=rules.MAX_NAME_CHARS, extra_json_schema={"pattern": NOT_BLANK})]
Metadata = Annotated[dict[str, Any], Meta(max_length=rules.METADATA_MAX_KEYS, extra_json_schema={
    "propertyNames": {"minLength": 1, "maxLength": rules.METADATA_MAX_KEY_CHARS, "pattern": r"^[^\x00]*$"},
    "additionalProperties": {"$ref": REF.format(name=f"MetadataValue{rules.METADATA_MAX_DEPTH - 1}")},
    "description": f"at most {rules.METADATA_MAX_KEYS} keys of 1 to {rules.METADATA_MAX_KEY_CHARS} characters, "
                   f"nesting at most {rules.METADATA_MAX_DEPTH} deep, at most {rules.METADATA_MAX_BYTES} bytes "
                   "as JSON (a larger object is a 400 `metadata_too_large`)"})]
AmountAtom = Annotated[int, Meta(ge=0, le=rules.MAX_AMOUNT_ATOM)]
Currency = Annotated[str, Meta(min_length=3, max_length=3, description="ISO 4217, upper case",
                               extra_json_schema={"enum": sorted(EXPONENTS)})]
Email = Annotated[str, Meta(max_length=rules.MAX_EMAIL_CHARS, extra_json_schema={"pattern": rules.EMAIL_PATTERN})]
Time = Annotated[datetime, Meta(extra_json_schema={"format": "date-time"})]


class Request(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A request body: unknown fields are an error."""


class Response(msgspec.Struct, kw_only=True):
    pass


# ---- requests -------------------------------------------------------------------------------

class ProductCreate(Request, kw_only=True):
    name: RequiredName
    description: Annotated[str, Meta(max_length=catalog.MAX_PRODUCT_DESCRIPTION_CHARS)] | None = None
    metadata: Metadata | None = None


class PriceCreate(Request, kw_only=True):
    product_id: ProductId
    unit_amount_atom: AmountAtom
    currency: Currency
    type: Literal["one_time", "recurring"] = "one_time"
    interval: Literal["day", "week", "month", "year"] | None = None
    interval_count: Annotated[int, Meta(ge=1, le=365)] | None = None


class PackageCreate(Request, kw_only=True):
    name: RequiredName
    price_ids: Annotated[list[PriceId], Meta(min_length=1, max_length=catalog.PACKAGE_MAX_PRICES,
                                                          extra_json_schema={"uniqueItems": True})]


class CouponCreate(Request, kw_only=True):
    name: RequiredName
    duration: Literal["once", "repeating", "forever"] = "once"
    percent_off: Annotated[float, Meta(gt=0, le=100, extra_json_schema={"multipleOf": 0.01})] | None = None
    amount_off_atom: Annotated[int, Meta(ge=1, le=rules.MAX_AMOUNT_ATOM)] | None = None
    currency: Currency | None = None
    duration_in_months: Annotated[int, Meta(ge=1, le=catalog.MAX_DURATION_IN_MONTHS)] | None = None
    max_redemptions: Annotated[int, Meta(ge=1, le=1_000_000_000)] | None = None
    redeem_by: Annotated[Time, Meta(description="in the future: a time already passed is a 400 `time_passed`")] \
        | None = None


class CustomerCreate(Request, kw_only=True):
    email: Email
    name: Name | None = None
    metadata: Metadata | None = None
    test_clock_id: Annotated[str, Meta(min_length=1, extra_json_schema={"description": (
        "test mode only: the customer lives on this test clock (its subscriptions bill on the clock's time); "
        "an id that names none is a 400 `resource_missing` naming this field")})] | None = None


class ActiveUpdate(Request, kw_only=True):
    active: bool


class ProductUpdate(Request, kw_only=True):
    """A field left out stays as it is; `description: null` removes it."""

    name: RequiredName | UnsetType = UNSET
    description: Annotated[str, Meta(max_length=catalog.MAX_PRODUCT_DESCRIPTION_CHARS)] | None | UnsetType = UNSET
    metadata: Metadata | UnsetType = UNSET
    active: bool | UnsetType = UNSET


class NamedUpdate(Request, kw_only=True):
    """A package or coupon: its name and `active` (never its prices, amount or duration)."""

    name: RequiredName | UnsetType = UNSET
    active: bool | UnsetType = UNSET


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
    test_clock_id: str | None


# ---- payment links --------------------------------------------------------------------------

PaymentMethod = Literal[tuple(payment_links.PAYMENT_METHODS)]  # type: ignore[valid-type]
PaymentMethods = Annotated[list[PaymentMethod], Meta(min_length=1, max_length=len(payment_links.PAYMENT_METHODS),
                                                     extra_json_schema={"uniqueItems": True})]
Url = Annotated[str, Meta(max_length=rules.MAX_URL_CHARS, description="absolute http or https URL",
                          extra_json_schema={"pattern": rules.URL_PATTERN})]


class PaymentLinkLineItemIn(Request, kw_only=True):
    price_id: CartPriceId
    quantity: Annotated[int, Meta(ge=1, le=payment_links.MAX_QUANTITY)] = 1
    description: Annotated[str, Meta(max_length=payment_links.MAX_DESCRIPTION_CHARS)] | None = None


class PaymentLinkCreate(Request, kw_only=True):
    name: Name | None = None
    mode: Literal[payment_links.MODES] = "payment"  # type: ignore[valid-type]
    line_items: Annotated[list[PaymentLinkLineItemIn],
                          Meta(min_length=1, max_length=payment_links.MAX_LINE_ITEMS)] | None = None
    package_ids: Annotated[list[CartPackageId],
                           Meta(min_length=1, max_length=payment_links.MAX_PACKAGES,
                                extra_json_schema={"uniqueItems": True})] | None = None
    customer_id: CustomerId | None = None
    coupon_id: CouponId | None = None
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
    coupon_id: CouponId | None | UnsetType = UNSET
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


class FieldError(Response, kw_only=True):
    code: str
    message: str
    param: str | None


class ErrorDetail(Response, kw_only=True):
    """`errors` is there only when the request broke several independent rules: each of them,
    the first being the one the other fields describe."""

    type: str
    code: str
    message: str
    param: str | None
    errors: list[FieldError] | UnsetType = UNSET


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


# ---- payments, refunds and saved payment methods (SPEC 7) ------------------------------------

class RefundCreate(Request, kw_only=True):
    amount_atom: Annotated[int, Meta(ge=1, le=rules.MAX_AMOUNT_ATOM, description=(
        "left out: all that is left to refund; more than is left is a 400 `amount_too_large`"))] | None = None
    reason: Literal[payment_records.REFUND_REASONS] | None = None  # type: ignore[valid-type]


class RefundOut(Response, kw_only=True):
    id: str
    object: Literal["refund"] = "refund"
    payment_id: str
    amount_atom: int
    currency: str
    status: Literal[tuple(status.value for status in RefundStatus)]  # type: ignore[valid-type]
    reason: str | None
    failure_code: str | None
    livemode: bool
    created_at: datetime
    updated_at: datetime


# ---- events and webhook endpoints (SPEC 9) ----------------------------------------------------

EventType = Literal[events.TYPES]  # type: ignore[valid-type]
EnabledEvents = Annotated[list[Literal[(*events.TYPES, "*")]],  # type: ignore[misc]
                          Meta(min_length=1, max_length=len(events.TYPES),
                               description='event types, or ["*"] alone for every type',
                               extra_json_schema={"uniqueItems": True, "anyOf": [
                                   {"maxItems": 1, "items": {"enum": ["*"]}}, {"items": {"enum": list(events.TYPES)}}]})]
WebhookUrl = Annotated[str, Meta(max_length=rules.MAX_URL_CHARS, description=(
    "absolute http or https URL of a public address; a live-mode endpoint must use https, and a host that "
    "resolves to a loopback, private or link-local address is refused (both a 400 `url_not_allowed`)"),
    extra_json_schema={"pattern": rules.URL_PATTERN})]
WebhookDescription = Annotated[str, Meta(max_length=webhooks.MAX_DESCRIPTION_CHARS)]


class WebhookEndpointCreate(Request, kw_only=True):
    url: WebhookUrl
    enabled_events: EnabledEvents
    description: WebhookDescription | None = None


class WebhookEndpointUpdate(Request, kw_only=True):
    """A field left out stays as it is; `disabled` stops or restarts deliveries."""

    url: WebhookUrl | UnsetType = UNSET
    enabled_events: EnabledEvents | UnsetType = UNSET
    description: WebhookDescription | UnsetType = UNSET
    disabled: bool | UnsetType = UNSET


class RedeliverRequest(Request, kw_only=True):
    endpoint_id: Annotated[str, Meta(min_length=1, extra_json_schema=_id_of("webhook endpoint"))]


class EventData(Response, kw_only=True):
    object: dict[str, Any]


class EventOut(Response, kw_only=True):
    """`data.object` is the object as the API showed it when the event happened."""

    id: str
    object: Literal["event"] = "event"
    type: EventType
    data: EventData
    created_at: datetime
    livemode: bool


class WebhookEndpointOut(Response, kw_only=True):
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    id: str
    url: str
    description: str | None
    enabled_events: list[str]
    disabled: bool
    disabled_reason: Literal[webhooks.DISABLED_REASONS] | None = None  # type: ignore[valid-type]
    disabled_at: datetime | None
    failing_since: datetime | None
    livemode: bool
    created_at: datetime
    updated_at: datetime


class CardOut(Response, kw_only=True):
    """All that is ever shown of a card."""

    brand: str
    last4: str
    exp_month: int
    exp_year: int


class PaymentMethodDetailsOut(Response, kw_only=True):
    type: str
    card: CardOut


class PaymentOut(Response, kw_only=True):
    id: str
    object: Literal["payment"] = "payment"
    checkout_session_id: str | None
    customer_id: str | None
    amount_atom: int
    currency: str
    status: Literal[tuple(status.value for status in PaymentStatus)]  # type: ignore[valid-type]
    failure_code: str | None
    failure_message: str | None
    payment_method_id: str | None
    payment_method_details: Annotated[PaymentMethodDetailsOut | None,
                                      Meta(description="the card charged; null when the processor did not say")]
    processor: str
    processor_reference: str | None
    amount_refunded_atom: int
    invoice_id: Annotated[str | None, Meta(description="the invoice this charge pays (a renewal)")] = None
    refunds: Annotated[list[RefundOut], Meta(description="oldest first")]
    livemode: bool
    created_at: datetime
    updated_at: datetime


class WebhookEndpointSecretOut(WebhookEndpointOut, kw_only=True):
    """The endpoint with its signing secret: only in the answer that made the secret."""

    secret: str


class DeletedOut(Response, kw_only=True):
    id: str
    object: str
    deleted: bool


class WebhookDeliveryOut(Response, kw_only=True):
    object: Literal["webhook_delivery"] = "webhook_delivery"
    id: str
    event_id: str
    endpoint_id: str
    status: Literal["pending", "succeeded", "failed", "canceled"]
    attempts: int
    next_attempt_at: datetime | None
    livemode: bool
    created_at: datetime
    updated_at: datetime


class PaymentMethodOut(Response, kw_only=True):
    id: str
    object: Literal["payment_method"] = "payment_method"
    customer_id: str
    type: str
    card: CardOut
    processor: str
    livemode: bool
    created_at: datetime


class WebhookAttemptOut(Response, kw_only=True):
    """One attempt to deliver an event: what the endpoint answered and how long it took."""

    object: Literal["webhook_delivery_attempt"] = "webhook_delivery_attempt"
    id: str
    delivery_id: str
    event_id: str
    event_type: str
    endpoint_id: str
    attempt: int
    succeeded: bool
    status_code: int | None
    duration_ms: int
    response_body: str | None = None  # the first 2 KB of the answer
    error: str | None = None  # no answer: timeout, connection_failed, refused_address, dns_failure, ...
    next_attempt_at: datetime | None
    delivery_status: Literal["pending", "succeeded", "failed", "canceled"]
    livemode: bool
    created_at: datetime


# ---- the account and its processor (SPEC 10, SPEC 7) ----------------------------------------

BrandColor = Annotated[str, Meta(description="#RRGGBB", extra_json_schema={"pattern": accounts.BRAND_COLOR_PATTERN})]


class AccountUpdate(Request, kw_only=True):
    """Only these fields may change; a field left out stays as it is. Null resets display_name to
    the account's name and removes support_email and brand_color."""

    display_name: RequiredName | None | UnsetType = UNSET
    support_email: Email | None | UnsetType = UNSET
    brand_color: BrandColor | None | UnsetType = UNSET


class AccountOut(Response, kw_only=True):
    id: str
    object: Literal["account"] = "account"
    name: str
    display_name: Annotated[str, Meta(description="what customers see: the name until one is set")]
    support_email: str | None
    brand_color: str | None
    created_at: datetime


class ApiKeyCreate(Request, kw_only=True):
    mode: Literal["live", "test"] | UnsetType = msgspec.field(default=UNSET)


class ApiKeyOut(Response, kw_only=True):
    """A key as it is listed: never its secret, only how it starts and its last four characters."""

    id: str
    object: Literal["api_key"] = "api_key"
    mode: Literal["live", "test"]
    livemode: bool
    prefix: str
    last4: Annotated[str | None, Meta(description="null for keys made before the last four were kept")]
    created_at: datetime
    last_used_at: Annotated[datetime | None, Meta(description="to the minute; null until first used")]


class ApiKeySecretOut(ApiKeyOut, kw_only=True):
    """The new key with its secret: only in the answer that made it; only a hash is kept."""

    secret: str


def _stripe_key(param: str) -> Any:
    return Annotated[str, Meta(max_length=rules.MAX_NAME_CHARS, extra_json_schema={
        "pattern": processors.STRIPE_KEY_PATTERNS[param],
        "description": "stripe only; of the API key's mode (a Stripe key of the other mode is a 400 "
                       "`livemode_mismatch`)" if param != "webhook_secret" else "stripe only"})]


class ProcessorChoose(Request, kw_only=True):
    """`test` (test mode only: in live mode a 400 `livemode_mismatch`) takes no keys; `stripe` takes
    all three."""

    processor: Literal[processors.PROCESSORS]  # type: ignore[valid-type]
    secret_key: _stripe_key("secret_key") | None = None  # type: ignore[valid-type]
    publishable_key: _stripe_key("publishable_key") | None = None  # type: ignore[valid-type]
    webhook_secret: _stripe_key("webhook_secret") | None = None  # type: ignore[valid-type]


class ProcessorSettingOut(Response, kw_only=True):
    """The mode's processor; null in live mode until one is chosen (no payments are taken)."""

    object: Literal["processor_setting"] = "processor_setting"
    livemode: bool
    processor: Literal[processors.PROCESSORS] | None  # type: ignore[valid-type]
    publishable_key: str | None
    secret_key: Annotated[str | None, Meta(description="masked: its prefix and last four characters")]
    webhook_secret: Annotated[str | None, Meta(description="masked: its last four characters")]
    updated_at: Annotated[datetime | None, Meta(description="null while the mode's default is in use")]


# ---- subscriptions, invoices and test clocks (SPEC 8) -----------------------------------------

class SubscriptionItemOut(Response, kw_only=True):
    price_id: str
    quantity: int
    description: str | None
    unit_amount_atom: int


class SubscriptionOut(Response, kw_only=True):
    object: Literal["subscription"] = "subscription"
    id: str
    customer_id: str
    checkout_session_id: str | None
    payment_link_id: str | None
    status: Literal["trialing", "active", "past_due", "canceled"]
    items: Annotated[list[SubscriptionItemOut], Meta(description="the recurring prices and quantities billed each period")]
    currency: str
    interval: Literal["day", "week", "month", "year"]
    interval_count: int
    current_period_start: datetime
    current_period_end: datetime
    trial_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    default_payment_method_id: str | None
    latest_invoice_id: str | None
    coupon_id: str | None
    test_clock_id: Annotated[str | None, Meta(description="the customer's test clock: it bills on that clock's time")]
    livemode: bool
    created_at: datetime
    updated_at: datetime


class SubscriptionCancel(Request, kw_only=True):
    at_period_end: Annotated[bool, Meta(description="true: at the end of the current period; false: now")] = True


class InvoiceLineOut(Response, kw_only=True):
    price_id: str
    description: str | None
    quantity: int
    unit_amount_atom: int
    currency: str
    amount_atom: int


class InvoiceOut(Response, kw_only=True):
    object: Literal["invoice"] = "invoice"
    id: str
    subscription_id: str
    customer_id: str
    period_start: datetime
    period_end: datetime
    lines: list[InvoiceLineOut]
    currency: str
    amount_subtotal_atom: int
    amount_discount_atom: int
    amount_total_atom: int
    status: Literal["open", "paid", "void", "uncollectible"]
    attempt_count: Annotated[int, Meta(description="charges of it that were declined or paid")]
    next_attempt_at: Annotated[datetime | None, Meta(description="when it is charged next, while open")]
    payment_id: Annotated[str | None, Meta(description="its latest charge")]
    paid_at: datetime | None
    test_clock_id: str | None
    livemode: bool
    created_at: datetime
    updated_at: datetime


class TestClockCreate(Request, kw_only=True):
    frozen_time: Annotated[Time, Meta(description="the clock's time (RFC 3339, with a time zone)")]
    name: Name | None = None


class TestClockAdvance(Request, kw_only=True):
    frozen_time: Annotated[Time, Meta(description="later than the clock's time now")]


class TestClockOut(Response, kw_only=True):
    __test__ = False
    object: Literal["test_clock"] = "test_clock"
    id: str
    name: str | None
    frozen_time: datetime
    status: Annotated[Literal["ready", "advancing"], Meta(
        description="advancing while what fell due up to frozen_time is being run")]
    livemode: bool
    created_at: datetime
    updated_at: datetime



# ---- rules between fields, for the document ---------------------------------------------------

def _given(*names: str) -> dict[str, Any]:
    """Each of `names` is present and not null."""
    return {"required": list(names), "properties": {name: {"not": {"type": "null"}} for name in names}}


def _is(name: str, *values: str) -> dict[str, Any]:
    return {"required": [name], "properties": {name: {"enum": list(values)}}}


def _absent(*names: str) -> dict[str, Any]:
    return {"not": {"anyOf": [_given(name) for name in names]}}


def _link_cart_rules() -> dict[str, Any]:
    """domain.payment_links.validate_new: setup sells nothing; payment and subscription sell line_items
    or package_ids (one of them); only subscription takes free_trial_days."""
    selling = {"properties": {"mode": {"enum": ["payment", "subscription"]}}}  # `mode` left out: payment
    return {"allOf": [{"anyOf": [
        {"allOf": [_is("mode", "setup"), _absent("line_items", "package_ids", "coupon_id", "free_trial_days")]},
        {"allOf": [selling, {"anyOf": [_given("line_items"), _given("package_ids")]},
                   {"not": _given("line_items", "package_ids")},
                   {"anyOf": [_absent("free_trial_days"), _is("mode", "subscription")]}]},
    ]}]}


def _price_rules() -> dict[str, Any]:
    """domain.catalog.validate_price_fields: only a recurring price has an interval, and it needs one."""
    recurring = [{"allOf": [_given("interval"), _is("interval", interval),
                            {"properties": {"interval_count": {"anyOf": [{"type": "null"}, {"maximum": most}]}}}]}
                 for interval, most in catalog.MAX_INTERVAL_COUNT.items()]
    return {"allOf": [{"anyOf": [
        {"allOf": [{"properties": {"type": {"const": "one_time"}}}, _absent("interval", "interval_count")]},
        {"allOf": [_is("type", "recurring"), {"anyOf": recurring}]},
    ]}]}


def _coupon_rules() -> dict[str, Any]:
    """domain.catalog.validate_coupon_fields: percent_off, or amount_off_atom with its currency;
    duration_in_months with a repeating duration only."""
    return {"allOf": [
        {"anyOf": [{"allOf": [_given("percent_off"), _absent("amount_off_atom", "currency")]},
                   {"allOf": [_given("amount_off_atom", "currency"), _absent("percent_off")]}]},
        {"anyOf": [{"allOf": [_is("duration", "repeating"), _given("duration_in_months")]},
                   {"allOf": [{"properties": {"duration": {"enum": ["once", "forever"]}}},
                              _absent("duration_in_months")]}]},
    ]}


def _processor_rules() -> dict[str, Any]:
    """domain.processors.choose: `test` takes no keys, `stripe` all three."""
    keys = ("secret_key", "publishable_key", "webhook_secret")
    return {"allOf": [{"anyOf": [
        {"allOf": [_is("processor", "test"), _absent(*keys)]},
        {"allOf": [_is("processor", "stripe"), _given(*keys)]},
    ]}]}


# A shape -> what its component says beside its fields (api/openapi.py merges it in). Each is an
# `allOf`, so that a generated client keeps one model per shape.
RULES: dict[type, dict[str, Any]] = {
    PaymentLinkCreate: _link_cart_rules(),
    PriceCreate: _price_rules(),
    CouponCreate: _coupon_rules(),
    ProcessorChoose: _processor_rules(),
}
