"""An account that chose `stripe` gets the Stripe connector (domain/processors.py): built from
its stored secret key, decrypted, and pointed at STRIPE_API_BASE (runtime/settings.py)."""
from __future__ import annotations

import html
from dataclasses import replace

import pytest

from domain.payments.builtin import TestProcessor
from domain.payments.processor import ChargeRequest, Outcome
from domain.payments.stripe import CARD_FIELD_ONLY, StripeProcessor
from domain.processors import ChooseProcessor, choose
from domain.queries import Owner
from runtime.settings import Settings
from tests.conftest import make_merchant
from tests.integration.test_paying import make_link, open_session, pay, session_of
from tests.stripe_connector.test_recorded_responses import INTENT, intent

STRIPE_KEYS = {"secret_key": "sk_test_51MerchantOwnKey0123456789", "publishable_key": "pk_test_51MerchantOwnKey",
               "webhook_secret": "whsec_merchant0123456789"}


def test_the_stripe_settings_default_to_stripe_and_are_read_from_the_environment():
    defaults = Settings.from_env({"SECRET_KEY": "s"})
    assert (defaults.stripe_api_base, defaults.stripe_js_url) == (None, "https://js.stripe.com/v3/")

    local = Settings.from_env({"SECRET_KEY": "s", "STRIPE_API_BASE": "http://127.0.0.1:8420",
                               "STRIPE_JS_URL": "http://127.0.0.1:8420/js.stripe.com/v3/"})
    assert (local.stripe_api_base, local.stripe_js_url) == ("http://127.0.0.1:8420",
                                                            "http://127.0.0.1:8420/js.stripe.com/v3/")


def test_the_app_hands_the_stripe_settings_to_its_processors(deps, settings):
    assert (deps.processors.stripe_api_base, deps.processors.stripe_js_url) == (
        settings.stripe_api_base, settings.stripe_js_url)


@pytest.mark.parametrize("livemode", [False, True])
def test_an_owner_that_chose_stripe_is_charged_with_its_own_secret_key_at_stripe_api_base(
        deps, uow_factory, merchant, recorded, livemode):
    owner = Owner(merchant.account_id, livemode)
    keys = {name: value.replace("_test_", "_live_") if livemode else value for name, value in STRIPE_KEYS.items()}
    with uow_factory() as uow:
        choose(uow, owner, ChooseProcessor("stripe", **keys), deps.processors.box)
        uow.commit()
    processors = replace(deps.processors, stripe_api_base=recorded.base_url)
    recorded.answer((200, intent("succeeded")))

    with uow_factory() as uow:
        processor = processors.for_owner(uow, owner)
    result = processor.charge(ChargeRequest("pay_test_x", 2000, "USD", "https://checkout.example.test/r",
                                            payment_method_reference="pm_card_visa"))

    assert isinstance(processor, StripeProcessor)
    assert (result.outcome, result.reference) == (Outcome.SUCCEEDED, INTENT)
    [sent] = recorded.sent
    assert sent.headers["authorization"] == f"Bearer {keys['secret_key']}"
    assert sent.path == "/v1/payment_intents"


def test_without_a_stripe_choice_the_defaults_stand(deps, uow_factory, merchant):
    with uow_factory() as uow:
        assert isinstance(deps.processors.for_owner(uow, Owner(merchant.account_id, False)), TestProcessor)
        assert deps.processors.for_owner(uow, Owner(merchant.account_id, True)) is None
    assert deps.processors.named("stripe", False) is None  # no secret key, no connector


def test_a_card_number_sent_to_a_stripe_checkout_is_refused_on_the_card_field(client, deps, uow_factory, settings):
    # The hosted page's Stripe.js card field is built next; until then a form with card numbers
    # meets the connector's refusal, and nothing is charged anywhere.
    merchant = make_merchant(client, uow_factory).in_test_mode()
    with uow_factory() as uow:
        choose(uow, Owner(merchant.account_id, False), ChooseProcessor("stripe", **STRIPE_KEYS), deps.processors.box)
        uow.commit()
    token = open_session(uow_factory, settings, make_link(merchant))

    refused = pay(client, token)

    assert refused.status_code == 400
    assert CARD_FIELD_ONLY in html.unescape(refused.text)
    assert session_of(uow_factory, token).payment_id is None
