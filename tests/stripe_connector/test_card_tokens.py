"""A card token (`tok_…`), what only localstripe's fake Stripe.js sends (its createPaymentMethod
does nothing), becomes something to charge: the token's card."""
from __future__ import annotations

import pytest

from domain.errors import InvalidRequest
from domain.payments.processor import ChargeRequest, Outcome
from tests.stripe_connector.conftest import EXP_MONTH, EXP_YEAR, PUBLISHABLE_KEY


def browser_token(localstripe, number: str) -> str:
    """A token, as localstripe's Stripe.js `createToken` makes one with the publishable key."""
    return localstripe.request("POST", "/v1/tokens", form={
        "card[number]": number, "card[exp_month]": EXP_MONTH, "card[exp_year]": EXP_YEAR, "card[cvc]": "123",
        "key": PUBLISHABLE_KEY})["id"]


def test_a_token_s_card_is_charged_and_summarised(localstripe):
    processor = localstripe.processor()
    method = processor.payment_method_for_token(browser_token(localstripe, "4242424242424242"))
    assert method.startswith("card_")
    result = processor.charge(ChargeRequest("pay_token_1", 1200, "USD", "https://checkout.example.test/return",
                                            payment_method_reference=method))
    assert result.outcome is Outcome.SUCCEEDED
    assert (result.card.brand, result.card.last4, result.card.exp_month) == ("visa", "4242", EXP_MONTH)


def test_an_unknown_token_is_refused_on_the_card_field(localstripe):
    with pytest.raises(InvalidRequest) as refused:
        localstripe.processor().payment_method_for_token("tok_unknown")
    assert refused.value.param == "card_number"
