"""The hosted checkout of a merchant on the stripe processor in a real headless Chromium: the page
loads Stripe.js (localstripe's, on loopback: nothing reaches Stripe) and our checkout-stripe.js,
the customer types the card into Stripe.js's field, and only what Stripe.js made reaches us. A
card that needs 3-D Secure goes through Stripe.js's authentication on the processing page."""
from __future__ import annotations

import re

import pytest

from domain import checkout_sessions
from domain.models import Payment
from tests.conftest import make_merchant
from tests.e2e.conftest import serve
from tests.stripe_connector.conftest import localstripe  # noqa: F401  (the fixture: a localstripe on loopback)

pytestmark = pytest.mark.e2e

PUBLISHABLE_KEY = "pk_test_paymentkit_e2e"


@pytest.fixture(scope="module")
def stripe_base_url(settings, deps, localstripe):  # noqa: F811
    """The app over HTTP, its stripe connector and Stripe.js pointed at localstripe."""
    yield from serve(settings, deps, stripe_api_base=localstripe.base_url,
                     stripe_js_url=f"{localstripe.base_url}/js.stripe.com/v3/")


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    refused = []  # what the page's CSP blocked: Stripe.js must need nothing it does not allow
    opened.on("console", lambda message: refused.append(message.text)
              if "Content Security Policy" in message.text else None)
    yield opened
    context.close()
    assert refused == []


@pytest.fixture
def stripe_merchant(client, uow_factory):
    made = make_merchant(client, uow_factory).in_test_mode()
    made.ok("PUT", "/processor", {"processor": "stripe", "secret_key": "sk_test_paymentkit_e2e",  # localstripe takes any sk_
                                  "publishable_key": PUBLISHABLE_KEY, "webhook_secret": "whsec_paymentkit_e2e"})
    return made


def open_stripe_checkout(page, base_url: str, merchant) -> str:
    link = merchant.ok("POST", "/payment-links", {
        "line_items": [{"price_id": merchant.price(2500)["id"]}],
        "success_url": f"{base_url}/shop/thanks?session={{CHECKOUT_SESSION_ID}}"})
    page.goto(f"{base_url}/api/pay/share/{link['secure_token']}")
    page.locator("#card-element input").first.wait_for()  # localstripe's Stripe.js mounted its field
    return page.url.rsplit("/", 1)[-1]


def fill_stripe_card(page, number: str) -> None:
    page.fill('input[name="email"]', "ada@example.com")
    for placeholder, value in (("number", number), ("exp_month", "12"), ("exp_year", "34"), ("cvc", "123"),
                               ("postal_code", "12345")):
        page.fill(f'#card-element input[placeholder="{placeholder}"]', value)


def payment_of(uow_factory, token: str) -> tuple[str, str, str | None]:
    with uow_factory() as uow:
        session = checkout_sessions.find_by_token(uow, token)
        payment = uow.session.get(Payment, session.payment_id)
        return payment.processor, payment.status, (payment.card or {}).get("last4")


def test_a_card_typed_into_stripe_js_pays_and_lands_on_success_url(page, stripe_base_url, stripe_merchant,
                                                                    uow_factory, celery_worker):
    posted = []
    page.on("request", lambda request: posted.append(request.post_data or "")
            if request.method == "POST" and request.url.startswith(stripe_base_url) else None)
    token = open_stripe_checkout(page, stripe_base_url, stripe_merchant)
    assert page.locator('input[name="card_number"], input[name="cvc"]').count() == 0
    fill_stripe_card(page, "4242424242424242")
    page.get_by_role("button", name=re.compile("^Pay")).click()
    page.wait_for_url(re.compile(re.escape(f"{stripe_base_url}/shop/thanks")))
    assert payment_of(uow_factory, token) == ("stripe", "succeeded", "4242")
    assert posted and not any("4242424242424242" in body for body in posted)  # the number went to Stripe only
    assert any("card_token=tok_" in body for body in posted)  # localstripe's Stripe.js makes tokens


def test_a_3d_secure_card_authenticates_through_stripe_js(page, stripe_base_url, stripe_merchant, uow_factory,
                                                          celery_worker):
    token = open_stripe_checkout(page, stripe_base_url, stripe_merchant)
    fill_stripe_card(page, "4000002500003155")  # localstripe asks this card for authentication
    page.get_by_role("button", name=re.compile("^Pay")).click()
    page.get_by_role("heading", name="Confirm your payment").wait_for()
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(re.compile(re.escape(f"{stripe_base_url}/shop/thanks")))
    assert payment_of(uow_factory, token) == ("stripe", "succeeded", "3155")
