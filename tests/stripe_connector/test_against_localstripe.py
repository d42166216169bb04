"""The stripe processor (domain/payments/stripe.py) against a real localstripe over HTTP on
loopback: PaymentMethods made as Stripe.js makes them, then charges, declines, 3-D Secure,
saved cards and off-session charges, refunds, lookups of lost answers, cancels and mirrored
customers, each read back from localstripe's own objects.

Where localstripe is not Stripe, the piece is said here and tested in test_recorded_responses.py
against responses recorded from Stripe's API reference:
- it declines 4000 0000 0000 0002 (and 9995, 0069) only when the card is attached (saved), never
  when charged; its charge-time decline is 4000 0000 0000 0341, and every decline it gives has
  code card_declined and no decline_code;
- it ignores Idempotency-Key (a repeated call makes a second object);
- it answers 3-D Secure with next_action use_stripe_sdk only, never redirect_to_url;
- it refunds more than is left of a charge, and refuses a refund's `reason`;
- its lists are oldest first (Stripe's newest first), and it takes `return_url` and a SetupIntent
  confirmed at creation only through the launcher's adjustments (localstripe_server.py).
"""
from __future__ import annotations

import pytest

from domain.ids import new_id
from domain.payments.processor import (
    ChargeRequest, FailureCode, OffSessionChargeRequest, Outcome, Processor, RefundRequest,
    SaveMethodRequest,
)
from domain.payments.stripe import METADATA_KEY, stripe_js_client_secret
from tests.stripe_connector.conftest import EXP_MONTH, EXP_YEAR

BACK = "https://checkout.example.test/checkout/tok/return"
VISA = "4242424242424242"


@pytest.fixture
def processor(localstripe):
    return localstripe.processor()


@pytest.fixture
def customer(processor):
    """A Stripe customer mirroring a fresh one of ours."""
    return processor.customer_reference(new_id("cus", False), "ada@example.test")


def pay(processor, localstripe, number: str, *, customer=None, amount: int = 1500, currency: str = "USD"):
    key = new_id("pay", False)
    return key, processor.charge(ChargeRequest(key, amount, currency, BACK, customer_reference=customer,
                                               payment_method_reference=localstripe.payment_method(number)))


def save(processor, localstripe, number: str, customer: str):
    key = f"{new_id('cs', False)}.method.0"
    method = localstripe.payment_method(number)
    return key, method, processor.save_method(SaveMethodRequest(key, customer, BACK, payment_method_reference=method))


def intent_of(localstripe, key: str) -> dict:
    """The PaymentIntent localstripe holds for our key (read without the connector)."""
    intents = localstripe.get("/v1/payment_intents?limit=100")["data"]
    return next(i for i in intents if i["metadata"].get(METADATA_KEY) == key)


def test_it_is_a_processor_that_declares_all_it_can_do(processor):
    assert isinstance(processor, Processor)
    assert processor.name == "stripe"
    assert {c.value for c in processor.capabilities} == {
        "charge", "save_method", "charge_saved_off_session", "refund", "lookup", "cancel"}


def test_a_charge_succeeds_as_a_payment_intent_holding_our_id(processor, localstripe, customer):
    key, result = pay(processor, localstripe, VISA, customer=customer, amount=1999, currency="EUR")

    assert result.outcome is Outcome.SUCCEEDED
    assert result.card.brand == "visa" and result.card.last4 == "4242"
    assert (result.card.exp_month, result.card.exp_year) == (EXP_MONTH, EXP_YEAR)
    intent = localstripe.get(f"/v1/payment_intents/{result.reference}")
    assert intent["status"] == "succeeded"
    assert (intent["amount"], intent["currency"], intent["customer"]) == (1999, "eur", customer)
    assert intent["metadata"] == {METADATA_KEY: key}


def test_a_charge_without_a_customer_succeeds(processor, localstripe):
    _, result = pay(processor, localstripe, VISA)

    assert result.outcome is Outcome.SUCCEEDED
    assert localstripe.get(f"/v1/payment_intents/{result.reference}")["customer"] is None


def test_a_card_declined_when_charged_fails_with_card_declined(processor, localstripe):
    # localstripe's charge-time decline is 0341 (Stripe: "attaching succeeds, charging fails").
    # 4000 0000 0000 0002 declining a charge is tested on Stripe's recorded answer.
    _, result = pay(processor, localstripe, "4000000000000341")

    assert result.outcome is Outcome.FAILED
    assert result.failure_code is FailureCode.CARD_DECLINED
    assert result.failure_message == "Your card was declined."


def test_saving_4000_0000_0000_0002_is_declined(processor, localstripe, customer):
    _, method, result = save(processor, localstripe, "4000000000000002", customer)

    assert result.outcome is Outcome.FAILED
    assert result.failure_code is FailureCode.CARD_DECLINED
    assert localstripe.get(f"/v1/payment_methods/{method}")["customer"] is None


def test_a_3d_secure_card_requires_action_then_succeeds_once_authenticated(processor, localstripe, customer):
    key, result = pay(processor, localstripe, "4000002500003155", customer=customer)

    assert result.outcome is Outcome.REQUIRES_ACTION
    secret = stripe_js_client_secret(result.action_url)  # localstripe: always Stripe.js's next action
    assert secret.startswith(result.reference + "_secret_")
    assert localstripe.get(f"/v1/payment_intents/{result.reference}")["status"] == "requires_action"

    localstripe.authenticate_payment(secret, success=True)

    found = processor.lookup(key)
    assert found.outcome is Outcome.SUCCEEDED
    assert found.reference == result.reference
    assert found.card.last4 == "3155"


def test_a_failed_authentication_is_a_failed_charge(processor, localstripe):
    key, result = pay(processor, localstripe, "4000002500003155")

    localstripe.authenticate_payment(stripe_js_client_secret(result.action_url), success=False)

    found = processor.lookup(key)
    assert found.outcome is Outcome.FAILED
    assert found.failure_code is FailureCode.AUTHENTICATION_FAILED


def test_cancel_gives_up_a_charge_waiting_for_authentication(processor, localstripe):
    key, result = pay(processor, localstripe, "4000002500003155")

    canceled = processor.cancel(key)

    assert canceled.outcome is Outcome.CANCELED
    assert canceled.reference == result.reference
    assert localstripe.get(f"/v1/payment_intents/{result.reference}")["status"] == "canceled"
    assert processor.lookup(key).outcome is Outcome.CANCELED
    assert processor.cancel(key).outcome is Outcome.CANCELED  # asking again changes nothing


def test_cancel_of_a_finished_charge_answers_its_final_state(processor, localstripe):
    key, result = pay(processor, localstripe, VISA)

    assert processor.cancel(key).outcome is Outcome.SUCCEEDED
    assert localstripe.get(f"/v1/payment_intents/{result.reference}")["status"] == "succeeded"


def test_a_saved_card_is_charged_off_session(processor, localstripe, customer):
    key, method, saved = save(processor, localstripe, "5555555555554444", customer)

    assert saved.outcome is Outcome.SUCCEEDED
    assert saved.reference == method
    assert saved.card.last4 == "4444"
    setup = localstripe.get("/v1/setup_intents?limit=100")["data"]
    assert [s["usage"] for s in setup if s["metadata"].get(METADATA_KEY) == key] == ["off_session"]

    payment_key = new_id("pay", False)
    charged = processor.charge_saved(OffSessionChargeRequest(payment_key, 2500, "USD", customer, saved.reference))

    assert charged.outcome is Outcome.SUCCEEDED
    intent = localstripe.get(f"/v1/payment_intents/{charged.reference}")
    assert (intent["amount"], intent["customer"], intent["payment_method"]) == (2500, customer, method)
    assert intent["metadata"] == {METADATA_KEY: payment_key}


def test_a_card_that_saves_fine_but_fails_off_session_is_declined(processor, localstripe, customer):
    _, _, saved = save(processor, localstripe, "4000000000000341", customer)
    assert saved.outcome is Outcome.SUCCEEDED

    charged = processor.charge_saved(OffSessionChargeRequest(new_id("pay", False), 2500, "USD", customer,
                                                             saved.reference))

    assert charged.outcome is Outcome.FAILED
    assert charged.failure_code is FailureCode.CARD_DECLINED


def test_saving_a_3d_secure_card_requires_action_then_lookup_finds_it_saved(processor, localstripe, customer):
    key, method, result = save(processor, localstripe, "4000002500003155", customer)

    assert result.outcome is Outcome.REQUIRES_ACTION
    localstripe.authenticate_setup(stripe_js_client_secret(result.action_url))

    found = processor.lookup(key)
    assert found.outcome is Outcome.SUCCEEDED
    assert found.reference == method
    assert found.card.last4 == "3155"


def test_refunds_partial_then_the_rest(processor, localstripe):
    _, paid = pay(processor, localstripe, VISA, amount=5000)
    first, rest = new_id("re", False), new_id("re", False)

    partial = processor.refund(RefundRequest(first, paid.reference, 2000, "USD"))
    full = processor.refund(RefundRequest(rest, paid.reference, 3000, "USD"))

    assert partial.outcome is Outcome.SUCCEEDED and full.outcome is Outcome.SUCCEEDED
    assert partial.reference != full.reference
    charge = localstripe.get(f"/v1/payment_intents/{paid.reference}")["latest_charge"]
    assert (charge["amount_refunded"], charge["refunded"]) == (5000, True)
    refunds = localstripe.get(f"/v1/refunds?payment_intent={paid.reference}")["data"]
    assert sorted((r["amount"], r["metadata"][METADATA_KEY]) for r in refunds) == [(2000, first), (3000, rest)]


def test_a_refund_of_a_failed_charge_is_refused(processor, localstripe):
    key, _ = pay(processor, localstripe, "4000000000000341")
    intent = intent_of(localstripe, key)
    assert intent["status"] == "requires_payment_method"

    refused = processor.refund(RefundRequest(new_id("re", False), intent["id"], 100, "USD"))

    assert refused.outcome is Outcome.FAILED
    assert refused.failure_code is FailureCode.CHARGE_NOT_REFUNDABLE


def test_lookup_finds_what_became_of_calls_whose_answers_were_lost(processor, localstripe, customer):
    payment_key, _ = pay(processor, localstripe, VISA, customer=customer)  # the answer thrown away
    method_key, method, _ = save(processor, localstripe, VISA, customer)
    charged = intent_of(localstripe, payment_key)
    refund_key = new_id("re", False)
    processor.refund(RefundRequest(refund_key, charged["id"], 700, "USD"))

    payment = processor.lookup(payment_key)
    saved = processor.lookup(method_key)
    refund = processor.lookup(refund_key)

    assert (payment.outcome, payment.reference, payment.card.last4) == (Outcome.SUCCEEDED, charged["id"], "4242")
    assert (saved.outcome, saved.reference) == (Outcome.SUCCEEDED, method)
    assert refund.outcome is Outcome.SUCCEEDED
    assert localstripe.get(f"/v1/refunds/{refund.reference}")["amount"] == 700


def test_lookup_of_a_key_stripe_never_saw_is_unknown_not_absent(processor):
    # Stripe cannot prove that a call never arrived: the reconcile job must ask again later.
    found = processor.lookup(new_id("pay", False))

    assert found is not None
    assert found.outcome is Outcome.UNKNOWN
    assert processor.cancel(new_id("pay", False)).outcome is Outcome.UNKNOWN


def test_a_customer_is_mirrored_once_however_often_asked(processor, localstripe):
    ours = new_id("cus", False)
    email = f"{ours}@example.test"

    first = processor.customer_reference(ours, email)
    again = [processor.customer_reference(ours, email) for _ in range(3)]
    other = processor.customer_reference(new_id("cus", False), email)  # another of ours, same email

    assert again == [first] * 3
    assert other != first
    mirrored = localstripe.get(f"/v1/customers?email={email}&limit=100")["data"]
    assert sorted(c["id"] for c in mirrored) == sorted([first, other])
    assert next(c for c in mirrored if c["id"] == first)["metadata"] == {METADATA_KEY: ours}

