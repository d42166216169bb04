"""Paying at the hosted checkout through the built-in test processor: each mode with each outcome,
declines and retries, authentication, card testing, concurrent Pay clicks, and outcomes nobody told
us (a processor timeout) resolved by the reconcile job. Real PostgreSQL, Redis and the app."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import pytest
from falcon import testing
from freezegun import freeze_time
from sqlalchemy import func, select

from domain import checkout_payments, checkout_sessions
from domain.checkout_tokens import new_checkout_token
from domain.ids import new_id
from domain.models import (CheckoutSession, Coupon, Customer, Payment, PaymentMethod, Subscription,
                           TestProcessorOperation)
from domain.payments.builtin import Faults, Kind, TimeoutAt
from tests.conftest import find_share_link, make_merchant

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
BROWSER = {"Accept": "text/html"}
SUCCESS = "https://shop.example/thanks?session={CHECKOUT_SESSION_ID}"
VISA, DECLINED, NO_FUNDS, EXPIRED = "4242424242424242", "4000000000000002", "4000000000009995", "4000000000000069"
CHALLENGE, OFF_SESSION_DECLINE = "4000002500003155", "4000000000000341"

_ips = iter(range(1, 10_000_000))


def next_ip() -> str:
    n = next(_ips)
    return f"10.88.{n // 250 % 250}.{n % 250 + 1}"


@pytest.fixture
def merchant(client, uow_factory):
    return make_merchant(client, uow_factory).in_test_mode()


def make_link(merchant, **fields) -> dict:
    if "line_items" not in fields and "package_ids" not in fields and fields.get("mode") != "setup":
        fields["line_items"] = [{"price_id": merchant.price(1999)["id"]}]
    return merchant.ok("POST", "/payment-links", fields)


def open_session(uow_factory, settings, link: dict, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    token = new_checkout_token(settings.secret_key, now)
    with uow_factory() as uow:
        found = find_share_link(uow.session.get_bind(), link["secure_token"])
        checkout_sessions.store(uow, checkout_sessions.new_session(found, session_id=new_id("cs", found.livemode),
                                                                   checkout_token=token, now=now))
        uow.commit()
    return token


def pay(client, token: str, card: str = VISA, *, email: str = "ada@example.com", ip: str | None = None,
        **fields) -> testing.Result:
    body = urlencode({"email": email, "name": "Ada Lovelace", "card_number": card, "exp": "12/34", "cvc": "123",
                      **fields})
    return client.simulate_post(f"/checkout/{token}/pay", body=body, headers=FORM, remote_addr=ip or next_ip())


def follow(client, result: testing.Result) -> testing.Result:
    """Follow a 303 on our own origin (the test client speaks to the app, not to hosts)."""
    assert result.status_code == 303, (result.status, result.text[:500])
    parts = urlsplit(result.headers["location"])
    return client.simulate_get(parts.path, query_string=parts.query, headers=BROWSER, remote_addr=next_ip())


def session_of(uow_factory, token: str) -> CheckoutSession:
    with uow_factory() as uow:
        found = checkout_sessions.find_by_token(uow, token)
        uow.session.expunge(found)
        return found


def payments_of(uow_factory, session_id: str) -> list[Payment]:
    with uow_factory() as uow:
        found = list(uow.session.scalars(select(Payment).where(Payment.checkout_session_id == session_id)
                                         .order_by(Payment.created_at)))
        uow.session.expunge_all()
        return found


def methods_of(uow_factory, customer_id: str | None) -> list[PaymentMethod]:
    with uow_factory() as uow:
        found = list(uow.session.scalars(select(PaymentMethod).where(PaymentMethod.customer_id == customer_id)
                                         .order_by(PaymentMethod.created_at)))
        uow.session.expunge_all()
        return found


def calls_with(uow_factory, key: str) -> int:
    """The test processor's calls made with this idempotency key (our payment id, a card's method key)."""
    with uow_factory() as uow:
        return uow.session.scalar(select(func.count()).select_from(TestProcessorOperation).where(
            TestProcessorOperation.idempotency_key == key))


def reconcile(deps, payment_id: str) -> checkout_payments.Attempt | None:
    """What the reconcile job does for one payment, in this process."""
    return checkout_payments.reconcile(deps.units, payment_id, deps.processors.for_processor,
                                       lambda: datetime.now(UTC))


def reconcile_method(deps, session_id: str) -> checkout_payments.Attempt | None:
    """What the reconcile job does for one setup checkout whose card's answer was lost."""
    return checkout_payments.reconcile_saved_method(deps.units, session_id, deps.processors.for_owner,
                                                    lambda: datetime.now(UTC))


def with_faults(settings, deps, faults: Faults) -> testing.TestClient:
    """The app with a test processor that misbehaves as `faults` says."""
    from api.app import create_app

    return testing.TestClient(create_app(settings, replace(deps, processors=replace(deps.processors, faults=faults))))


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


# ---- payment mode ----------------------------------------------------------------------------

def test_a_payment_with_4242_charges_the_total_once_and_completes_the_session(client, merchant, uow_factory,
                                                                               settings):
    token = open_session(uow_factory, settings, make_link(merchant, success_url=SUCCESS))
    result = pay(client, token, "4242 4242 4242 4242", email="Ada@Example.com")
    session = session_of(uow_factory, token)
    assert result.status_code == 303
    assert result.headers["location"] == f"https://shop.example/thanks?session={session.id}"
    assert (session.status, session.payment_status, session.customer_email) == ("complete", "paid", "Ada@Example.com")
    [payment] = payments_of(uow_factory, session.id)
    assert (payment.status, payment.amount_atom, payment.currency, payment.processor) == ("succeeded", 1999, "USD",
                                                                                           "test")
    assert payment.id == session.payment_id and payment.customer_id == session.customer_id
    assert payment.card == {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034}
    assert payment.processor_reference.startswith("ch_test_")
    with uow_factory() as uow:
        customer = uow.session.get(Customer, session.customer_id)
        assert (customer.email, customer.name, customer.livemode) == ("Ada@Example.com", "Ada Lovelace", False)
        charges = uow.session.scalar(select(func.count()).select_from(TestProcessorOperation).where(
            TestProcessorOperation.idempotency_key == payment.id))
    assert charges == 1  # our payment id is the processor call's idempotency key


def test_the_confirmation_page_shows_the_summary_and_the_payment_reference(client, merchant, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant))
    done = follow(client, pay(client, token))
    session = session_of(uow_factory, token)
    assert "Payment complete" in done.text and session.payment_id in done.text


def test_a_returning_customer_is_found_by_email_in_any_case(client, merchant, uow_factory, settings):
    link = make_link(merchant)
    first, second = open_session(uow_factory, settings, link), open_session(uow_factory, settings, link)
    pay(client, first, email="grace@example.com")
    pay(client, second, email="GRACE@example.COM")
    assert session_of(uow_factory, first).customer_id == session_of(uow_factory, second).customer_id


def test_the_links_own_customer_pays(client, merchant, uow_factory, settings):
    customer = merchant.ok("POST", "/customers", {"email": "known@example.com"})
    token = open_session(uow_factory, settings, make_link(merchant, customer_id=customer["id"]))
    pay(client, token, email="someone.else@example.com")
    assert session_of(uow_factory, token).customer_id == customer["id"]


@pytest.mark.parametrize("card, code, message", [
    (DECLINED, "card_declined", "Your card was declined."),
    (NO_FUNDS, "insufficient_funds", "Your card has insufficient funds."),
    (EXPIRED, "expired_card", "Your card has expired."),
])
def test_a_decline_is_shown_at_the_card_field_and_a_retry_succeeds(client, merchant, uow_factory, settings,
                                                                    card, code, message):
    token = open_session(uow_factory, settings, make_link(merchant))
    declined = pay(client, token, card)
    assert declined.status_code == 402
    field = re.search(r'<div class="field invalid">.*?</div>\s*</div>', declined.text, re.S).group(0)
    assert 'name="card_number"' in field and message in field
    assert 'value="ada@example.com"' in declined.text and card not in declined.text  # the email kept, never the card
    session = session_of(uow_factory, token)
    assert (session.status, session.payment_id, session.failed_attempts) == ("open", None, 1)
    [failed] = payments_of(uow_factory, session.id)
    assert (failed.status, failed.failure_code, failed.failure_message) == ("failed", code, message)

    assert pay(client, token).status_code == 303
    paid = session_of(uow_factory, token)
    assert paid.status == "complete"
    assert [p.status for p in payments_of(uow_factory, paid.id)] == ["failed", "succeeded"]


def test_a_card_that_is_not_a_test_card_is_refused_on_the_form_and_nothing_is_made(client, merchant, uow_factory,
                                                                                    settings):
    token = open_session(uow_factory, settings, make_link(merchant))
    refused = pay(client, token, "5105105105105100")
    assert refused.status_code == 400 and "Use a test card" in refused.text
    bad_expiry = pay(client, token, exp="01/20")
    assert bad_expiry.status_code == 400 and "expiry date is in the past" in bad_expiry.text
    no_email = pay(client, token, email="not-an-email")
    assert no_email.status_code == 400 and "email must be an email address" in no_email.text
    session = session_of(uow_factory, token)
    assert (session.status, session.customer_id, session.failed_attempts) == ("open", None, 0)
    assert payments_of(uow_factory, session.id) == []


def test_five_declines_lock_the_checkout(client, merchant, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant))
    for _ in range(5):
        assert pay(client, token, DECLINED).status_code == 402
    locked = pay(client, token)
    assert locked.status_code == 409 and "no more attempts" in locked.text
    assert session_of(uow_factory, token).status == "open"
    assert len(payments_of(uow_factory, session_of(uow_factory, token).id)) == 5
    assert 'name="card_number"' not in client.simulate_get(f"/checkout/{token}").text


def test_pay_attempts_are_limited_per_client_address(client, merchant, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant))
    ip = next_ip()
    for _ in range(settings.pay_rate_capacity):
        assert pay(client, token, DECLINED, ip=ip).status_code in (402, 409)
    limited = pay(client, token, ip=ip)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["content-type"].startswith("text/html") and "Too many attempts" in limited.text
    assert f"Please wait {limited.headers['Retry-After']} seconds, then try again." in limited.text
    assert f'href="https://checkout.example.test/checkout/{token}">Back to the checkout</a>' in limited.text
    assert session_of(uow_factory, token).status == "open"


def test_authentication_authorize_then_back_completes(client, merchant, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant))
    sent = pay(client, token, CHALLENGE)
    assert sent.status_code == 303 and "/checkout/challenge/" in sent.headers["location"]
    waiting = session_of(uow_factory, token)
    [payment] = payments_of(uow_factory, waiting.id)
    assert payment.status == "requires_action" and waiting.status == "open"
    assert "Confirm your payment" in client.simulate_get(f"/checkout/{token}").text  # resumes, charges nothing new

    challenge = follow(client, sent)
    assert "Authorize" in challenge.text and "4242" not in challenge.text and "3155" in challenge.text
    answered = client.simulate_post(urlsplit(sent.headers["location"]).path, body="answer=authorize", headers=FORM)
    assert answered.status_code == 303 and answered.headers["location"].endswith(f"/checkout/{token}/return")
    back = follow(client, answered)
    assert back.status_code == 303 or "Payment complete" in back.text
    assert session_of(uow_factory, token).status == "complete"
    assert [p.status for p in payments_of(uow_factory, waiting.id)] == ["succeeded"]


def test_the_authentication_page_may_send_the_customer_on_to_the_shop(client, merchant, uow_factory, settings):
    """Authorize goes back to the checkout, which sends the customer to success_url: browsers check
    a form's redirects against form-action, so the page names the shop's origin too."""
    token = open_session(uow_factory, settings, make_link(merchant, success_url=SUCCESS,
                                                           return_url="http://cart.example:8080/cart"))
    challenge = follow(client, pay(client, token, CHALLENGE))
    form_action = next(part.strip() for part in challenge.headers["content-security-policy"].split(";")
                       if part.strip().startswith("form-action"))
    assert form_action == "form-action https://checkout.example.test https://shop.example http://cart.example:8080"
    assert "Test mode" in challenge.text and "$19.99" in challenge.text


def test_authentication_failed_is_a_decline_and_the_customer_may_try_again(client, merchant, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant))
    sent = pay(client, token, CHALLENGE)
    answered = client.simulate_post(urlsplit(sent.headers["location"]).path, body="answer=fail", headers=FORM)
    back = follow(client, answered)
    assert back.status_code == 402 and "could not be authenticated" in back.text
    assert session_of(uow_factory, token).failed_attempts == 1
    assert pay(client, token).status_code == 303
    assert session_of(uow_factory, token).status == "complete"


# ---- setup and subscription modes ------------------------------------------------------------

def test_setup_saves_the_card_to_the_customer_and_charges_nothing(client, merchant, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant, mode="setup"))
    assert pay(client, token, "5555 5555 5555 4444").status_code == 303
    session = session_of(uow_factory, token)
    assert (session.status, session.payment_status, session.payment_id) == ("complete", "no_payment_required", None)
    with uow_factory() as uow:
        method = uow.session.get(PaymentMethod, session.payment_method_id)
        assert (method.customer_id, method.type, method.card_brand, method.card_last4, method.processor) == \
            (session.customer_id, "card", "mastercard", "4444", "test")
    assert payments_of(uow_factory, session.id) == []


def test_a_declined_card_in_setup_saves_nothing_and_the_customer_may_try_again(client, merchant, uow_factory,
                                                                             settings):
    token = open_session(uow_factory, settings, make_link(merchant, mode="setup"))
    declined = pay(client, token, NO_FUNDS)
    assert declined.status_code == 402 and "Your card has insufficient funds." in declined.text
    session = session_of(uow_factory, token)
    assert (session.status, session.payment_method_id, session.failed_attempts) == ("open", None, 1)
    assert methods_of(uow_factory, session.customer_id) == []
    assert pay(client, token).status_code == 303
    saved = session_of(uow_factory, token)
    assert (saved.status, saved.payment_status) == ("complete", "no_payment_required")
    assert [m.card_last4 for m in methods_of(uow_factory, saved.customer_id)] == ["4242"]
    assert payments_of(uow_factory, saved.id) == []


@pytest.mark.parametrize("answer", ["authorize", "fail"])
def test_setup_with_a_card_that_authenticates_saves_it_only_once_authorized(client, merchant, uow_factory, settings,
                                                                            answer):
    token = open_session(uow_factory, settings, make_link(merchant, mode="setup"))
    sent = pay(client, token, CHALLENGE)
    assert sent.status_code == 303 and "/checkout/challenge/" in sent.headers["location"]
    waiting = session_of(uow_factory, token)
    assert (waiting.status, waiting.payment_method_id) == ("open", None)
    assert methods_of(uow_factory, waiting.customer_id) == []
    answered = client.simulate_post(urlsplit(sent.headers["location"]).path, body=f"answer={answer}", headers=FORM)
    back = follow(client, answered)
    session = session_of(uow_factory, token)
    if answer == "authorize":
        assert back.status_code == 303 or "complete" in back.text.lower()
        assert (session.status, session.payment_status) == ("complete", "no_payment_required")
        [method] = methods_of(uow_factory, session.customer_id)
        assert (method.id, method.card_last4) == (session.payment_method_id, "3155")
    else:
        assert back.status_code == 402 and "could not be authenticated" in back.text
        assert (session.status, session.payment_method_id, session.failed_attempts) == ("open", None, 1)
        assert methods_of(uow_factory, session.customer_id) == []
    assert payments_of(uow_factory, session.id) == []


def test_a_subscription_saves_the_card_charges_the_setup_fee_today_and_starts_trialing(client, merchant, uow_factory,
                                                                                      settings):
    link = make_link(merchant, mode="subscription", free_trial_days=14,
                     line_items=[{"price_id": merchant.recurring_price(4900)["id"]},
                                 {"price_id": merchant.price(1500)["id"]}])
    token = open_session(uow_factory, settings, link)
    assert pay(client, token).status_code == 303
    session = session_of(uow_factory, token)
    assert (session.status, session.payment_status) == ("complete", "paid")
    [payment] = payments_of(uow_factory, session.id)
    assert (payment.status, payment.amount_atom, payment.payment_method_id) == ("succeeded", 1500,
                                                                                session.payment_method_id)
    with uow_factory() as uow:
        subscription = uow.session.get(Subscription, session.subscription_id)
        assert (subscription.status, subscription.customer_id, subscription.default_payment_method_id) == \
            ("trialing", session.customer_id, session.payment_method_id)
        assert subscription.trial_end == subscription.current_period_end
        assert subscription.trial_end - subscription.current_period_start == timedelta(days=14)
        assert [item["unit_amount_atom"] for item in subscription.items] == [4900]


def test_a_trial_with_nothing_due_today_charges_nothing(client, merchant, uow_factory, settings):
    link = make_link(merchant, mode="subscription", free_trial_days=7,
                     line_items=[{"price_id": merchant.recurring_price(900)["id"]}])
    token = open_session(uow_factory, settings, link)
    assert pay(client, token).status_code == 303
    session = session_of(uow_factory, token)
    assert (session.status, session.payment_status) == ("complete", "no_payment_required")
    assert payments_of(uow_factory, session.id) == [] and session.subscription_id.startswith("sub_test_")


def test_a_subscription_without_a_trial_is_charged_and_active(client, merchant, uow_factory, settings):
    link = make_link(merchant, mode="subscription", line_items=[{"price_id": merchant.recurring_price(2500)["id"]}])
    token = open_session(uow_factory, settings, link)
    assert pay(client, token, OFF_SESSION_DECLINE).status_code == 303  # its first charge is fine
    session = session_of(uow_factory, token)
    [payment] = payments_of(uow_factory, session.id)
    assert (payment.status, payment.amount_atom) == ("succeeded", 2500)
    with uow_factory() as uow:
        assert uow.session.get(Subscription, session.subscription_id).status == "active"


def test_a_declined_card_in_a_subscription_saves_nothing(client, merchant, uow_factory, settings):
    link = make_link(merchant, mode="subscription", line_items=[{"price_id": merchant.recurring_price(2500)["id"]}])
    token = open_session(uow_factory, settings, link)
    assert pay(client, token, DECLINED).status_code == 402
    session = session_of(uow_factory, token)
    assert (session.status, session.payment_method_id, session.subscription_id) == ("open", None, None)
    assert [p.status for p in payments_of(uow_factory, session.id)] == ["failed"]
    assert pay(client, token).status_code == 303
    assert session_of(uow_factory, token).status == "complete"


# ---- exactly once ----------------------------------------------------------------------------

def test_twenty_concurrent_pays_make_one_payment_and_one_completion(client, merchant, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant))
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: pay(client, token).status_code, range(20)))
    assert all(status in (303, 409) for status in answers), answers
    session = session_of(uow_factory, token)
    assert session.status == "complete"
    assert [p.status for p in payments_of(uow_factory, session.id)] == ["succeeded"]
    assert calls_with(uow_factory, session.payment_id) == 1


def test_a_coupon_with_one_redemption_left_goes_to_one_of_two_concurrent_payers(client, merchant, uow_factory,
                                                                                  settings):
    coupon = merchant.ok("POST", "/coupons", {"name": "Last one", "percent_off": 50, "duration": "once",
                                              "max_redemptions": 1})
    link = make_link(merchant, coupon_id=coupon["id"])
    tokens = [open_session(uow_factory, settings, link) for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda token: pay(client, token).status_code, tokens))
    assert sorted(answers) == [200, 303]  # one paid; the other was shown the new total, charged nothing
    sessions = [session_of(uow_factory, token) for token in tokens]
    with uow_factory() as uow:
        assert uow.session.get(Coupon, coupon["id"]).times_redeemed == 1
    [discounted] = [s for s in sessions if s.coupon_id is not None]
    [repriced] = [s for s in sessions if s.coupon_id is None]
    assert discounted.status == "complete" and (repriced.status, repriced.amount_total_atom) == ("open", 1999)
    charged = [p.amount_atom for s in sessions for p in payments_of(uow_factory, s.id)]
    assert charged == [999]  # 19.99 less half of it rounded half up (10.00); nothing for the repriced one


def test_a_declined_payment_gives_its_coupon_redemption_back(client, merchant, uow_factory, settings):
    coupon = merchant.ok("POST", "/coupons", {"name": "Once", "amount_off_atom": 500, "currency": "USD",
                                              "duration": "once", "max_redemptions": 1})
    token = open_session(uow_factory, settings, make_link(merchant, coupon_id=coupon["id"]))
    pay(client, token, DECLINED)
    with uow_factory() as uow:
        assert uow.session.get(Coupon, coupon["id"]).times_redeemed == 0
    pay(client, token)
    with uow_factory() as uow:
        assert uow.session.get(Coupon, coupon["id"]).times_redeemed == 1
    assert session_of(uow_factory, token).amount_total_atom == 1499


# ---- outcomes nobody told us -----------------------------------------------------------------

@pytest.fixture
def faulty(settings, deps):
    """The app with a test processor whose answers are lost on the way back (the charge happens)."""
    return with_faults(settings, deps, Faults(timeout=TimeoutAt.AFTER))


def test_a_lost_answer_leaves_the_payment_processing_until_reconcile_finds_it(faulty, client, deps, merchant,
                                                                              uow_factory, settings):
    faulty_client = faulty
    token = open_session(uow_factory, settings, make_link(merchant))
    answered = pay(faulty_client, token)
    assert answered.status_code == 303 and answered.headers["location"].endswith(f"/checkout/{token}")
    processing = session_of(uow_factory, token)
    [payment] = payments_of(uow_factory, processing.id)
    assert (payment.status, processing.status) == ("processing", "open")
    shown = client.simulate_get(f"/checkout/{token}")
    assert "Processing your payment" in shown.text and 'http-equiv="refresh"' in shown.text
    assert pay(client, token).status_code == 303  # a second click while processing charges nothing

    with freeze_time(datetime.now(UTC) + timedelta(seconds=30)):
        with uow_factory() as uow:
            due = checkout_payments.claim_due(uow, datetime.now(UTC))
            uow.commit()
        assert payment.id in due
        attempt = reconcile(deps, payment.id)
    assert attempt.step is checkout_payments.Step.COMPLETED and attempt.completed
    assert session_of(uow_factory, token).status == "complete"
    assert [p.status for p in payments_of(uow_factory, processing.id)] == ["succeeded"]
    assert calls_with(uow_factory, payment.id) == 1


def test_a_lost_call_is_canceled_at_the_processor_and_the_customer_may_pay_again(settings, deps, client, merchant,
                                                                                uow_factory):
    lost_client = with_faults(settings, deps, Faults(timeout=TimeoutAt.BEFORE))
    token = open_session(uow_factory, settings, make_link(merchant))
    pay(lost_client, token)
    [payment] = payments_of(uow_factory, session_of(uow_factory, token).id)
    assert payment.status == "processing"
    attempt = reconcile(deps, payment.id)
    assert attempt.step is checkout_payments.Step.DECLINED
    session = session_of(uow_factory, token)
    assert (session.status, session.payment_id, session.failed_attempts) == ("open", None, 0)
    assert [p.status for p in payments_of(uow_factory, session.id)] == ["canceled"]
    assert pay(client, token).status_code == 303
    assert session_of(uow_factory, token).status == "complete"


def test_a_subscription_whose_charge_answer_was_lost_starts_once_reconcile_finds_it_charged_once(
        settings, deps, client, merchant, uow_factory):
    """The card is saved; the first charge's answer is lost: the checkout stays open and
    processing, and the reconcile job finds the charge, completes it and starts the subscription."""
    lost_charge = with_faults(settings, deps, Faults(timeout=TimeoutAt.AFTER, kinds=frozenset({Kind.CHARGE})))
    link = make_link(merchant, mode="subscription", line_items=[{"price_id": merchant.recurring_price(2500)["id"]}])
    token = open_session(uow_factory, settings, link)
    answered = pay(lost_charge, token)
    assert answered.status_code == 303 and answered.headers["location"].endswith(f"/checkout/{token}")
    processing = session_of(uow_factory, token)
    [payment] = payments_of(uow_factory, processing.id)
    assert (payment.status, processing.status, processing.subscription_id) == ("processing", "open", None)
    assert processing.payment_method_id is not None  # saved; only the charge's answer is missing
    assert "Processing your payment" in client.simulate_get(f"/checkout/{token}").text
    assert pay(client, token).status_code == 303  # a second click while processing charges nothing

    attempt = reconcile(deps, payment.id)
    assert attempt.step is checkout_payments.Step.COMPLETED and attempt.completed
    session = session_of(uow_factory, token)
    assert (session.status, session.payment_status) == ("complete", "paid")
    [paid] = payments_of(uow_factory, session.id)
    assert (paid.status, paid.amount_atom, paid.payment_method_id) == ("succeeded", 2500, session.payment_method_id)
    with uow_factory() as uow:
        assert uow.session.get(Subscription, session.subscription_id).status == "active"
    assert calls_with(uow_factory, payment.id) == 1
    assert reconcile(deps, payment.id) is None  # known now: nothing more to ask


def test_a_setup_whose_answer_was_lost_stays_processing_until_reconcile_finds_the_card_saved(
        settings, deps, client, merchant, uow_factory):
    """Setup has no payment to reconcile: the session itself is asked about again, by its card's key."""
    lost = with_faults(settings, deps, Faults(timeout=TimeoutAt.AFTER))
    token = open_session(uow_factory, settings, make_link(merchant, mode="setup"))
    answered = pay(lost, token)
    assert answered.status_code == 303 and answered.headers["location"].endswith(f"/checkout/{token}")
    processing = session_of(uow_factory, token)
    assert (processing.status, processing.payment_method_id) == ("open", None)
    assert methods_of(uow_factory, processing.customer_id) == []
    shown = client.simulate_get(f"/checkout/{token}")
    assert "Saving your card" in shown.text and 'http-equiv="refresh"' in shown.text
    assert 'name="card_number"' not in shown.text
    assert pay(client, token).status_code == 303  # a second click meanwhile saves nothing more

    with freeze_time(datetime.now(UTC) + timedelta(seconds=30)):
        with uow_factory() as uow:
            due = checkout_payments.claim_due_method_checks(uow, datetime.now(UTC))
            uow.commit()
        assert processing.id in due
        attempt = reconcile_method(deps, processing.id)
    assert attempt.step is checkout_payments.Step.COMPLETED and attempt.completed
    session = session_of(uow_factory, token)
    assert (session.status, session.payment_status, session.method_check_at) == ("complete", "no_payment_required",
                                                                                 None)
    [method] = methods_of(uow_factory, session.customer_id)
    assert (method.id, method.card_last4) == (session.payment_method_id, "4242")
    assert calls_with(uow_factory, checkout_payments.method_key(session)) == 1  # saved once at the processor
    assert payments_of(uow_factory, session.id) == []


def test_a_setup_whose_call_was_lost_is_open_again_once_reconcile_finds_nothing(settings, deps, client, merchant,
                                                                               uow_factory):
    lost_client = with_faults(settings, deps, Faults(timeout=TimeoutAt.BEFORE))
    token = open_session(uow_factory, settings, make_link(merchant, mode="setup"))
    pay(lost_client, token)
    session_id = session_of(uow_factory, token).id
    attempt = reconcile_method(deps, session_id)
    assert attempt.step is checkout_payments.Step.DECLINED
    session = session_of(uow_factory, token)
    assert (session.status, session.method_check_at, session.failed_attempts) == ("open", None, 0)
    assert 'name="card_number"' in client.simulate_get(f"/checkout/{token}").text
    assert pay(client, token).status_code == 303
    assert session_of(uow_factory, token).status == "complete"


def test_the_reconcile_jobs_run_through_a_real_worker(faulty, deps, merchant, uow_factory, settings, celery_worker):
    from tests.conftest import wait_for
    from workers import context
    from workers.tasks import reconcile_due_payments

    faulty_client = faulty
    context.use_processors(deps.processors)
    token = open_session(uow_factory, settings, make_link(merchant))
    pay(faulty_client, token)
    [payment] = payments_of(uow_factory, session_of(uow_factory, token).id)
    with uow_factory() as uow:
        uow.session.get(Payment, payment.id).next_check_at = datetime.now(UTC) - timedelta(seconds=1)
        uow.commit()
    assert reconcile_due_payments.run() >= 1
    assert wait_for(lambda: session_of(uow_factory, token).status == "complete")


def test_the_setup_reconcile_job_runs_through_a_real_worker_and_counts_the_completion(deps, settings, merchant,
                                                                                      uow_factory, celery_worker):
    from tests.conftest import metric, wait_for
    from workers import context
    from workers.tasks import reconcile_due_payments

    context.use_processors(deps.processors)
    token = open_session(uow_factory, settings, make_link(merchant, mode="setup"))
    pay(with_faults(settings, deps, Faults(timeout=TimeoutAt.AFTER)), token)
    with uow_factory() as uow:
        session = checkout_sessions.find_by_token(uow, token)
        assert session.method_check_at is not None
        session.method_check_at = datetime.now(UTC) - timedelta(seconds=1)
        uow.commit()
    completed = metric("paymentkit_checkout_sessions_completed_total")
    assert reconcile_due_payments.run() >= 1
    assert wait_for(lambda: metric("paymentkit_checkout_sessions_completed_total") > completed)  # counted after commit
    assert metric("paymentkit_checkout_sessions_completed_total") == completed + 1
    assert session_of(uow_factory, token).status == "complete"


# ---- live mode -------------------------------------------------------------------------------

def test_live_mode_without_a_processor_takes_no_payment(client, uow_factory, settings):
    live = make_merchant(client, uow_factory)
    link = live.ok("POST", "/payment-links", {"line_items": [{"price_id": live.price(1999)["id"]}]})
    token = open_session(uow_factory, settings, link)
    shown = client.simulate_get(f"/checkout/{token}")
    assert "not taking payments yet" in shown.text and 'name="card_number"' not in shown.text
    refused = pay(client, token)
    assert refused.status_code == 400 and "not taking payments yet" in refused.text
    session = session_of(uow_factory, token)
    assert (session.status, session.customer_id) == ("open", None)
    assert payments_of(uow_factory, session.id) == []


def test_the_test_processor_never_takes_a_live_payment(client, deps, uow_factory, settings):
    """Even handed one directly, the pay flow refuses the test processor for a live checkout."""
    from domain.errors import InvalidRequest
    from tests.conftest import pay_session

    live = make_merchant(client, uow_factory)
    token = open_session(uow_factory, settings,
                         live.ok("POST", "/payment-links", {"line_items": [{"price_id": live.price(500)["id"]}]}))
    with pytest.raises(InvalidRequest) as refused:
        pay_session(deps, token)
    assert refused.value.param == "processor"
    assert payments_of(uow_factory, session_of(uow_factory, token).id) == []


def test_a_payment_is_reconciled_by_the_processor_that_took_it(faulty, deps, merchant, uow_factory, settings):
    """The merchant chose stripe after a test-processor payment lost its answer: the reconcile
    job still asks the test processor (it has no Stripe keys to ask about it)."""
    from domain import processors
    from domain.queries import Owner

    faulty_client = faulty
    token = open_session(uow_factory, settings, make_link(merchant))
    pay(faulty_client, token)
    [payment] = payments_of(uow_factory, session_of(uow_factory, token).id)
    with uow_factory() as uow:
        processors.choose(uow, Owner(merchant.account_id, False), processors.ChooseProcessor(
            "stripe", secret_key="sk_test_" + "x" * 24, publishable_key="pk_test_" + "x" * 24,
            webhook_secret="whsec_" + "x" * 24), deps.processors.box)
        uow.commit()
    attempt = reconcile(deps, payment.id)
    assert attempt.step is checkout_payments.Step.COMPLETED


def test_a_subscription_card_that_authenticates_is_not_given_up_while_the_customer_answers(
        client, deps, merchant, uow_factory, settings):
    """Saving the 3155 card needs the challenge; the reconcile job, running meanwhile, leaves the
    waiting payment alone; once authorized, the setup fee is charged and the subscription starts."""
    link = make_link(merchant, mode="subscription", free_trial_days=7,
                     line_items=[{"price_id": merchant.recurring_price(3000)["id"]},
                                 {"price_id": merchant.price(700)["id"]}])
    token = open_session(uow_factory, settings, link)
    sent = pay(client, token, CHALLENGE)
    assert sent.status_code == 303 and "/checkout/challenge/" in sent.headers["location"]
    [payment] = payments_of(uow_factory, session_of(uow_factory, token).id)
    assert payment.status == "requires_action"
    assert reconcile(deps, payment.id) is None
    answered = client.simulate_post(urlsplit(sent.headers["location"]).path, body="answer=authorize", headers=FORM)
    follow(client, answered)
    session = session_of(uow_factory, token)
    assert (session.status, session.payment_status) == ("complete", "paid") and session.subscription_id
    assert [(p.status, p.amount_atom) for p in payments_of(uow_factory, session.id)] == [("succeeded", 700)]
