"""The hosted checkout of a merchant on the stripe processor: Stripe.js's card field instead of
ours, a CSP opened for Stripe.js on that page only, and no card fields taken. (No test here
reaches Stripe: STRIPE_API_BASE is a closed loopback port, and these requests call nothing.)"""
from __future__ import annotations

import re

import pytest

from api.checkout.pages import StripeJs
from tests.conftest import make_merchant
from tests.integration.test_checkout_page import BROWSER, SUCCESS, make_link, open_session, page, post, stored

PUBLISHABLE_KEY = "pk_test_paymentkit_page"
STRIPE_PAGE_CSP = ("default-src 'none'; script-src 'self' https://js.stripe.com; frame-src https://js.stripe.com https://hooks.stripe.com; "
                   "connect-src http://127.0.0.1:9; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                   "form-action https://checkout.example.test https://shop.example; frame-ancestors 'none'; "
                   "base-uri 'none'")
OUR_PAGE_CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                "form-action https://checkout.example.test https://shop.example; frame-ancestors 'none'; "
                "base-uri 'none'")


@pytest.fixture
def merchant(client, uow_factory):
    return make_merchant(client, uow_factory).in_test_mode()


@pytest.fixture
def on_stripe(merchant):
    merchant.ok("PUT", "/processor", {"processor": "stripe", "secret_key": "sk_test_paymentkit_page",
                                      "publishable_key": PUBLISHABLE_KEY, "webhook_secret": "whsec_paymentkit_page"})
    return merchant


def test_a_stripe_checkout_loads_stripe_js_under_a_csp_opened_for_it_alone(client, on_stripe, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(on_stripe, success_url=SUCCESS))
    shown = page(client, token)
    assert shown.status_code == 200
    assert shown.headers["Content-Security-Policy"] == STRIPE_PAGE_CSP
    assert re.findall(r"<script[^>]*>", shown.text) == [
        '<script src="https://js.stripe.com/v3/">', '<script src="/checkout/static/checkout-stripe.js">']
    assert f'data-stripe-key="{PUBLISHABLE_KEY}"' in shown.text and 'id="card-element"' in shown.text
    for field in ("card_number", "exp", "cvc"):
        assert f'name="{field}"' not in shown.text


def test_a_checkout_on_the_test_processor_still_loads_no_script(client, merchant, uow_factory, settings):
    shown = page(client, open_session(uow_factory, settings, make_link(merchant, success_url=SUCCESS)))
    assert shown.headers["Content-Security-Policy"] == OUR_PAGE_CSP
    assert "<script" not in shown.text and 'name="card_number"' in shown.text


def test_the_card_field_script_is_served_from_our_origin(client):
    served = client.simulate_get("/checkout/static/checkout-stripe.js")
    assert served.status_code == 200
    assert served.headers["Content-Type"].split(";")[0] in ("application/javascript", "text/javascript")
    assert "createPaymentMethod" in served.text


@pytest.mark.parametrize("body, message", [
    ("email=ada%40example.com&card_number=4242+4242+4242+4242&exp=12%2F34&cvc=123", "secure card field"),
    ("email=ada%40example.com", "Enter your card in the card field."),
    ("email=ada%40example.com&payment_method=card_1234", "Enter your card in the card field."),
])
def test_a_stripe_checkout_takes_no_card_fields_and_needs_what_stripe_js_made(client, on_stripe, uow_factory,
                                                                              settings, body, message):
    token = open_session(uow_factory, settings, make_link(on_stripe))
    answer = post(client, token, "pay", body)
    assert answer.status_code == 400 and message in answer.text
    assert stored(uow_factory, token).payment_id is None  # nothing was charged


def test_stripe_js_calls_stripes_api_unless_stripe_api_base_says_elsewhere():
    assert StripeJs.of("https://js.stripe.com/v3/", None, "pk_test_x").csp() == (
        "script-src 'self' https://js.stripe.com; frame-src https://js.stripe.com https://hooks.stripe.com; connect-src https://api.stripe.com; ")
    assert StripeJs.of("http://127.0.0.1:8420/js.stripe.com/v3/", "http://127.0.0.1:8420", "pk_test_x").csp() == (
        "script-src 'self' http://127.0.0.1:8420; frame-src http://127.0.0.1:8420; connect-src http://127.0.0.1:8420; ")
