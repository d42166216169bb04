"""The `stripe` processor (SPEC 7): the Processor interface on Stripe's API, through the official
`stripe` library. This is the one module that imports `stripe` (tests/unit/test_payments_are_pure.py).

It only translates: each request becomes one Stripe call, each answer a Result; the domain
decides what a result means. No card number ever reaches it: Stripe.js makes a PaymentMethod in
the customer's browser and the page sends its id (`pm_…`), so a request with card input is
refused with ValueError (and `read_card`, the card form, refuses every card on its field).
A request's `customer_reference` is the Stripe customer's id (`cus_…` at Stripe), which
`customer_reference(our_customer_id, email)` makes or finds, never our own customer id.

| our request        | Stripe call                                                              |
|--------------------|--------------------------------------------------------------------------|
| charge             | PaymentIntent created and confirmed at once: payment_method, customer, return_url |
| save_method        | SetupIntent created and confirmed at once, usage off_session (the PaymentMethod is attached to the customer) |
| charge_saved       | PaymentIntent with off_session=true, confirm=true                        |
| refund             | Refund of the PaymentIntent (the payment's processor_reference)          |
| lookup(key)        | the newest PaymentIntents, SetupIntents, Refunds listed, filtered on metadata `paymentkit_id` |
| cancel(key)        | that PaymentIntent canceled, unless it is already final                  |
| payment_method_for_token (localstripe's Stripe.js only) | the token read (GET), its card `card_…` charged |

Idempotency: every POST carries our id as its Idempotency-Key (the payment id, the saved
method's key, the refund id; `cancel:{key}` for a cancel and `customer:{our id}` for a mirrored
customer) and every object made holds our id in its metadata `paymentkit_id`, which is how
`lookup` finds it again. Stripe keeps an idempotency key's answer for 24 hours.

Lookup cannot prove absence: Stripe's lists filter on no metadata, Search (which can) covers
neither SetupIntents nor Refunds and lags behind writes, and a call may still be on its way.
So a key not found answers UNKNOWN, never None: the reconcile job asks again later. Only the
newest LOOKUP_SCAN objects of each kind are looked through; the webhook (payment_intent.*,
setup_intent.succeeded, charge.refunded, carrying the same metadata) is the main way news of a
lost answer arrives.

Errors, translated (the Protocol: a connector raises only for our own mistakes):

| Stripe error                                 | answer                                        |
|----------------------------------------------|-----------------------------------------------|
| CardError (402), by decline_code then code   | FAILED, code from FAILURE_CODES (card_declined otherwise) |
| InvalidRequestError (400/404) on a refund    | FAILED charge_not_refundable                  |
| InvalidRequestError about the payment method | FAILED invalid_payment_method                 |
| other InvalidRequestError, AuthenticationError, PermissionError | FAILED processing_error (nothing moved; logged for the operator) |
| IdempotencyError                             | raises Conflict (our key reused for another request) |
| RateLimitError, APIConnectionError (timeouts, lost connections), APIError (5xx, 409 key in use) | UNKNOWN |

An unknown outcome is answered, not retried here (`max_network_retries=0`): the pay request
holds one of the web's few sync workers, and the domain already asks again on a schedule
(`reconcile`, 10 s and doubling, by our key), so a retry loop here would only hold a worker
through a Stripe outage. A caller may resend the same request with the same key at any time.

Authentication (3-D Secure): requires_action answers an `action_url`. When Stripe gives
`next_action.redirect_to_url` (it does for a server-side confirmation with a return_url, as
charge and save_method send) it is that URL: the page redirects the customer there and Stripe
sends them back to the return_url. Otherwise (`next_action.type` `use_stripe_sdk`, what
localstripe always answers) it is `stripe-js:` followed by the intent's client secret: the page
loads Stripe.js and hands the secret to `stripe.handleNextAction({clientSecret})` (see
`stripe_js_client_secret`), then goes to the return_url. Either way the return is handled by
`lookup`.
"""
from __future__ import annotations

import json
import logging
from typing import Any

import stripe

from domain.errors import Conflict, Unavailable, invalid
from domain.payments.processor import (
    AnyResult, Capability, CardInput, CardSummary, ChargeRequest, ChargeResult, FailureCode, OffSessionChargeRequest, Outcome,
    RefundRequest, RefundResult, SaveMethodRequest, SaveMethodResult,
)

log = logging.getLogger("paymentkit.stripe")

METADATA_KEY = "paymentkit_id"  # our id on every Stripe object we make
STRIPE_JS_ACTION = "stripe-js:"  # an action_url for Stripe.js: this, then the client secret
LOOKUP_SCAN = 300  # lookup looks through at most this many of the newest objects of each kind
DEFAULT_TIMEOUT = 15.0  # seconds per call: a pay request may make two, under gunicorn's 30 s

# Stripe's decline_code or code -> ours (https://docs.stripe.com/declines/codes,
# https://docs.stripe.com/error-codes). Anything else a card error says is card_declined.
FAILURE_CODES: dict[str, FailureCode] = {
    "card_declined": FailureCode.CARD_DECLINED,
    "generic_decline": FailureCode.CARD_DECLINED,
    "insufficient_funds": FailureCode.INSUFFICIENT_FUNDS,
    "expired_card": FailureCode.EXPIRED_CARD,
    "authentication_required": FailureCode.AUTHENTICATION_FAILED,
    "payment_intent_authentication_failure": FailureCode.AUTHENTICATION_FAILED,
    "setup_intent_authentication_failure": FailureCode.AUTHENTICATION_FAILED,
    "processing_error": FailureCode.PROCESSING_ERROR,
}

CARD_FIELD_ONLY = "Enter your card in the secure card field: card numbers are not taken here."
NO_CARDS = ("the stripe processor takes no card input: Stripe.js makes a PaymentMethod in the browser; "
            "pass its id as payment_method_reference")

_UNANSWERED = (stripe.RateLimitError, stripe.APIConnectionError, stripe.APIError)
_REFUSED_ACCESS = (stripe.AuthenticationError, stripe.PermissionError)


def stripe_js_client_secret(action_url: str | None) -> str | None:
    """The client secret the hosted page hands to Stripe.js `handleNextAction`, when the
    action_url is one for Stripe.js; None when it is a URL to send the customer to."""
    if action_url and action_url.startswith(STRIPE_JS_ACTION):
        return action_url[len(STRIPE_JS_ACTION):]
    return None


def failure_code(error: dict[str, Any] | None) -> FailureCode:
    """Our failure code for Stripe's error object (a card error, a last_payment_error or a
    last_setup_error): its decline_code if we know it, else its code, else card_declined."""
    error = error or {}
    for code in (error.get("decline_code"), error.get("code")):
        if code in FAILURE_CODES:
            return FAILURE_CODES[code]
    return FailureCode.CARD_DECLINED


def _card(method: Any) -> CardSummary | None:
    """The card summary of an expanded PaymentMethod, or of a Card (`card_…`, what a token holds:
    see `payment_method_for_token`); an id alone, or no card, gives None."""
    if not isinstance(method, dict):
        return None
    card = method if method.get("object") == "card" else method.get("card")
    if not card:
        return None
    return CardSummary(str(card["brand"]).lower(), card["last4"], int(card["exp_month"]), int(card["exp_year"]))


def _method_id(method: Any) -> str | None:
    return method.get("id") if isinstance(method, dict) else method


def _action_url(intent: dict[str, Any]) -> str:
    action = intent.get("next_action") or {}
    if action.get("type") == "redirect_to_url" and (action.get("redirect_to_url") or {}).get("url"):
        return action["redirect_to_url"]["url"]
    return STRIPE_JS_ACTION + intent["client_secret"]


def charge_result(intent: dict[str, Any]) -> ChargeResult:
    """A PaymentIntent as our charge result."""
    status, card = intent.get("status"), _card(intent.get("payment_method"))
    if status == "succeeded":
        return ChargeResult(Outcome.SUCCEEDED, intent["id"], card=card)
    if status == "requires_action":
        return ChargeResult(Outcome.REQUIRES_ACTION, intent["id"], action_url=_action_url(intent), card=card)
    if status == "canceled":
        return ChargeResult(Outcome.CANCELED, intent["id"], card=card)
    if status == "requires_payment_method" and intent.get("last_payment_error"):
        return ChargeResult(Outcome.FAILED, intent["id"], failure_code=failure_code(intent["last_payment_error"]),
                            card=card)
    return ChargeResult(Outcome.UNKNOWN)  # processing, requires_confirmation, requires_capture: not final


def save_result(setup: dict[str, Any]) -> SaveMethodResult:
    """A SetupIntent as our save result; its reference is the saved PaymentMethod's id."""
    status, method = setup.get("status"), setup.get("payment_method")
    if status == "succeeded":
        return SaveMethodResult(Outcome.SUCCEEDED, _method_id(method), card=_card(method))
    if status == "requires_action":
        return SaveMethodResult(Outcome.REQUIRES_ACTION, _method_id(method), action_url=_action_url(setup),
                                card=_card(method))
    if setup.get("last_setup_error"):
        return SaveMethodResult(Outcome.FAILED, failure_code=failure_code(setup["last_setup_error"]))
    if status == "canceled":
        return SaveMethodResult(Outcome.FAILED, failure_code=FailureCode.PROCESSING_ERROR)
    return SaveMethodResult(Outcome.UNKNOWN)  # processing, requires_confirmation


def refund_result(refund: dict[str, Any]) -> RefundResult:
    status = refund.get("status")
    if status == "succeeded":
        return RefundResult(Outcome.SUCCEEDED, refund["id"])
    if status in ("failed", "canceled"):
        return RefundResult(Outcome.FAILED, refund["id"], failure_code=FailureCode.PROCESSING_ERROR)
    return RefundResult(Outcome.UNKNOWN)  # pending, requires_action: the bank has not answered yet


def _error_body(error: stripe.StripeError) -> dict[str, Any]:
    body = error.json_body if isinstance(error.json_body, dict) else {}
    return body.get("error") or {}


class StripeProcessor:
    """The `stripe` processor of one Stripe account (its secret key). `api_base` points it
    elsewhere than Stripe (STRIPE_API_BASE: localstripe in tests); `timeout` bounds each call."""

    name = "stripe"
    takes_card_input = False  # the page sends a PaymentMethod Stripe.js made, never card fields
    capabilities = frozenset({Capability.CHARGE, Capability.SAVE_METHOD, Capability.CHARGE_SAVED_OFF_SESSION,
                              Capability.REFUND, Capability.LOOKUP, Capability.CANCEL})

    def __init__(self, secret_key: str, api_base: str | None = None, timeout: float = DEFAULT_TIMEOUT):
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base.rstrip("/")} if api_base else None,
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    def read_card(self, card_number: str, exp: str, cvc: str, **_) -> CardInput:
        """Never: with Stripe the card field is Stripe.js's, and what reaches us is the
        PaymentMethod it made. A form that sends card numbers anyway is refused on the card
        field, before any payment is made."""
        raise invalid("card_number", CARD_FIELD_ONLY, "card_input_refused")

    def payment_method_for_token(self, card_token: str) -> str:
        """What to charge for a card token (`tok_…`) that Stripe.js's `createToken` made: the
        token's card (`card_…`), which PaymentIntents and SetupIntents take as their
        payment_method. Only localstripe's fake Stripe.js sends tokens (its createPaymentMethod
        does nothing); real Stripe.js makes PaymentMethods. Stripe's own call for this,
        `payment_methods.create(type=card, card={token})`, localstripe refuses (its
        PaymentMethods take only a card number), so this reads the token (a GET, so it needs no
        idempotency key), which both answer. Raises InvalidRequest on the card field for a token
        that is unknown or holds no card, Unavailable when Stripe does not answer."""
        try:
            token = self._client.v1.tokens.retrieve(card_token).to_dict()
        except stripe.InvalidRequestError:
            token = {}
        except _UNANSWERED as error:
            log.warning("stripe token unanswered: %s", _describe(error))
            raise Unavailable("Stripe did not answer; try again shortly.") from error
        card_id = (token.get("card") or {}).get("id")
        if not card_id:
            raise invalid("card_number", "This card could not be read. Please enter it again.", "invalid_card_token")
        return card_id

    # ---- the Processor interface ------------------------------------------------------------

    def charge(self, request: ChargeRequest) -> ChargeResult:
        if request.card is not None:
            raise ValueError(NO_CARDS)
        params: dict[str, Any] = {
            "amount": request.amount_atom, "currency": request.currency.lower(),
            "payment_method": request.payment_method_reference, "payment_method_types": ["card"],
            "confirm": True, "return_url": request.return_url,
            "metadata": {METADATA_KEY: request.idempotency_key}, "expand": ["payment_method"],
        }
        if request.customer_reference:
            params["customer"] = request.customer_reference
        return self._create_intent(params, request.idempotency_key)

    def charge_saved(self, request: OffSessionChargeRequest) -> ChargeResult:
        return self._create_intent({
            "amount": request.amount_atom, "currency": request.currency.lower(),
            "customer": request.customer_reference, "payment_method": request.payment_method_reference,
            "payment_method_types": ["card"], "off_session": True, "confirm": True,
            "metadata": {METADATA_KEY: request.idempotency_key}, "expand": ["payment_method"],
        }, request.idempotency_key)

    def save_method(self, request: SaveMethodRequest) -> SaveMethodResult:
        if request.card is not None:
            raise ValueError(NO_CARDS)
        params = {
            "customer": request.customer_reference, "payment_method": request.payment_method_reference,
            "payment_method_types": ["card"], "usage": "off_session", "confirm": True,
            "return_url": request.return_url, "metadata": {METADATA_KEY: request.idempotency_key},
            "expand": ["payment_method"],
        }
        return self._answer(SaveMethodResult, lambda: save_result(
            self._client.v1.setup_intents.create(params, {"idempotency_key": request.idempotency_key}).to_dict()))

    def refund(self, request: RefundRequest) -> RefundResult:
        params: dict[str, Any] = {"payment_intent": request.charge_reference, "amount": request.amount_atom,
                                  "metadata": {METADATA_KEY: request.idempotency_key}}
        if request.reason:
            params["reason"] = request.reason
        return self._answer(RefundResult, lambda: refund_result(
            self._client.v1.refunds.create(params, {"idempotency_key": request.idempotency_key}).to_dict()),
            refused=FailureCode.CHARGE_NOT_REFUNDABLE)

    def lookup(self, idempotency_key: str) -> AnyResult | None:
        """What Stripe holds for our key; UNKNOWN (never None) when it is not found, or when
        Stripe does not answer."""
        try:
            intent = self._find(self._client.v1.payment_intents, idempotency_key)
            if intent is not None:
                return charge_result(intent)
            setup = self._find(self._client.v1.setup_intents, idempotency_key)
            if setup is not None:
                return save_result(setup)
            refund = self._find(self._client.v1.refunds, idempotency_key, expand=False)
            if refund is not None:
                return refund_result(refund)
        except stripe.StripeError as error:
            log.warning("stripe lookup unanswered: %s", _describe(error))
        return ChargeResult(Outcome.UNKNOWN)

    def cancel(self, idempotency_key: str) -> ChargeResult:
        """Cancel the charge's PaymentIntent unless it is final already (then its final state).
        UNKNOWN when it is not found: nothing is there to cancel yet, and Stripe cannot promise
        that nothing will arrive."""
        try:
            intent = self._find(self._client.v1.payment_intents, idempotency_key)
            if intent is None:
                return ChargeResult(Outcome.UNKNOWN)
            result = charge_result(intent)
            if result.outcome not in (Outcome.REQUIRES_ACTION, Outcome.UNKNOWN) or intent["status"] == "processing":
                return result
            try:
                intent = self._client.v1.payment_intents.cancel(
                    intent["id"], {"expand": ["payment_method"]},
                    {"idempotency_key": f"cancel:{idempotency_key}"}).to_dict()
            except stripe.InvalidRequestError:  # the customer finished first: read what they did
                intent = self._client.v1.payment_intents.retrieve(
                    intent["id"], {"expand": ["payment_method"]}).to_dict()
            return charge_result(intent)
        except stripe.StripeError as error:
            log.warning("stripe cancel unanswered: %s", _describe(error))
            return ChargeResult(Outcome.UNKNOWN)

    # ---- customers --------------------------------------------------------------------------

    def customer_reference(self, customer_id: str, email: str) -> str:
        """The id (`cus_…`) of the Stripe customer mirroring our customer `customer_id`, made on
        first use with our id in its metadata and `customer:{customer_id}` as idempotency key.

        Store the answer on our customer (one Stripe id per customer and mode: a test-mode and a
        live-mode customer are different objects at Stripe) and pass it as customer_reference;
        call this only when none is stored. Before making one it looks for a Stripe customer
        with this email whose metadata names our id, so a repeat after Stripe has forgotten the
        idempotency key (24 h) still finds the first. Raises Unavailable when Stripe does not
        answer (asking again is safe), Conflict when our key was used with another email within
        those 24 hours."""
        try:
            for found in self._client.v1.customers.list({"email": email, "limit": 100}).auto_paging_iter():
                if (found.to_dict().get("metadata") or {}).get(METADATA_KEY) == customer_id:
                    return found.id
            return self._client.v1.customers.create(
                {"email": email, "metadata": {METADATA_KEY: customer_id}},
                {"idempotency_key": f"customer:{customer_id}"}).id
        except stripe.IdempotencyError as error:
            raise _reused_key() from error
        except _UNANSWERED as error:
            log.warning("stripe customer unanswered: %s", _describe(error))
            raise Unavailable("Stripe did not answer; try again shortly.") from error

    # ---- translation --------------------------------------------------------------------------

    def _create_intent(self, params: dict[str, Any], key: str) -> ChargeResult:
        return self._answer(ChargeResult, lambda: charge_result(
            self._client.v1.payment_intents.create(params, {"idempotency_key": key}).to_dict()))

    def _answer(self, result_type, call, *, refused: FailureCode | None = None):
        """`call()`'s result, or Stripe's error as a result (the table in this module's docstring).
        `refused` is the failure code of an invalid request (by default: about the payment
        method, invalid_payment_method; else processing_error)."""
        try:
            return call()
        except stripe.CardError as error:
            body = _error_body(error)
            reference = (body.get("payment_intent") or {}).get("id") if result_type is ChargeResult else None
            return result_type(Outcome.FAILED, reference, failure_code=failure_code(body))
        except stripe.IdempotencyError as error:
            raise _reused_key() from error
        except stripe.InvalidRequestError as error:
            log.warning("stripe refused a request: %s", _describe(error))
            about_method = (error.param or "").startswith("payment_method") or \
                (error.code or "").startswith("payment_method")
            code = refused or (FailureCode.INVALID_PAYMENT_METHOD if about_method else FailureCode.PROCESSING_ERROR)
            return result_type(Outcome.FAILED, failure_code=code)
        except _REFUSED_ACCESS as error:
            log.error("stripe refused the account's secret key: %s", _describe(error))
            return result_type(Outcome.FAILED, failure_code=FailureCode.PROCESSING_ERROR)
        except _UNANSWERED as error:
            log.warning("stripe call unanswered: %s", _describe(error))
            return result_type(Outcome.UNKNOWN)

    def _find(self, service, key: str, *, expand: bool = True) -> dict[str, Any] | None:
        """The newest object of this kind (of at most LOOKUP_SCAN) with our key in its metadata."""
        params: dict[str, Any] = {"limit": 100}
        if expand:
            params["expand"] = ["data.payment_method"]
        for seen, found in enumerate(service.list(params).auto_paging_iter(), start=1):
            found = found.to_dict()
            if (found.get("metadata") or {}).get(METADATA_KEY) == key:
                return found
            if seen >= LOOKUP_SCAN:
                return None
        return None


def _reused_key() -> Conflict:
    return Conflict("This idempotency key was already used with a different request.", code="idempotency_key_reused")


def _describe(error: stripe.StripeError) -> str:
    """An error for the log: its class, status, code and Stripe's request id (never a key)."""
    return f"{type(error).__name__} status={error.http_status} code={error.code} request_id={error.request_id}"


# ---- notifications (Stripe webhooks) ----------------------------------------------------------

def verified_event(payload: bytes, signature: str, webhook_secret: str) -> dict[str, Any]:
    """The event Stripe signed, as a plain dict; ValueError when the signature is wrong, missing
    or too old (Stripe's tolerance, 5 minutes: a replayed notification is refused)."""
    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), signature, webhook_secret,
                                              stripe.Webhook.DEFAULT_TOLERANCE)
        return json.loads(payload)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as refused:
        raise ValueError(f"not a notification Stripe signed: {type(refused).__name__}") from None


# Which of our results an event's object is, by event type prefix.
_TRANSLATE = {"payment_intent.": charge_result, "setup_intent.": save_result, "refund.": refund_result}


def event_result(event: dict[str, Any]) -> tuple[str, AnyResult] | None:
    """(our idempotency key, the result the event tells) for a PaymentIntent, SetupIntent or Refund
    event of one of our objects (its `paymentkit_id` metadata); None for any other event."""
    obj = (event.get("data") or {}).get("object") or {}
    our_key = (obj.get("metadata") or {}).get(METADATA_KEY)
    for prefix, translate in _TRANSLATE.items():
        if str(event.get("type", "")).startswith(prefix) and our_key:
            return our_key, translate(obj)
    return None
