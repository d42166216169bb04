"""Forms -> the same domain commands the API builds, and domain errors -> the field they name.

Only the shape of a value is checked here (is it a whole number, a decimal amount); every rule
is the domain's, so the dashboard and the API can never disagree.
"""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal

from api.dashboard.web import Form
from domain import catalog, payment_links, payment_records, processors
from domain.currencies import exponent, format_atoms
from domain.errors import Checks, DomainError, InvalidRequest, invalid
from domain.rules import require_currency

LINK_ROWS = payment_links.MAX_LINE_ITEMS
ROW_FIELDS = ("price_id", "quantity", "description")
FORM_WIDE = "__form__"
_INDEX = re.compile(r"\[[0-9]+\]$|\.[^.\[\]]+$")
# Numbers are ASCII digits only: Python's \d, int() and Decimal() also read other scripts' digits
# (a price typed as "１２" would be 12), so every pattern here says [0-9].


def field_for(param: str | None, fields: set[str]) -> str:
    """The form field an error's `param` names: itself, or the nearest enclosing one
    (`package_ids[1]` -> `package_ids`); otherwise the form as a whole."""
    while param:
        if param in fields:
            return param
        shorter = _INDEX.sub("", param)
        if shorter == param:
            break
        param = shorter
    return FORM_WIDE


def errors_of(error: DomainError, fields: set[str], rename: dict[str, str] | None = None,
              labels: dict[str, str] | None = None, names: dict[str, str] | None = None) -> dict[str, str]:
    """Every field error of `error`, each next to the field it names (the first for a field wins),
    in the merchant's words: `labels` say parameter names as the form's labels do
    ("expires_in_hours" -> "the session lifetime"), `names` say ids as the merchant knows them."""
    shown: dict[str, str] = {}
    every = error.field_errors if isinstance(error, InvalidRequest) else [error]
    for each in every:
        param = each.param or ""
        for given, form_name in (rename or {}).items():  # command index -> form row
            if param == given or param.startswith((given + ".", given + "[")):
                param = form_name + param[len(given):]
                break
        shown.setdefault(field_for(param, fields), merchant_words(each.message, labels or {}, names or {}))
    return shown


_ID = re.compile(r"\b(?:price|pkg|coupon|prod|cus)_(?:test|live)_[A-Za-z0-9]+\b")
_INDEXED = re.compile(r"\b([a-z_]+)\[[0-9]+\](?:\.([a-z_]+))?")
_PHRASES = (
    (re.compile(r"\b(\w+_atom) must be an integer from 0 to [0-9]+"), r"\1 is too large"),
    (re.compile(r"\b(\w+_atom) must be an integer from 1 to [0-9]+"), r"\1 must be more than zero (and not huge)"),
    (re.compile(r"\ban integer from\b"), "a whole number from"),
    (re.compile(r"\bevery 1 (day|week|month|year)\b"), r"every \1"),
    (re.compile(r"\bis not active\b"), "is archived"),
    (re.compile(r"\bwhich is no longer active\b"), "which is archived"),
    (re.compile(r"\baccepted_payment_methods must not be empty; leave it out to accept every method"),
     "tick at least one payment method (or choose every method)"),
    (re.compile(r"\(use mode subscription\)"), "(sell it with a Subscription link)"),
    (re.compile(r"No such (price|package|coupon|customer|product): '[^']*'"), r"That \1 does not exist in this mode"),
)


def ids_in(error: DomainError) -> set[str]:
    """The object ids an error's messages mention (to look their names up)."""
    every = error.field_errors if isinstance(error, InvalidRequest) else [error]
    return {found for each in every for found in _ID.findall(each.message)}


def merchant_words(message: str, labels: dict[str, str], names: dict[str, str]) -> str:
    for pattern, words in _PHRASES:
        message = pattern.sub(words, message)
    message = _INDEXED.sub(lambda found: labels.get(found.group(2) or found.group(1), found.group(2) or found.group(1)),
                           message)
    ids = {}  # names go in last, so that no label rewrites a name

    def hold(found: re.Match) -> str:
        ids[f"\x00{len(ids)}\x00"] = names.get(found.group(0), "it")
        return f"\x00{len(ids) - 1}\x00"

    message = _ID.sub(hold, message)
    for name, label in sorted(labels.items(), key=lambda pair: -len(pair[0])):
        if "_" not in name:  # a plain word ("currency") is already the merchant's
            continue
        message = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", label, message)
    for held, name in ids.items():
        message = message.replace(held, name)
    return message


def parsed(checks: Checks, parse, fallback):
    """`parse()`, or `fallback` when the text is not the shape asked for (the failure is kept in
    `checks`, so the domain's rules still run over the rest of the form)."""
    try:
        return parse()
    except InvalidRequest as failure:
        checks.failures.extend(failure.field_errors)
        return fallback


def submit(checks: Checks, validate, act):
    """Run the domain command `act()` unless the form's own reading failed: then only `validate()`
    (the domain's checks, which change nothing), and raise every failure together."""
    if checks.failures:
        with checks.field():
            validate()
        checks.raise_any()
    return act()


def whole_number(form: Form, name: str, default: int | None = None, param: str | None = None) -> int | None:
    text = form.get(name)
    if not text:
        return default
    if not re.fullmatch(r"-?[0-9]{1,9}", text):
        raise invalid(param or name, f"{param or name} must be a whole number")
    return int(text)


def amount_atoms(text: str, currency: str, param: str) -> int:
    """`"19.99"` in USD -> 1999: the amount as people write it, in the currency's smallest unit."""
    require_currency(currency)
    digits = exponent(currency)
    if not re.fullmatch(r"[0-9]{1,12}(\.[0-9]+)?", text):
        raise invalid(param, f"enter the amount as digits with at most {digits} decimal places, like "
                             f"{'19.99' if digits == 2 else '1999' if digits == 0 else '1.' + '9' * digits}")
    value = Decimal(text)
    atoms = value.scaleb(digits)
    if atoms != atoms.to_integral_value():
        raise invalid(param, f"{currency} amounts have at most {digits} decimal places")
    return int(atoms)


def amount_text(amount_atom: int, currency: str) -> str:
    """`1250` USD -> `"12.50"`: an amount as a form field holds it, which `amount_atoms` reads back."""
    digits = exponent(currency)
    whole, fraction = divmod(amount_atom, 10**digits)
    return f"{whole}.{fraction:0{digits}d}" if digits else str(whole)


# ---- payment links ----------------------------------------------------------------------------

LINK_FIELDS = {"name", "mode", "cart", "line_items", "package_ids", "coupon_id", "free_trial_days", "success_url",
               "return_url", "expires_in_hours", "allow_cart_edit", "accepted_payment_methods", "metadata",
               "customer_id"} | {f"line_items[{row}].{name}" for row in range(LINK_ROWS) for name in ROW_FIELDS}


LINK_LABELS = {
    "line_items": "prices", "package_ids": "packages", "price_id": "the price", "quantity": "the quantity",
    "description": "the description", "coupon_id": "the coupon", "free_trial_days": "the free trial (days)",
    "success_url": "the success URL", "return_url": "the return URL",
    "expires_in_hours": "the session lifetime (hours)", "allow_cart_edit": "changing quantities",
    "accepted_payment_methods": "accepted payment methods", "customer_id": "the customer", "metadata": "metadata",
}


def link_command(form: Form, checks: Checks) -> tuple[payment_links.NewPaymentLink, dict[str, str]]:
    """The link to create, and how the command's item indexes map back to form rows (empty rows
    are skipped). Fields hidden for the chosen mode are not read; a number that is not one is
    kept in `checks` (and a valid stand-in used, so that the rest is still checked)."""
    mode = form.get("mode") or "payment"
    line_items, package_ids, rename = None, None, {}
    if mode != "setup":
        if form.get("cart") == "package":
            package_ids = form.getlist("package_ids")
        else:
            items = []
            for row in range(LINK_ROWS):
                price_id = form.get(f"line_items[{row}].price_id")
                if not price_id:
                    continue
                param = f"line_items[{len(items)}].quantity"
                quantity = parsed(checks, lambda: whole_number(form, f"line_items[{row}].quantity", 1, param), 1)
                rename[f"line_items[{len(items)}]"] = f"line_items[{row}]"
                items.append(payment_links.LineItem(price_id, quantity,
                                                    form.optional(f"line_items[{row}].description")))
            line_items = items or None
    methods = form.getlist("accepted_payment_methods") if form.get("methods") == "some" else None
    cmd = payment_links.NewPaymentLink(
        name=form.optional("name"), mode=mode, line_items=line_items, package_ids=package_ids,
        coupon_id=form.optional("coupon_id") if mode != "setup" else None,
        free_trial_days=parsed(checks, lambda: whole_number(form, "free_trial_days"), None)
        if mode == "subscription" else None,
        success_url=form.optional("success_url"), return_url=form.optional("return_url"),
        expires_in_hours=parsed(checks, lambda: whole_number(form, "expires_in_hours",
                                                             payment_links.DEFAULT_EXPIRES_IN_HOURS),
                                payment_links.DEFAULT_EXPIRES_IN_HOURS),
        allow_cart_edit=form.checked("allow_cart_edit") if mode != "setup" else False,
        accepted_payment_methods=methods)
    return cmd, rename


EDIT_FIELDS = {"name", "coupon_id", "success_url", "return_url", "accepted_payment_methods", "metadata",
               "is_active"}


def link_update(form: Form, mode: str) -> payment_links.PaymentLinkUpdate:
    """What the edit form may change (PATCH's fields but metadata and is_active): every field is
    sent, an empty one removes the value. A setup link takes no coupon, so its form has none."""
    methods = form.getlist("accepted_payment_methods") if form.get("methods") == "some" else None
    update = payment_links.PaymentLinkUpdate(
        name=form.optional("name"), success_url=form.optional("success_url"),
        return_url=form.optional("return_url"), accepted_payment_methods=methods)
    if mode != "setup":
        update.coupon_id = form.optional("coupon_id")
    return update


# ---- catalog ----------------------------------------------------------------------------------

PRODUCT_FIELDS = {"name", "description"}
PRICE_FIELDS = {"unit_amount", "currency", "type", "interval", "interval_count", "product_id"}
PACKAGE_FIELDS = {"name", "price_ids"}
COUPON_FIELDS = {"name", "kind", "percent_off", "amount_off", "currency", "duration", "duration_in_months",
                 "max_redemptions", "redeem_by"}
# Where the domain names an amount in atoms, the form asks for it as people write it.
AMOUNT_FIELDS = {"unit_amount_atom": "unit_amount", "amount_off_atom": "amount_off"}
CATALOG_LABELS = {
    "unit_amount_atom": "the amount", "unit_amount": "the amount", "interval_count": "the number of intervals",
    "interval": "the interval", "one_time": "one-time", "price_ids": "prices", "percent_off": "the percentage",
    "amount_off_atom": "the amount off", "amount_off": "the amount off", "duration_in_months": "the number of months",
    "max_redemptions": "the maximum redemptions", "redeem_by": "the last day", "product_id": "the product",
    "currency": "the currency", "description": "the description",
}


def product_command(form: Form) -> catalog.NewProduct:
    return catalog.NewProduct(name=form.get("name"), description=form.optional("description"))


def product_changes(form: Form) -> dict:
    return {"name": form.get("name"), "description": form.optional("description")}


def price_command(form: Form, product_id: str, checks: Checks) -> catalog.NewPrice:
    currency = form.get("currency").upper()
    price_type = form.get("type") or "one_time"
    recurring = price_type == "recurring"
    return catalog.NewPrice(
        product_id=product_id,
        unit_amount_atom=parsed(checks, lambda: amount_atoms(form.get("unit_amount"), currency, "unit_amount"), 0),
        currency=currency, type=price_type, interval=form.optional("interval") if recurring else None,
        interval_count=parsed(checks, lambda: whole_number(form, "interval_count"), None) if recurring else None)


def package_command(form: Form) -> catalog.NewPackage:
    return catalog.NewPackage(name=form.get("name"), price_ids=form.getlist("price_ids"))


def coupon_command(form: Form, checks: Checks) -> catalog.NewCoupon:
    percent_off = amount_off = currency = None
    if form.get("kind") == "amount":
        currency = form.get("currency").upper()
        amount_off = parsed(checks, lambda: amount_atoms(form.get("amount_off"), currency, "amount_off"), 1)
    else:
        percent_off = parsed(checks, lambda: _percent(form.get("percent_off")), Decimal(1))
    duration = form.get("duration") or "once"
    return catalog.NewCoupon(
        name=form.get("name"), duration=duration, percent_off=percent_off, amount_off_atom=amount_off,
        currency=currency,
        duration_in_months=parsed(checks, lambda: whole_number(form, "duration_in_months"), 1)
        if duration == "repeating" else None,
        max_redemptions=parsed(checks, lambda: whole_number(form, "max_redemptions"), None),
        redeem_by=parsed(checks, lambda: _last_moment(form.get("redeem_by")), None))


def _percent(text: str) -> Decimal:
    if not re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,6})?", text):
        raise invalid("percent_off", "enter the percentage as a number, like 20 or 12.5")
    return Decimal(text)


def _last_moment(text: str) -> datetime | None:
    """A day typed as 2030-12-31 -> its last second, UTC."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise invalid("redeem_by", "enter a date, like 2030-12-31") from None
    return datetime.combine(day, time(23, 59, 59), UTC)


# ---- refunds ----------------------------------------------------------------------------------

REFUND_FIELDS = {"amount", "reason"}


def refund_command(form: Form, currency: str) -> payment_records.NewRefund:
    """An empty amount is all that is left, as in the API."""
    text = form.get("amount")
    return payment_records.NewRefund(amount_atom=amount_atoms(text, currency, "amount") if text else None,
                                     reason=form.optional("reason"))


def refund_errors(error: DomainError, left_atom: int, currency: str) -> dict[str, str]:
    """A refused refund as the merchant reads it: what is left in money, not in atoms."""
    if error.param == "amount_atom" and error.code == "amount_too_large":
        return {"amount": f"at most {format_atoms(left_atom, currency)} can be refunded" if left_atom > 0
                else "nothing is left to refund"}
    return errors_of(error, REFUND_FIELDS, {"amount_atom": "amount"}, {"amount_atom": "the amount"})


# ---- the processor ----------------------------------------------------------------------------

PROCESSOR_FIELDS = {"processor", "secret_key", "publishable_key", "webhook_secret"}
PROCESSOR_LABELS = {"secret_key": "secret key", "publishable_key": "publishable key",
                    "webhook_secret": "webhook signing secret"}


def processor_command(form: Form) -> processors.ChooseProcessor:
    """Stripe's keys are read only when Stripe is chosen (the test processor takes none)."""
    name = form.get("processor")
    if name != "stripe":
        return processors.ChooseProcessor(processor=name)
    return processors.ChooseProcessor(processor=name, secret_key=form.get("secret_key"),
                                      publishable_key=form.get("publishable_key"),
                                      webhook_secret=form.get("webhook_secret"))
