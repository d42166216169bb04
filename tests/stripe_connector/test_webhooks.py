"""`POST /webhooks/stripe/{account_id}/{mode}`: signed by Stripe's scheme (`t=…,v1=HMAC-SHA256 of
"{t}.{body}"` with the endpoint's secret, as Stripe's docs and library define it), kept once by event
id, applied by a job. Valid, tampered, replayed (old timestamp), duplicate, unknown type, the other
mode, a refund of another account's, and a payment whose answer was lost completed by the
notification."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from falcon import testing
from sqlalchemy import func, select

from domain import checkout_sessions, payment_records, processor_events, processors
from domain.checkout_tokens import new_checkout_token
from domain.ids import new_id
from domain.models import Payment, ProcessorEvent
from domain.payments.builtin import Faults, TimeoutAt
from domain.payments.stripe import event_result
from domain.queries import Owner
from tests.conftest import find_share_link, make_merchant, metric, wait_for
from tests.integration.test_refunds import paid, refund, refunded  # noqa: F401  (paid: a fixture)

SECRET = "whsec_" + "t3st" * 8


def signed(body: bytes, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    at = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={at},v1={mac}", "Content-Type": "application/json"}


def event(event_id: str, kind: str, obj: dict, livemode: bool = False) -> bytes:
    return json.dumps({"id": event_id, "object": "event", "type": kind, "livemode": livemode,
                       "data": {"object": obj}}).encode()


@pytest.fixture
def shop(client, uow_factory, deps):
    """A test-mode merchant that has chosen stripe, with its webhook secret."""
    merchant = make_merchant(client, uow_factory).in_test_mode()
    with uow_factory() as uow:
        processors.choose(uow, Owner(merchant.account_id, False), processors.ChooseProcessor(
            "stripe", secret_key="sk_test_" + "k" * 24, publishable_key="pk_test_" + "k" * 24, webhook_secret=SECRET),
            deps.processors.box)
        uow.commit()
    return merchant


def post(client, merchant, body: bytes, headers: dict, mode: str = "test"):
    return client.simulate_post(f"/webhooks/stripe/{merchant.account_id}/{mode}", body=body, headers=headers)


def kept(uow_factory, event_id: str) -> int:
    with uow_factory() as uow:
        return uow.session.scalar(select(func.count()).select_from(ProcessorEvent)
                                  .where(ProcessorEvent.event_id == event_id))


def test_a_signed_notification_is_kept_once_and_a_duplicate_changes_nothing(client, shop, uow_factory):
    body = event("evt_1", "customer.created", {"id": "cus_x"})
    first = post(client, shop, body, signed(body))
    assert first.status_code == 200 and first.json == {"received": True, "duplicate": False}
    again = post(client, shop, body, signed(body))
    assert again.status_code == 200 and again.json["duplicate"] is True
    assert kept(uow_factory, "evt_1") == 1


@pytest.mark.parametrize("case", ["tampered", "wrong secret", "replayed", "no signature", "other mode",
                                  "unknown account"])
def test_what_stripe_did_not_sign_for_this_endpoint_is_a_400_and_keeps_nothing(client, shop, uow_factory, case):
    body = event(f"evt_{case.replace(' ', '_')}", "payment_intent.succeeded", {"id": "pi_x"})
    headers, target, mode = signed(body), shop, "test"
    if case == "tampered":
        body = body.replace(b"pi_x", b"pi_y")
    elif case == "wrong secret":
        headers = signed(body, "whsec_other")
    elif case == "replayed":
        headers = signed(body, at=int(time.time()) - 3600)  # Stripe's tolerance is 5 minutes
    elif case == "no signature":
        headers = {"Content-Type": "application/json"}
    elif case == "other mode":
        mode = "live"
    else:
        target = type("Nobody", (), {"account_id": "acct_nobody0000000000000"})()
    refused = post(client, target, body, headers, mode)
    assert refused.status_code == 400 and refused.json["error"]["code"] == "signature_invalid"
    assert kept(uow_factory, f"evt_{case.replace(' ', '_')}") == 0


def test_an_unknown_event_type_is_kept_and_ignored(client, shop, uow_factory):
    body = event("evt_unknown", "radar.early_fraud_warning.created", {"id": "issfr_1"})
    assert post(client, shop, body, signed(body)).status_code == 200
    with uow_factory() as uow:  # applied here, or already by a worker of this test run: either way once
        processor_events.apply(uow, "stripe", "evt_unknown", event_result, datetime.now(UTC))
        uow.commit()
    with uow_factory() as uow:
        row = uow.session.scalars(select(ProcessorEvent).where(ProcessorEvent.event_id == "evt_unknown")).one()
        assert (row.type, row.outcome) == ("radar.early_fraud_warning.created", "ignored") and row.applied_at
        assert processor_events.apply(uow, "stripe", "evt_unknown", event_result, datetime.now(UTC)) is None


def test_a_notification_completes_a_payment_whose_answer_was_lost(client, shop, settings, deps, uow_factory,
                                                                   celery_worker):
    """The charge's answer never came back; Stripe's payment_intent.succeeded (and a late,
    out-of-order requires_action after it) arrive through the endpoint and a real worker."""
    link = shop.ok("POST", "/payment-links", {"line_items": [{"price_id": shop.price(1200)["id"]}]})
    token = new_checkout_token(settings.secret_key, datetime.now(UTC))
    with uow_factory() as uow:
        found = find_share_link(uow.session.get_bind(), link["secure_token"])
        checkout_sessions.store(uow, checkout_sessions.new_session(found, session_id=new_id("cs", False),
                                                                   checkout_token=token, now=datetime.now(UTC)))
        uow.commit()
    from domain import checkout_payments

    lost = replace(deps.processors, faults=Faults(timeout=TimeoutAt.AFTER)).test_processor()
    form = checkout_payments.PayForm(email="a@example.com", card=lost.read_card("4242424242424242", "12/34", "123"))
    assert checkout_payments.pay(deps.units, token, form, lost, return_url="https://x.test/r",
                                 now=lambda: datetime.now(UTC)).step is checkout_payments.Step.PROCESSING
    with uow_factory() as uow:
        payment_id = checkout_sessions.find_by_token(uow, token).payment_id

    intent = {"id": "pi_123", "object": "payment_intent", "status": "succeeded", "metadata": {"paymentkit_id": payment_id},
              "payment_method": {"id": "pm_1", "card": {"brand": "visa", "last4": "4242", "exp_month": 12,
                                                        "exp_year": 2034}}}
    body = event("evt_paid", "payment_intent.succeeded", intent)
    completed = metric("paymentkit_checkout_sessions_completed_total")
    assert post(client, shop, body, signed(body)).status_code == 200
    late = event("evt_late", "payment_intent.requires_action", {**intent, "status": "requires_action",
                                                                  "next_action": {"type": "use_stripe_sdk"},
                                                                  "client_secret": "pi_123_secret"})
    assert post(client, shop, late, signed(late)).status_code == 200

    def outcomes():
        with uow_factory() as uow:
            rows = uow.session.scalars(select(ProcessorEvent).where(ProcessorEvent.event_id.in_(["evt_paid",
                                                                                               "evt_late"]))).all()
            return {row.event_id: row.outcome for row in rows if row.applied_at}

    assert wait_for(lambda: len(outcomes()) == 2)
    assert outcomes() == {"evt_paid": "completed", "evt_late": "recorded"}
    assert wait_for(lambda: metric("paymentkit_checkout_sessions_completed_total") > completed)  # counted after commit
    assert metric("paymentkit_checkout_sessions_completed_total") == completed + 1  # once, by the notification
    with uow_factory() as uow:
        payment = uow.session.get(Payment, payment_id)
        assert (payment.status, payment.processor_reference) == ("succeeded", "pi_123")
        assert checkout_sessions.find_by_token(uow, token).status == "complete"


def test_a_refund_notification_changes_only_a_refund_of_the_endpoints_own_account(client, shop, deps, paid,  # noqa: F811
                                                                                  uow_factory):
    """A merchant chooses its own webhook secret, so it can sign anything to its own endpoint: a
    refund.updated naming another account's pending refund, or a refund of nobody's, is kept and
    ignored (it neither settles the other's refund nor breaks the job)."""
    lost_answer = replace(deps.processors, faults=Faults(timeout=TimeoutAt.AFTER)).test_processor()
    theirs = refund(deps, paid, 700, processor=lost_answer)
    for event_id, key in (("evt_theirs", theirs), ("evt_nobodys", new_id("re", False))):
        body = event(event_id, "refund.updated", {"id": "re_forged", "object": "refund", "status": "succeeded",
                                                  "metadata": {"paymentkit_id": key}})
        assert post(client, shop, body, signed(body)).status_code == 200
        with uow_factory() as uow:  # applied here, or already by a worker of this test run: either way once
            processor_events.apply(uow, "stripe", event_id, event_result, datetime.now(UTC))
            uow.commit()
        with uow_factory() as uow:
            assert uow.session.get(ProcessorEvent, ("stripe", event_id)).outcome == "ignored"
    with uow_factory() as uow:
        assert uow.session.get(payment_records.Refund, theirs).status == "pending"
    assert refunded(uow_factory, paid[1]) == 0
