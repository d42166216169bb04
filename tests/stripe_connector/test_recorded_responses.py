"""The stripe processor against responses recorded from Stripe's API reference, for the pieces
localstripe does not do as Stripe does (test_against_localstripe.py lists them):

- what each call sends: localstripe ignores the Idempotency-Key header, so only the request
  shows that every call carries our id as its key (and in metadata), once, without retrying;
- card declines with their decline_code (localstripe declines 0002, 9995, 0069 only when a card
  is attached, and always with code card_declined, no decline_code);
- 3-D Secure as next_action redirect_to_url (localstripe answers only use_stripe_sdk);
- a SetupIntent created and confirmed in one call (localstripe needs two);
- refunds Stripe refuses (localstripe refunds more than is left), a cancel that loses the race
  with the customer, and a reused idempotency key;
- what Stripe does not answer: rate limits, 5xx, a key in use, timeouts, lost connections;
- lookup through Stripe's newest-first pages (localstripe's are oldest first).

The responses are Stripe's documented objects and errors (https://docs.stripe.com/api/payment_intents/object,
/api/setup_intents/object, /api/refunds/object, /api/customers/object, /api/errors, /declines/codes,
/error-codes), trimmed to the fields the connector reads. They are served by a tiny HTTP server on
loopback that keeps every request it is sent (`recorded`, conftest.py), so the real `stripe`
library makes real requests.
"""
from __future__ import annotations

import pytest

from domain.errors import Conflict, Unavailable
from domain.payments.processor import (
    CardInput, ChargeRequest, FailureCode, OffSessionChargeRequest, Outcome, RefundRequest, SaveMethodRequest,
)
from domain.payments.stripe import LOOKUP_SCAN, METADATA_KEY, StripeProcessor, stripe_js_client_secret

SECRET_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
BACK = "https://checkout.example.test/checkout/tok/return"
KEY = "pay_test_8DwQkVh3Lr2mXq9TzA1b"
METHOD = "pm_1MtwBwLkdIwHu7ixtQ7b1Yt1"
CUSTOMER = "cus_NffrFeUfNV2Hib"
INTENT = "pi_3MtwBwLkdIwHu7ix28a3tqPa"
SECRET = f"{INTENT}_secret_YrKJUKribcBjcG8HVhfZluoGH"
CARD = {"id": METHOD, "object": "payment_method", "type": "card", "customer": CUSTOMER,
        "card": {"brand": "visa", "last4": "4242", "exp_month": 8, "exp_year": 2030, "country": "US",
                 "funding": "credit"}}


def intent(status: str, **fields) -> dict:
    return {"id": INTENT, "object": "payment_intent", "amount": 2000, "currency": "usd", "status": status,
            "client_secret": SECRET, "customer": CUSTOMER, "livemode": False, "payment_method": CARD,
            "metadata": {METADATA_KEY: KEY}, "next_action": None, "last_payment_error": None,
            "latest_charge": "ch_3MtwBwLkdIwHu7ix2B5Qb9Ab", **fields}


def page(*objects, url: str = "/v1/payment_intents", has_more: bool = False) -> dict:
    return {"object": "list", "url": url, "has_more": has_more, "data": list(objects)}


def card_error(code: str, decline_code: str | None, message: str, **fields) -> dict:
    error = {"type": "card_error", "code": code, "message": message,
             "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}", **fields}
    if decline_code:
        error["decline_code"] = decline_code
    return {"error": error}


def declined_intent(error: dict) -> dict:
    """The PaymentIntent a card error carries, as Stripe sends it back."""
    return intent("requires_payment_method", last_payment_error={k: v for k, v in error["error"].items()
                                                                 if k != "payment_intent"})


REDIRECT = ("https://hooks.stripe.com/3d_secure_2/hosted?merchant=acct_1Mt0BqLkdIwHu7ix&payment_intent="
            f"{INTENT}&payment_intent_client_secret={SECRET}&publishable_key=pk_test_TYooMQauvdEDq54NiTphI7jx"
            "&source=payatt_3MtwBwLkdIwHu7ix2tjzZGcS")
SETUP = {"id": "seti_1Mm8s8LkdIwHu7ix0OXBfTRG", "object": "setup_intent", "status": "succeeded",
         "usage": "off_session", "customer": CUSTOMER, "client_secret": "seti_1Mm8s8LkdIwHu7ix0OXBfTRG_secret_NXDICkPqPeiBTAFqWmkbff09lRmSVXe",
         "payment_method": CARD, "next_action": None, "last_setup_error": None,
         "metadata": {METADATA_KEY: "cs_test_x.method.0"}}
REFUND = {"id": "re_3MtwBwLkdIwHu7ix0w1NHXH2", "object": "refund", "amount": 1000, "currency": "usd",
          "charge": "ch_3MtwBwLkdIwHu7ix2B5Qb9Ab", "payment_intent": INTENT, "reason": "requested_by_customer",
          "status": "succeeded", "metadata": {METADATA_KEY: "re_test_Q3b9"}}


@pytest.fixture
def processor(recorded):
    return StripeProcessor(SECRET_KEY, api_base=recorded.base_url, timeout=0.5)


def charge(processor, **fields):
    return processor.charge(ChargeRequest(KEY, 2000, "USD", BACK, customer_reference=CUSTOMER,
                                          payment_method_reference=METHOD, **fields))


# ---- what is sent ------------------------------------------------------------------------------

def test_a_charge_is_one_payment_intent_confirmed_at_once_under_our_key(processor, recorded):
    recorded.answer((200, intent("succeeded")))

    result = charge(processor)

    assert (result.outcome, result.reference, result.card.last4) == (Outcome.SUCCEEDED, INTENT, "4242")
    [sent] = recorded.sent
    assert (sent.method, sent.path) == ("POST", "/v1/payment_intents")
    assert sent.headers["idempotency-key"] == KEY
    assert sent.headers["authorization"] == f"Bearer {SECRET_KEY}"
    assert sent.form == {
        "amount": "2000", "currency": "usd", "payment_method": METHOD, "payment_method_types[0]": "card",
        "confirm": "true", "return_url": BACK, "metadata[paymentkit_id]": KEY, "expand[0]": "payment_method",
        "customer": CUSTOMER}


def test_an_off_session_charge_is_confirmed_off_session_under_our_key(processor, recorded):
    recorded.answer((200, intent("succeeded")))

    result = processor.charge_saved(OffSessionChargeRequest(KEY, 2000, "USD", CUSTOMER, METHOD))

    assert result.outcome is Outcome.SUCCEEDED
    [sent] = recorded.sent
    assert sent.headers["idempotency-key"] == KEY
    assert sent.form["off_session"] == "true" and sent.form["confirm"] == "true"
    assert (sent.form["customer"], sent.form["payment_method"]) == (CUSTOMER, METHOD)
    assert "return_url" not in sent.form


def test_a_card_is_saved_by_one_setup_intent_created_and_confirmed_at_once(processor, recorded):
    # localstripe confirms a SetupIntent only in a second call (its launcher joins the two).
    recorded.answer((200, SETUP))

    saved = processor.save_method(SaveMethodRequest("cs_test_x.method.0", CUSTOMER, BACK,
                                                    payment_method_reference=METHOD))

    assert (saved.outcome, saved.reference, saved.card.brand) == (Outcome.SUCCEEDED, METHOD, "visa")
    [sent] = recorded.sent
    assert (sent.path, sent.headers["idempotency-key"]) == ("/v1/setup_intents", "cs_test_x.method.0")
    assert sent.form == {
        "customer": CUSTOMER, "payment_method": METHOD, "payment_method_types[0]": "card", "usage": "off_session",
        "confirm": "true", "return_url": BACK, "metadata[paymentkit_id]": "cs_test_x.method.0",
        "expand[0]": "payment_method"}


def test_a_refund_is_a_refund_of_the_payment_intent_under_the_refund_id(processor, recorded):
    recorded.answer((200, REFUND))

    result = processor.refund(RefundRequest("re_test_Q3b9", INTENT, 1000, "USD", "requested_by_customer"))

    assert (result.outcome, result.reference) == (Outcome.SUCCEEDED, REFUND["id"])
    [sent] = recorded.sent
    assert (sent.path, sent.headers["idempotency-key"]) == ("/v1/refunds", "re_test_Q3b9")
    assert sent.form == {"payment_intent": INTENT, "amount": "1000", "reason": "requested_by_customer",
                         "metadata[paymentkit_id]": "re_test_Q3b9"}


def test_a_pending_refund_is_not_known_yet(processor, recorded):
    recorded.answer((200, {**REFUND, "status": "pending"}))

    assert processor.refund(RefundRequest("re_test_Q3b9", INTENT, 1000, "USD")).outcome is Outcome.UNKNOWN


def test_a_customer_is_made_under_a_key_derived_from_our_id_and_the_key_is_the_same_every_time(processor, recorded):
    # localstripe ignores the key; Stripe answers a repeat within 24 hours with the first customer.
    made = {"id": CUSTOMER, "object": "customer", "email": "ada@example.test", "metadata": {METADATA_KEY: "cus_test_1"}}
    recorded.answer((200, page(url="/v1/customers")), (200, made), (200, page(url="/v1/customers")), (200, made))

    first = processor.customer_reference("cus_test_1", "ada@example.test")
    again = processor.customer_reference("cus_test_1", "ada@example.test")

    assert first == again == CUSTOMER
    lists, creates = recorded.sent[0::2], recorded.sent[1::2]
    assert [(s.method, s.path, s.query["email"]) for s in lists] == [("GET", "/v1/customers", "ada@example.test")] * 2
    assert [s.headers["idempotency-key"] for s in creates] == ["customer:cus_test_1"] * 2
    assert creates[0].form == {"email": "ada@example.test", "metadata[paymentkit_id]": "cus_test_1"}


def test_card_input_is_refused_before_anything_is_sent(processor, recorded):
    card = CardInput("4242424242424242", 12, 2034, "123")

    with pytest.raises(ValueError, match="no card input"):
        processor.charge(ChargeRequest(KEY, 100, "USD", BACK, card=card))
    with pytest.raises(ValueError, match="no card input"):
        processor.save_method(SaveMethodRequest("cs_x.method.0", CUSTOMER, BACK, card=card))
    assert recorded.sent == []


# ---- what Stripe answers ------------------------------------------------------------------------

def test_3d_secure_with_a_redirect_sends_the_customer_to_stripes_url(processor, recorded):
    # Stripe, confirming server-side with a return_url; localstripe only answers use_stripe_sdk.
    recorded.answer((200, intent("requires_action", next_action={
        "type": "redirect_to_url", "redirect_to_url": {"url": REDIRECT, "return_url": BACK}})))

    result = charge(processor)

    assert (result.outcome, result.action_url, result.reference) == (Outcome.REQUIRES_ACTION, REDIRECT, INTENT)
    assert stripe_js_client_secret(result.action_url) is None


def test_3d_secure_for_stripe_js_hands_the_page_the_client_secret(processor, recorded):
    recorded.answer((200, intent("requires_action", next_action={
        "type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": ""}})))

    result = charge(processor)

    assert result.action_url == f"stripe-js:{SECRET}"
    assert stripe_js_client_secret(result.action_url) == SECRET


DECLINES = [  # Stripe's test cards (https://docs.stripe.com/testing#declined-payments) and what they answer
    ("4000000000000002", card_error("card_declined", "generic_decline", "Your card was declined."),
     FailureCode.CARD_DECLINED),
    ("4000000000009995", card_error("card_declined", "insufficient_funds", "Your card has insufficient funds."),
     FailureCode.INSUFFICIENT_FUNDS),
    ("4000000000009987", card_error("card_declined", "lost_card", "Your card was declined."),
     FailureCode.CARD_DECLINED),
    ("4000000000000069", card_error("expired_card", "expired_card", "Your card has expired.", param="exp_month"),
     FailureCode.EXPIRED_CARD),
    ("4000000000000127", card_error("incorrect_cvc", None, "Your card's security code is incorrect.", param="cvc"),
     FailureCode.CARD_DECLINED),
    ("4000000000000119", card_error("processing_error", None,
                                    "An error occurred while processing your card. Try again in a little bit."),
     FailureCode.PROCESSING_ERROR),
]


@pytest.mark.parametrize("number, error, expected", DECLINES, ids=[d[0] for d in DECLINES])
def test_card_declines_map_to_our_failure_codes(processor, recorded, number, error, expected):
    recorded.answer((402, {"error": {**error["error"], "payment_intent": declined_intent(error)}}))

    result = charge(processor)

    assert (result.outcome, result.failure_code, result.reference) == (Outcome.FAILED, expected, INTENT)


def test_an_off_session_charge_that_needs_the_customer_fails_as_authentication_failed(processor, recorded):
    # 4000 0027 6000 3184 charged off-session: Stripe declines rather than asking for a challenge.
    error = card_error("authentication_required", "authentication_required",
                       "Your card was declined. This transaction requires authentication.")
    error["error"]["payment_intent"] = declined_intent(error)
    recorded.answer((402, error))

    result = processor.charge_saved(OffSessionChargeRequest(KEY, 2000, "USD", CUSTOMER, METHOD))

    assert (result.outcome, result.failure_code) == (Outcome.FAILED, FailureCode.AUTHENTICATION_FAILED)


def test_a_declined_save_fails_with_the_decline(processor, recorded):
    error = card_error("card_declined", "insufficient_funds", "Your card has insufficient funds.")
    error["error"]["setup_intent"] = {**SETUP, "status": "requires_payment_method", "payment_method": None,
                                      "last_setup_error": dict(error["error"])}
    recorded.answer((402, error))

    saved = processor.save_method(SaveMethodRequest("cs_test_x.method.0", CUSTOMER, BACK,
                                                    payment_method_reference=METHOD))

    assert (saved.outcome, saved.failure_code) == (Outcome.FAILED, FailureCode.INSUFFICIENT_FUNDS)


def test_a_payment_method_stripe_does_not_know_is_an_invalid_payment_method(processor, recorded):
    recorded.answer((400, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                     "param": "payment_method", "message": "No such PaymentMethod: 'pm_bogus'",
                                     "doc_url": "https://stripe.com/docs/error-codes/resource-missing"}}))

    result = charge(processor)

    assert (result.outcome, result.failure_code) == (Outcome.FAILED, FailureCode.INVALID_PAYMENT_METHOD)


@pytest.mark.parametrize("error", [
    {"type": "invalid_request_error", "param": "amount",
     "message": "Refund amount ($30.00) is greater than unrefunded amount on charge ($20.00)"},
    {"type": "invalid_request_error", "code": "charge_already_refunded",
     "message": "Charge ch_3MtwBwLkdIwHu7ix2B5Qb9Ab has already been refunded."},
], ids=["more than is left", "already refunded"])
def test_a_refund_stripe_refuses_is_not_refundable(processor, recorded, error):
    # localstripe refunds more than is left of a charge.
    recorded.answer((400, {"error": error}))

    result = processor.refund(RefundRequest("re_test_Q3b9", INTENT, 3000, "USD"))

    assert (result.outcome, result.failure_code) == (Outcome.FAILED, FailureCode.CHARGE_NOT_REFUNDABLE)


def test_a_revoked_secret_key_fails_the_charge_and_moves_nothing(processor, recorded):
    recorded.answer((401, {"error": {"type": "invalid_request_error",
                                     "message": "Invalid API Key provided: sk_test_********************7dc"}}))

    result = charge(processor)

    assert (result.outcome, result.failure_code) == (Outcome.FAILED, FailureCode.PROCESSING_ERROR)


def test_a_key_reused_for_another_request_is_our_mistake(processor, recorded):
    recorded.answer((400, {"error": {"type": "idempotency_error", "message": (
        f"Keys for idempotent requests can only be used with the same parameters they were first used with. "
        f"Try using a key other than '{KEY}' if you meant to execute a different request.")}}))

    with pytest.raises(Conflict) as raised:
        charge(processor)
    assert raised.value.code == "idempotency_key_reused"


UNANSWERED = [
    (429, {"error": {"type": "invalid_request_error", "code": "rate_limit",
                     "message": "Too many requests hit the API too quickly."}}),
    (500, {"error": {"type": "api_error", "message": "Sorry, something went wrong."}}),
    (409, {"error": {"type": "invalid_request_error", "code": "idempotency_key_in_use", "message": (
        "There is currently another in-progress request using this Idempotent Key (that probably means you "
        "submitted twice, and the other request is still going through). Please try again later.")}}),
    "drop",
    ("hang", 1.0),  # the processor's timeout is 0.5 s
]


@pytest.mark.parametrize("answer", UNANSWERED, ids=["rate limited", "5xx", "key in use", "lost connection",
                                                   "timeout"])
def test_an_unanswered_call_is_unknown_and_not_retried(processor, recorded, answer):
    recorded.answer(answer, answer)

    assert charge(processor).outcome is Outcome.UNKNOWN
    assert processor.refund(RefundRequest("re_test_Q3b9", INTENT, 1000, "USD")).outcome is Outcome.UNKNOWN
    assert len(recorded.sent) == 2  # one request each: the reconcile job asks again, by lookup
    assert [s.headers["idempotency-key"] for s in recorded.sent] == [KEY, "re_test_Q3b9"]


def test_a_customer_stripe_does_not_answer_for_is_unavailable(processor, recorded):
    recorded.answer("drop")

    with pytest.raises(Unavailable):
        processor.customer_reference("cus_test_1", "ada@example.test")


# ---- lookup and cancel ------------------------------------------------------------------------

def test_lookup_reads_stripes_newest_first_pages_until_our_key(processor, recorded):
    others = [intent("succeeded", id=f"pi_other{n:03d}", metadata={METADATA_KEY: f"pay_test_{n}"}) for n in range(100)]
    recorded.answer((200, page(*others, has_more=True)), (200, page(intent("succeeded"))))

    found = processor.lookup(KEY)

    assert (found.outcome, found.reference, found.card.last4) == (Outcome.SUCCEEDED, INTENT, "4242")
    first, second = recorded.sent
    assert (first.method, first.path) == ("GET", "/v1/payment_intents")
    assert first.query == {"limit": "100", "expand[0]": "data.payment_method"}
    assert second.query["starting_after"] == "pi_other099"


def test_lookup_looks_through_the_newest_objects_of_each_kind_only(processor, recorded):
    for url, prefix in [("/v1/payment_intents", "pi"), ("/v1/setup_intents", "seti"), ("/v1/refunds", "re")]:
        for n in range(LOOKUP_SCAN // 100):
            recorded.answer((200, page(*[{"id": f"{prefix}_{n}_{i}", "metadata": {}} for i in range(100)], url=url,
                                       has_more=True)))

    assert processor.lookup(KEY).outcome is Outcome.UNKNOWN
    assert [s.path for s in recorded.sent] == (["/v1/payment_intents"] * 3 + ["/v1/setup_intents"] * 3
                                               + ["/v1/refunds"] * 3)


def test_lookup_is_unknown_when_stripe_does_not_answer(processor, recorded):
    recorded.answer((500, {"error": {"type": "api_error", "message": "Sorry, something went wrong."}}))

    assert processor.lookup(KEY).outcome is Outcome.UNKNOWN


def test_cancel_that_loses_the_race_with_the_customer_answers_what_they_did(processor, recorded):
    recorded.answer(
        (200, page(intent("requires_action", next_action={"type": "use_stripe_sdk"}))),
        (400, {"error": {"type": "invalid_request_error", "code": "payment_intent_unexpected_state", "message": (
            "You cannot cancel this PaymentIntent because it has a status of succeeded. Only a PaymentIntent with "
            "one of the following statuses may be canceled: requires_payment_method, requires_capture, "
            "requires_confirmation, requires_action, processing.")}}),
        (200, intent("succeeded")))

    result = processor.cancel(KEY)

    assert (result.outcome, result.reference) == (Outcome.SUCCEEDED, INTENT)
    cancel, read = recorded.sent[1:]
    assert (cancel.method, cancel.path, cancel.headers["idempotency-key"]) == (
        "POST", f"/v1/payment_intents/{INTENT}/cancel", f"cancel:{KEY}")
    assert (read.method, read.path) == ("GET", f"/v1/payment_intents/{INTENT}")
