"""The pay flow end to end through the stripe connector against localstripe: a payment charged
as a PaymentIntent with our payment id, its customer mirrored at Stripe once (the id kept beside
ours and reused), a setup checkout saving the card to that Stripe customer, and a charge whose
answer was lost settled by the reconcile job."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from domain import checkout_payments, checkout_sessions
from domain.checkout_tokens import new_checkout_token
from domain.ids import new_id
from domain.models import Customer, Payment, PaymentMethod
from domain.payments.processor import ChargeRequest, ChargeResult, Outcome
from domain.payments.stripe import METADATA_KEY, StripeProcessor
from tests.conftest import find_share_link, make_merchant, wait_for
from tests.stripe_connector.conftest import PUBLISHABLE_KEY, SECRET_KEY


def now() -> datetime:
    return datetime.now(UTC)


def session_for(merchant, uow_factory, settings, **link) -> str:
    if link.get("mode") != "setup":
        link.setdefault("line_items", [{"price_id": merchant.price(2500)["id"]}])
    made = merchant.ok("POST", "/payment-links", link)
    token = new_checkout_token(settings.secret_key, now())
    with uow_factory() as uow:
        found = find_share_link(uow.session.get_bind(), made["secure_token"])
        checkout_sessions.store(uow, checkout_sessions.new_session(found, session_id=new_id("cs", False),
                                                                   checkout_token=token, now=now()))
        uow.commit()
    return token


def pay(deps, localstripe, token: str, card: str = "4242424242424242") -> checkout_payments.Attempt:
    form = checkout_payments.PayForm(email="grace@example.com", payment_method=localstripe.payment_method(card))
    return checkout_payments.pay(deps.units, token, form, localstripe.processor(), now=now,
                                 return_url="https://checkout.example.test/return")


def test_a_payment_is_a_payment_intent_and_the_customer_is_mirrored_once(client, uow_factory, settings, deps,
                                                                          localstripe):
    merchant = make_merchant(client, uow_factory).in_test_mode()
    first, second = (session_for(merchant, uow_factory, settings) for _ in range(2))
    assert pay(deps, localstripe, first).completed and pay(deps, localstripe, second).completed
    with uow_factory() as uow:
        sessions = [checkout_sessions.find_by_token(uow, token) for token in (first, second)]
        assert sessions[0].customer_id == sessions[1].customer_id
        stripe_customer = uow.session.get(Customer, sessions[0].customer_id).stripe_customer_id
        payment = uow.session.get(Payment, sessions[0].payment_id)
        payment_id, reference, processor, last4 = (payment.id, payment.processor_reference, payment.processor,
                                                   payment.card["last4"])
    assert stripe_customer.startswith("cus_")
    intent = localstripe.get(f"/v1/payment_intents/{reference}")
    assert (intent["status"], intent["amount"], intent["customer"]) == ("succeeded", 2500, stripe_customer)
    assert intent["metadata"]["paymentkit_id"] == payment_id
    assert (processor, last4) == ("stripe", "4242")


def test_a_setup_checkout_saves_the_card_to_the_stripe_customer(client, uow_factory, settings, deps, localstripe):
    merchant = make_merchant(client, uow_factory).in_test_mode()
    token = session_for(merchant, uow_factory, settings, mode="setup")
    assert pay(deps, localstripe, token).completed
    with uow_factory() as uow:
        session = checkout_sessions.find_by_token(uow, token)
        method = uow.session.get(PaymentMethod, session.payment_method_id)
        saved = (method.processor, method.card_brand, method.card_last4)
        reference = method.processor_reference
        stripe_customer = uow.session.get(Customer, session.customer_id).stripe_customer_id
    assert saved == ("stripe", "visa", "4242")
    # localstripe does not attach a SetupIntent's card to its customer as Stripe does; the
    # SetupIntent itself names the customer and our key.
    [setup] = [s for s in localstripe.get("/v1/setup_intents?limit=100")["data"]
               if s.get("payment_method") == reference]
    assert setup["customer"] == stripe_customer and setup["metadata"]["paymentkit_id"].endswith(".method.0")


def session_status(uow_factory, token: str) -> str:
    with uow_factory() as uow:
        return checkout_sessions.find_by_token(uow, token).status


class AnswerLost(StripeProcessor):
    """The stripe connector whose charge reaches Stripe but whose answer never comes back: the
    PaymentIntent is made (our payment id its idempotency key and metadata), and the connector
    answers what it answers on a timeout or a lost connection, UNKNOWN."""

    def charge(self, request: ChargeRequest) -> ChargeResult:
        super().charge(request)
        return ChargeResult(Outcome.UNKNOWN)


def test_a_charge_whose_answer_was_lost_is_settled_by_the_reconcile_job(client, uow_factory, settings, deps,
                                                                         localstripe, celery_worker):
    """As tests/integration/test_paying.py does with the test processor's timeout: the payment
    stays processing, then payments.reconcile_due hands it to a real worker, whose connector
    (the merchant's stripe keys, at localstripe) finds the PaymentIntent by our id."""
    from workers import context
    from workers.tasks import reconcile_due_payments

    merchant = make_merchant(client, uow_factory).in_test_mode()
    merchant.ok("PUT", "/processor", {"processor": "stripe", "secret_key": SECRET_KEY,
                                      "publishable_key": PUBLISHABLE_KEY, "webhook_secret": "whsec_paymentkit"})
    token = session_for(merchant, uow_factory, settings)
    form = checkout_payments.PayForm(email="grace@example.com", payment_method=localstripe.payment_method(
        "4242424242424242"))
    lost = AnswerLost(SECRET_KEY, api_base=localstripe.base_url)
    attempt = checkout_payments.pay(deps.units, token, form, lost, now=now,
                                    return_url="https://checkout.example.test/return")
    assert attempt.step is checkout_payments.Step.PROCESSING
    with uow_factory() as uow:
        session = checkout_sessions.find_by_token(uow, token)
        payment = uow.session.get(Payment, session.payment_id)
        assert (payment.status, payment.processor, session.status) == ("processing", "stripe", "open")
        payment_id = payment.id
        payment.next_check_at = now() - timedelta(seconds=1)
        uow.commit()

    before = context.processors()
    context.use_processors(replace(deps.processors, stripe_api_base=localstripe.base_url))
    try:
        assert reconcile_due_payments.run() >= 1
        assert wait_for(lambda: session_status(uow_factory, token) == "complete")
    finally:
        context.use_processors(before)

    [intent] = [i for i in localstripe.get("/v1/payment_intents?limit=100")["data"]
                if i["metadata"].get(METADATA_KEY) == payment_id]  # charged once
    assert (intent["status"], intent["amount"]) == ("succeeded", 2500)
    with uow_factory() as uow:
        payment = uow.session.get(Payment, payment_id)
        assert (payment.status, payment.processor_reference, payment.card["last4"]) == (
            "succeeded", intent["id"], "4242")
