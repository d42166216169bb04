"""The hosted checkout page, `/checkout/{token}`: the customer sees the cart and pays or cancels.

The checkout token in the URL is the capability. The page posts forms back here (Pay, Cancel,
quantities); every post must be a form and, when the browser says where it comes from, come from
the checkout origin.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import falcon

from api.errors import ApiError
from api.http import raw_body
from api.pages import render
from domain import checkout_sessions
from domain.checkout_tokens import minted_at
from domain.currencies import format_atoms
from domain.db import utcnow
from domain.errors import Conflict, InvalidRequest, NotFound
from domain.models import CheckoutSession, PaymentLink
from runtime.settings import Settings

# A genuine token not stored yet is "preparing" for this long after it was minted.
PREPARING_FOR = timedelta(minutes=10)
MAX_TOKEN_CHARS = 64
MAX_FORM_BYTES = 16 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"
_QUANTITY_FIELD = re.compile(r"line_items\[([0-9]{1,3})\]\.quantity")
_QUANTITY_PARAM = re.compile(r"line_items\[([0-9]+)\]")
_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")
_CSP_ORIGIN = re.compile(r"https?://[a-z0-9.\-]+(:[0-9]{1,5})?|https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?")  # nothing else in a CSP
NOT_EDITABLE = "The quantities of this checkout cannot be changed."

METHOD_NAMES = {
    "credit_card": "Credit card", "debit_card": "Debit card", "apple_pay": "Apple Pay", "google_pay": "Google Pay",
    "paypal": "PayPal", "bank_transfer": "Bank transfer", "sepa_debit": "SEPA Direct Debit",
    "ach_debit": "ACH Direct Debit",
}


def add_routes(app: falcon.App, settings: Settings) -> None:
    page = CheckoutPage(settings)
    app.add_route("/checkout/{token}", page)
    for action in ("pay", "cancel", "quantities"):
        app.add_route(f"/checkout/{{token}}/{action}", page, suffix=action)


class CheckoutPage:
    public = True

    def __init__(self, settings: Settings):
        self._settings = settings
        self._origin = origin_of(settings.checkout_base_url)

    # ---- GET ---------------------------------------------------------------------------------

    def on_get(self, req, resp, token: str) -> None:
        now = utcnow()
        session = _find(req.context.uow, token)
        if session is None:
            minted = minted_at(self._settings.secret_key, token) if len(token) <= MAX_TOKEN_CHARS else None
            if minted is not None and now - PREPARING_FOR <= minted <= now + timedelta(minutes=1):
                return render(resp, "checkout_preparing.html")
            return _not_found(resp)
        self._show(req, resp, session, now)

    def _redirect_to_page(self, req, resp, token: str) -> None:
        """A reload of a form's address (after a notice) goes back to the page."""
        resp.status = 303
        resp.location = self._page_url(token)

    on_get_pay = on_get_cancel = on_get_quantities = _redirect_to_page

    # ---- POST --------------------------------------------------------------------------------

    def on_post_pay(self, req, resp, token: str) -> None:
        if self._refused(req, resp):
            return
        uow, now = req.context.uow, utcnow()
        try:
            # First thing in this unit of work: the domain locks and reads the row fresh.
            outcome = checkout_sessions.complete(uow, token, now)
        except NotFound:
            return _not_found(resp)
        session = checkout_sessions.find_by_token(uow, token)
        if outcome.completed:
            if session.success_url:
                resp.status = 303
                resp.location = session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id)
                return
            return self._show(req, resp, session, now)
        if outcome.reason == "coupon_unavailable":
            # The session was repriced without the coupon (committed: status 200); nothing was paid.
            notice = "The discount is no longer available, so it has been removed. No payment was taken: " \
                     "please check the new total and pay again."
            return self._show(req, resp, session, now, notice=notice)
        self._show(req, resp, session, now, status=409)

    def on_post_cancel(self, req, resp, token: str) -> None:
        if self._refused(req, resp):
            return
        session = _find(req.context.uow, token)
        if session is None:
            return _not_found(resp)
        if session.return_url:
            resp.status = 303
            resp.location = session.return_url
            return
        render(resp, "checkout_cancelled.html", page_url=self._page_url(token),
               still_open=checkout_sessions.effective_status(session, utcnow()) == "open")

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
            return _not_found(resp)
        except Conflict:
            pass  # no longer open: the page says expired or complete
        except InvalidRequest as refused:
            error = refused
        session = checkout_sessions.find_by_token(uow, token)
        if session is None:
            return _not_found(resp)
        if not session.allow_cart_edit:
            error = InvalidRequest(NOT_EDITABLE, param="quantity")
        still_open = checkout_sessions.effective_status(session, now) == "open"
        self._show(req, resp, session, now, status=400 if still_open else 409,
                   error=_describe(error, session) if error else None, entered=entered)

    # ---- helpers -----------------------------------------------------------------------------

    def _refused(self, req, resp) -> bool:
        """A post must be a form from the checkout origin (when the browser names its origin)."""
        media_type = (req.content_type or "").split(";")[0].strip().lower()
        if media_type != FORM_TYPE:
            render(resp, "message.html", status=415, title="Request refused",
                   message="Please use the buttons on the checkout page.")
            return True
        origin = req.get_header("Origin")
        if origin is not None and origin_of(origin) != self._origin:
            render(resp, "message.html", status=403, title="Request refused",
                   message="This request did not come from the checkout page.")
            return True
        return False

    @staticmethod
    def _form(req, resp) -> dict[str, list[str]] | None:
        try:
            body = raw_body(req, MAX_FORM_BYTES).decode("utf-8")
            return parse_qs(body, keep_blank_values=True, max_num_fields=1000)
        except (ApiError, UnicodeDecodeError, ValueError):
            render(resp, "message.html", status=400, title="Request refused",
                   message="The form could not be read. Please go back and try again.")
            return None

    def _form_origins(self, session: CheckoutSession) -> tuple[str, ...]:
        """Where the page's forms go (this origin) and where Pay and Cancel redirect to."""
        origins = [self._origin, origin_of(session.success_url or ""), origin_of(session.return_url or "")]
        return tuple(dict.fromkeys(o for o in origins if _CSP_ORIGIN.fullmatch(o)))

    def _page_url(self, token: str) -> str:
        return f"{self._settings.checkout_base_url}/checkout/{token}"

    def _show(self, req, resp, session: CheckoutSession, now: datetime, *, status: int = 200,
              notice: str | None = None, error: str | None = None, entered: dict[int, str] | None = None) -> None:
        """The page for the session's state as of `now`: checkout, expired or complete."""
        state = checkout_sessions.effective_status(session, now)
        if state == "expired":
            link = req.context.uow.session.get(PaymentLink, session.payment_link_id)
            start_again = (f"{self._settings.public_base_url}/api/pay/share/{link.secure_token}"
                           if link is not None and link.is_active else None)
            return render(resp, "checkout_expired.html", status=status, start_again_url=start_again)
        if state == "complete":
            success = session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id) if session.success_url else None
            return render(resp, "checkout_complete.html", status=status, session=session, continue_url=success)
        base = self._page_url(session.checkout_token)
        render(resp, "checkout.html", status=status, form_origins=self._form_origins(session),
               session=session, lines=_lines(session), trial=_trial(session),
               methods=[METHOD_NAMES.get(m, m) for m in session.accepted_payment_methods or []],
               time_left=time_left(session.expires_at, now), expires_at=session.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
               pay_label=_pay_label(session), percent_off=_percent_off(session), notice=notice, error=error, entered=entered or {},
               pay_url=f"{base}/pay", cancel_url=f"{base}/cancel", quantities_url=f"{base}/quantities")


def _find(uow, token: str) -> CheckoutSession | None:
    if len(token) > MAX_TOKEN_CHARS:
        return None
    return checkout_sessions.find_by_token(uow, token)


def _not_found(resp) -> None:
    render(resp, "link_unavailable.html", status=404)


def origin_of(url: str) -> str:
    """`https://Shop.example:443/x` -> `https://shop.example`: what a browser sends as `Origin`."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if not scheme or not host:
        return ""
    host = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def time_left(expires_at: datetime, now: datetime) -> str:
    seconds = int((expires_at - now).total_seconds())
    if seconds < 60:
        return "Expires in less than a minute"
    days, minutes = divmod(seconds // 60, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days >= 2:
        return f"Expires in {days} d {hours} h"
    hours += 24 * days
    return f"Expires in {hours} h {minutes} min" if hours else f"Expires in {minutes} min"


def _every(line: dict) -> str:
    """`/month`, or ` every 3 months`."""
    count = line.get("interval_count") or 1
    return f"/{line['interval']}" if count == 1 else f" every {count} {line['interval']}s"


def _lines(session: CheckoutSession) -> list[dict]:
    return [{**line, "index": index, "label": line.get("description") or line["price_id"],
             "per": _every(line) if line["type"] == "recurring" else ""}
            for index, line in enumerate(session.line_items)]


def _trial(session: CheckoutSession) -> dict | None:
    recurring = [line for line in session.line_items if line["type"] == "recurring"]
    if session.mode != "subscription" or not session.free_trial_days or not recurring:
        return None
    return {"days": session.free_trial_days, "due_today": session.amount_due_today_atom,
            "then": sum(line["amount_atom"] for line in recurring), "per": _every(recurring[0])}


def _percent_off(session: CheckoutSession) -> str | None:
    """`"12.50"` -> `"12.5"`, `"10.00"` -> `"10"`."""
    percent = (session.coupon or {}).get("percent_off")
    return f"{Decimal(percent).normalize():f}" if percent is not None else None


def _pay_label(session: CheckoutSession) -> str:
    if session.mode == "setup":
        return "Save payment method"
    due = session.amount_due_today_atom
    if due == 0:
        return "Start trial" if _trial(session) else "Confirm"
    return f"Pay {format_atoms(due, session.currency)}"


def _parse_quantities(form: dict[str, list[str]]) -> tuple[dict[int, int], InvalidRequest | None]:
    """`line_items[1].quantity=3` -> {1: 3}; a value that is not one whole number names its line."""
    quantities = {}
    for name, values in form.items():
        match = _QUANTITY_FIELD.fullmatch(name)
        if match is None:
            continue
        index, raw = int(match.group(1)), values[-1].strip()
        if len(values) != 1 or not _WHOLE_NUMBER.fullmatch(raw):
            return {}, InvalidRequest("Quantity must be a whole number from 1 to 999.",
                                      param=f"line_items[{index}].quantity")
        quantities[index] = int(raw)
    return quantities, None


def _describe(error: InvalidRequest, session: CheckoutSession) -> str:
    """A message that names the line it is about: `Mug (line 2): Quantity must be 1 to 999.`"""
    match = _QUANTITY_PARAM.match(error.param or "")
    if match and int(match.group(1)) < len(session.line_items):
        index = int(match.group(1))
        line = session.line_items[index]
        return f"{line.get('description') or line['price_id']} (line {index + 1}): {error.message}"
    return error.message
