"""The hosted checkout page, `/checkout/{token}`: the customer sees the cart and pays or cancels.

The checkout token in the URL is the capability. The page posts forms back here (Pay, Cancel,
quantities); every post must be a form and, when the browser says where it comes from, come from
the checkout origin.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs

from api import html
from api.checkout.pages import StripeJs, form_origins, not_available, render, wait_page
from api.client_ip import client_ip
from api.errors import ApiError
from api.http import raw_body
from api.ratelimit import RateLimiter
from domain import accounts, checkout_payments, checkout_sessions, payment_links
from domain.checkout_payments import Step
from domain.checkout_sessions import Status
from domain.checkout_tokens import minted_at
from domain.db import utcnow
from domain.errors import Conflict, InvalidRequest, NotFound
from domain.ids import plausible_token
from domain.models import CheckoutSession
from domain.payment_links import MAX_QUANTITY, MIN_QUANTITY, PAYMENT_METHODS
from domain.payments.stripe import stripe_js_client_secret
from domain.processors import Processors, choice as processor_choice
from domain.queries import Owner
from runtime import metrics
from runtime.locales import preferred_locale
from runtime.settings import Settings

# A genuine token not stored yet is "preparing" for this long after it was minted.
PREPARING_FOR = timedelta(minutes=10)
MAX_FORM_BYTES = 16 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"
CARD_FIELDS = ("card_number", "exp", "cvc")  # our own card form (the test processor's)
CARD_NEEDED = "Enter your card in the card field."
_QUANTITY_FIELD = re.compile(r"line_items\[([0-9]{1,3})\]\.quantity")
_QUANTITY_PARAM = re.compile(r"line_items\[([0-9]+)\]")
_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")
NOT_EDITABLE = "The quantities of this checkout cannot be changed."
NOT_TAKING_PAYMENTS = "This merchant is not taking payments yet."
COUPON_REMOVED = ("The discount is no longer available, so it has been removed. No payment was taken: "
                  "please check the new total and pay again.")
LOCKED = "This checkout takes no more attempts after too many declined cards. Please contact the merchant."

class CheckoutPage:
    public = True

    def __init__(self, settings: Settings, processors: Processors, units: checkout_payments.Units,
                 pay_limiter: RateLimiter):
        self._settings = settings
        self._processors = processors
        self._units = units
        self._pay_limiter = pay_limiter
        self._origins = {html.origin_of(settings.checkout_base_url)}

    # ---- GET ---------------------------------------------------------------------------------

    def on_get(self, req, resp, token: str) -> None:
        now = utcnow()
        session = checkout_sessions.find_by_token(req.context.uow, token)
        if session is None:
            minted = minted_at(self._settings.secret_key, token) if plausible_token(token) else None
            if minted is not None and now - PREPARING_FOR <= minted <= now + timedelta(minutes=1):
                return render(req, resp, "preparing.html")
            return not_available(req, resp)
        self._show(req, resp, session, now)

    def _redirect_to_page(self, req, resp, token: str) -> None:
        """A reload of a form's address (after a notice) goes back to the page."""
        _see_other(resp, self._page_url(token))

    on_get_pay = on_get_cancel = on_get_quantities = _redirect_to_page

    # ---- POST --------------------------------------------------------------------------------

    def on_post_pay(self, req, resp, token: str) -> None:
        if self._refused(req, resp):
            return
        decision = self._pay_limiter.check(client_ip(req, self._settings.trusted_proxy_count))
        if not decision.allowed:
            return wait_page(req, resp, decision.retry_after, title="Too many attempts",
                             what="There have been too many attempts to pay from your network.",
                             back_url=self._page_url(token) if plausible_token(token) else None,
                             back_label="Back to the checkout")
        fields = self._form(req, resp)
        if fields is None:
            return
        entered = {name: (fields.get(name) or [""])[-1].strip() for name in ("email", "name")}
        try:
            processor = self._processors.for_checkout(req.context.uow, token)
            if processor is None:
                raise InvalidRequest(NOT_TAKING_PAYMENTS, param="processor")
            form = checkout_payments.PayForm(entered["email"], entered["name"] or None, *_card_or_method(processor, fields),
                                             locale=preferred_locale(req.get_header("Accept-Language")))
            # The pay begins in this request's transaction (the reads above) and commits it
            # before calling the processor: no connection is held while paying.
            attempt = checkout_payments.pay(self._units, token, form, processor, now=utcnow,
                                            return_url=f"{self._page_url(token)}/return", opened=req.context.uow)
        except NotFound:
            return not_available(req, resp)
        except InvalidRequest as refused:
            return self._show_again(req, resp, token, status=400, field_errors={refused.param: refused.message},
                                    typed=entered)
        self._after_attempt(req, resp, token, attempt, entered)

    def on_get_return(self, req, resp, token: str) -> None:
        """Back from authenticating with the processor: what became of the attempt."""
        try:
            processor = self._processors.for_checkout(req.context.uow, token)
        except NotFound:
            processor = None
        if processor is None:
            return not_available(req, resp)
        req.context.uow.rollback()  # hold no connection while asking the processor
        try:
            attempt = checkout_payments.resume(self._units, token, processor, now=utcnow)
        except NotFound:
            return not_available(req, resp)
        self._after_attempt(req, resp, token, attempt, {})

    def _after_attempt(self, req, resp, token: str, attempt: checkout_payments.Attempt, entered: dict) -> None:
        if attempt.completed:
            metrics.SESSIONS_COMPLETED.inc()
        if attempt.step is Step.REQUIRES_ACTION:  # Stripe.js authenticates on the page; else the processor's URL
            return _see_other(resp, self._page_url(token) if stripe_js_client_secret(attempt.action_url)
                              else attempt.action_url)
        if attempt.step is Step.COMPLETED:
            return _see_other(resp, attempt.success_url or self._page_url(token))
        if attempt.step is Step.DECLINED:
            return self._show_again(req, resp, token, status=402, field_errors={"card_number": attempt.message},
                                    typed=entered)
        if attempt.step is Step.REPRICED:
            return self._show_again(req, resp, token, notice=COUPON_REMOVED, typed=entered)
        if attempt.step is Step.LOCKED:
            return self._show_again(req, resp, token, status=409, notice=LOCKED)
        if attempt.step is Step.NOT_OPEN:
            return self._show_again(req, resp, token, status=409)
        _see_other(resp, self._page_url(token))  # processing: the page says so and refreshes

    def _show_again(self, req, resp, token: str, *, status: int = 200, **context) -> None:
        session = checkout_sessions.find_by_token(req.context.uow, token)
        if session is None:
            return not_available(req, resp)
        self._show(req, resp, session, utcnow(), status=status, **context)

    def on_post_cancel(self, req, resp, token: str) -> None:
        if self._refused(req, resp):
            return
        session = checkout_sessions.find_by_token(req.context.uow, token)
        if session is None:
            return not_available(req, resp)
        if session.return_url:
            resp.status = 303
            resp.location = session.return_url
            return
        render(req, resp, "cancelled.html", page_url=self._page_url(token),
               still_open=checkout_sessions.effective_status(session, utcnow()) == Status.OPEN,
               merchant=accounts.display_of(req.context.uow, session.account_id), livemode=session.livemode)

    def on_post_quantities(self, req, resp, token: str) -> None:
        if self._refused(req, resp):
            return
        uow, now = req.context.uow, utcnow()
        form = self._form(req, resp)
        if form is None:
            return
        entered = {int(m.group(1)): values[-1] for name, values in form.items()
                   if (m := _QUANTITY_FIELD.fullmatch(name))}
        quantities, error = _parse_quantities(form)
        try:
            if error is None:
                # First thing in this unit of work: the domain locks and reads the row fresh.
                checkout_sessions.change_quantities(uow, token, quantities, now)
                return self._redirect_to_page(req, resp, token)
        except NotFound:
            return not_available(req, resp)
        except Conflict:
            pass  # no longer open: the page says expired or complete
        except InvalidRequest as refused:
            error = refused
        session = checkout_sessions.find_by_token(uow, token)
        if session is None:
            return not_available(req, resp)
        if not session.allow_cart_edit:
            error = InvalidRequest(NOT_EDITABLE, param="quantity")
        still_open = checkout_sessions.effective_status(session, now) == Status.OPEN
        self._show(req, resp, session, now, status=400 if still_open else 409,
                   error=_describe(error, session) if error else None, entered=entered)

    # ---- helpers -----------------------------------------------------------------------------

    def _refused(self, req, resp) -> bool:
        """A post must be a form from the checkout origin (when the browser names its origin)."""
        media_type = (req.content_type or "").split(";")[0].strip().lower()
        if media_type != FORM_TYPE:
            render(req, resp, "message.html", status=415, title="Request refused",
                   message="Please use the buttons on the checkout page.")
            return True
        if not html.from_our_pages(req, self._origins):
            render(req, resp, "message.html", status=403, title="Request refused",
                   message="This request did not come from the checkout page.")
            return True
        return False

    @staticmethod
    def _form(req, resp) -> dict[str, list[str]] | None:
        try:
            body = raw_body(req, MAX_FORM_BYTES).decode("utf-8")
            return parse_qs(body, keep_blank_values=True, max_num_fields=1000)
        except (ApiError, UnicodeDecodeError, ValueError):
            render(req, resp, "message.html", status=400, title="Request refused",
                   message="The form could not be read. Please go back and try again.")
            return None

    def _page_url(self, token: str) -> str:
        return f"{self._settings.checkout_base_url}/checkout/{token}"

    def _show(self, req, resp, session: CheckoutSession, now: datetime, *, status: int = 200,
              notice: str | None = None, error: str | None = None, entered: dict[int, str] | None = None,
              field_errors: dict[str | None, str] | None = None, typed: dict[str, str] | None = None) -> None:
        """The page for the session's state as of `now`: checkout (or its payment under way),
        expired or complete."""
        uow = req.context.uow
        state = checkout_sessions.effective_status(session, now)
        brand = {"merchant": accounts.display_of(uow, session.account_id), "livemode": session.livemode}
        if state == Status.EXPIRED:
            share_token = payment_links.active_share_token(uow, session.payment_link_id)
            start_again = f"{self._settings.public_base_url}/api/pay/share/{share_token}" if share_token else None
            return render(req, resp, "expired.html", status=status, start_again_url=start_again, **brand)
        if state == Status.COMPLETE:
            success = session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id) if session.success_url else None
            charges = checkout_sessions.charges(session, session.completed_at)
            return render(req, resp, "complete.html", status=status, session=session, continue_url=success,
                          headline=_headline(session, charges), lines=_lines(session), charges=charges,
                          later=_later(charges), percent_off=_percent_off(session),
                          payment=checkout_payments.payment_of(uow, session),
                          card=checkout_payments.card_of(uow, session), **brand)
        payment = checkout_payments.payment_of(uow, session)
        owner = Owner(session.account_id, session.livemode)
        processor = self._processors.for_owner(uow, owner)
        stripe_js = self._stripe_js(uow, owner, processor)
        if payment is None and session.method_check_at is not None:  # a setup's card being saved: it refreshes
            return render(req, resp, "processing.html", status=status, session=session, payment=None, saving=True,
                          **brand)
        if payment is not None:  # a payment under way: processing (the page refreshes) or waiting for the customer
            client_secret = stripe_js_client_secret(payment.action_url) if payment.status == "requires_action" else None
            return render(req, resp, "processing.html", status=status, session=session, payment=payment,
                          client_secret=client_secret if stripe_js else None,
                          stripe_js=stripe_js if client_secret else None,
                          return_url=f"{self._page_url(session.checkout_token)}/return", **brand)
        if processor is None:
            notice = notice or NOT_TAKING_PAYMENTS
        elif session.failed_attempts >= checkout_payments.MAX_DECLINES:
            notice = notice or LOCKED
        charges = checkout_sessions.charges(session, now)
        base = self._page_url(session.checkout_token)
        render(req, resp, "page.html", status=status, form_origins=form_origins(self._origins, session), session=session,
               lines=_lines(session), charges=charges, later=_later(charges), per_on_total=_per_on_total(session, charges),
               methods=[PAYMENT_METHODS.get(m, m) for m in session.accepted_payment_methods or []],
               time_left=html.time_left(session.expires_at, now), percent_off=_percent_off(session),
               notice=notice, error=error, entered=entered or {}, field_errors=field_errors or {},
               typed=typed or {"email": session.customer_email or ""},
               takes_payments=notice not in (NOT_TAKING_PAYMENTS, LOCKED),
               pay_url=f"{base}/pay", cancel_url=f"{base}/cancel", quantities_url=f"{base}/quantities",
               stripe_js=stripe_js, **brand)

    def _stripe_js(self, uow, owner: Owner, processor) -> StripeJs | None:
        """What the page needs to load Stripe.js, when the owner's processor takes no card input."""
        if processor is None or processor.takes_card_input:
            return None
        publishable_key = processor_choice(uow, owner, self._processors.box).publishable_key
        return StripeJs.of(self._processors.stripe_js_url, self._processors.stripe_api_base, publishable_key)


def _card_or_method(processor, fields: dict[str, list[str]]) -> tuple:
    """(card, payment_method) of the pay form: the card our fields read, or, for a processor that
    takes no card input, the payment method its script made in the browser (`payment_method`, or
    the `card_token` that only localstripe's Stripe.js sends, turned into one by the connector).
    Card fields sent to such a processor are refused by its read_card, on the card field."""
    typed = [(fields.get(name) or [""])[-1] for name in CARD_FIELDS]
    if processor.takes_card_input or any(value.strip() for value in typed):
        return processor.read_card(*typed), None
    method, token = ((fields.get(name) or [""])[-1].strip() for name in ("payment_method", "card_token"))
    if method.startswith("pm_"):
        return None, method
    if token.startswith("tok_"):
        return None, processor.payment_method_for_token(token)
    raise InvalidRequest(CARD_NEEDED, param="card_number")


def _see_other(resp, location: str) -> None:
    resp.status = 303
    resp.location = location


def _every(interval: str, count: int) -> str:
    """`/month`, or ` every 3 months`: what follows a recurring amount."""
    return f"/{interval}" if count == 1 else f" every {count} {interval}s"


def _line_name(line: dict) -> str:
    """What the customer reads for a line: its product's name; a session made before names were
    kept has its description, or "Item"."""
    return line.get("product_name") or line.get("description") or "Item"


def _lines(session: CheckoutSession) -> list[dict]:
    """The lines as the page shows them: by name, with the description beside the product's name."""
    return [{**line, "index": index, "name": _line_name(line),
             "detail": line.get("description") if line.get("product_name") else None,
             "per": _every(line["interval"], line.get("interval_count") or 1) if line["type"] == "recurring" else ""}
            for index, line in enumerate(session.line_items)]


def _later(charges: checkout_sessions.Charges | None) -> dict | None:
    """A subscription's later charge, with what follows its amount (`/month`)."""
    later = charges.later if charges else None
    return {"amount_atom": later.amount_atom, "per": _every(later.interval, later.interval_count),
            "starts_at": later.starts_at} if later else None


def _per_on_total(session: CheckoutSession, charges: checkout_sessions.Charges | None) -> bool:
    """A subscription charging only its recurring lines today, and so every period: the total
    reads `$49.00/month`, with nothing "then"."""
    return bool(charges and charges.later and not session.free_trial_days
                and all(line["type"] == "recurring" for line in session.line_items))


def _headline(session: CheckoutSession, charges: checkout_sessions.Charges | None) -> str:
    """What a completed checkout did: saved a card, started a trial without charging, or took a payment."""
    if charges is None:
        return "Card saved"
    return "Trial started" if charges.due_today_atom == 0 and session.free_trial_days else "Payment complete"


def _percent_off(session: CheckoutSession) -> str | None:
    """`"12.50"` -> `"12.5"`, `"10.00"` -> `"10"`."""
    percent = (session.coupon or {}).get("percent_off")
    return f"{Decimal(percent).normalize():f}" if percent is not None else None


def _parse_quantities(form: dict[str, list[str]]) -> tuple[dict[int, int], InvalidRequest | None]:
    """`line_items[1].quantity=3` -> {1: 3}; a value that is not one whole number names its line."""
    quantities = {}
    for name, values in form.items():
        match = _QUANTITY_FIELD.fullmatch(name)
        if match is None:
            continue
        index, raw = int(match.group(1)), values[-1].strip()
        if len(values) != 1 or not _WHOLE_NUMBER.fullmatch(raw):
            return {}, InvalidRequest(f"Quantity must be a whole number from {MIN_QUANTITY} to {MAX_QUANTITY}.",
                                      param=f"line_items[{index}].quantity")
        quantities[index] = int(raw)
    return quantities, None


def _describe(error: InvalidRequest, session: CheckoutSession) -> str:
    """A message that names the line it is about: `Mug (line 2): Quantity must be 1 to 999.`"""
    match = _QUANTITY_PARAM.match(error.param or "")
    if match and int(match.group(1)) < len(session.line_items):
        index = int(match.group(1))
        return f"{_line_name(session.line_items[index])} (line {index + 1}): {error.message}"
    return error.message
