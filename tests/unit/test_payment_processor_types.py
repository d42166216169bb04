"""The processor interface's types (domain/payments/processor.py): the card form's rules, card
input that never shows its number or CVC, and results that cannot say two things at once."""
import copy
import pickle
from datetime import date

import pytest
from freezegun import freeze_time

from domain.errors import InvalidRequest
from domain.payments.processor import (
    FAILURE_MESSAGES, CardInput, ChargeRequest, ChargeResult, FailureCode, OffSessionChargeRequest,
    Outcome, RefundRequest, RefundResult, SaveMethodRequest, SaveMethodResult, read_card,
)

TODAY = date(2030, 6, 15)
NUMBER, CVC = "4242424242424242", "987"


def refused(card_number="4242 4242 4242 4242", exp="12/31", cvc=CVC, today=TODAY) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        read_card(card_number, exp, cvc, today=today)
    return caught.value


class TestCardForm:
    @pytest.mark.parametrize("typed", ["4242424242424242", "4242 4242 4242 4242", " 4242  4242 4242 4242 "])
    def test_spaces_are_allowed_in_the_number(self, typed):
        assert read_card(typed, "12/31", CVC, today=TODAY).number == NUMBER

    def test_expiry_and_cvc_are_read(self):
        card = read_card(NUMBER, "07/31", "1234", today=TODAY)
        assert (card.exp_month, card.exp_year, card.cvc) == (7, 2031, "1234")

    @pytest.mark.parametrize("exp", ["06/30", "6/30", " 06 / 30 ", "12/99"])
    def test_this_month_and_later_are_in_the_future(self, exp):
        read_card(NUMBER, exp, CVC, today=TODAY)

    @pytest.mark.parametrize("exp", ["05/30", "12/29", "01/00"])
    def test_a_past_expiry_is_refused_by_name(self, exp):
        error = refused(exp=exp)
        assert (error.param, error.code) == ("exp", "invalid_expiry")
        assert "past" in error.message

    @pytest.mark.parametrize("exp", ["", "1231", "13/31", "00/31", "12/2031", "12-31", "ab/cd", "12/3"])
    def test_a_malformed_expiry_is_refused_by_name(self, exp):
        error = refused(exp=exp)
        assert (error.param, error.code) == ("exp", "invalid_expiry")
        assert "MM/YY" in error.message

    @pytest.mark.parametrize("cvc", ["123", "1234", "000"])
    def test_any_three_or_four_digit_cvc(self, cvc):
        read_card(NUMBER, "12/31", cvc, today=TODAY)

    @pytest.mark.parametrize("cvc", ["", "12", "12345", "12a", "1 23", "١٢٣"])
    def test_a_bad_cvc_is_refused_by_name(self, cvc):
        error = refused(cvc=cvc)
        assert (error.param, error.code) == ("cvc", "invalid_cvc")

    @pytest.mark.parametrize("number", ["", "4242", "4242-4242-4242-4242", "4242 4242 4242 424x", "4" * 20,
                                        "４２４２４２４２４２４２４２４２"])
    def test_a_malformed_number_is_refused_by_name(self, number):
        error = refused(card_number=number)
        assert (error.param, error.code) == ("card_number", "invalid_number")

    def test_errors_never_repeat_what_was_typed(self):
        for error in [refused(exp="01/20"), refused(cvc="12"), refused(card_number=NUMBER + "9999")]:
            text = f"{error} {error.message} {error!r}"
            assert NUMBER not in text and CVC not in text

    @freeze_time("2031-01-01 00:30:00")
    def test_today_defaults_to_the_utc_date(self):
        assert read_card(NUMBER, "01/31", CVC).exp_year == 2031
        assert refused(exp="12/30", today=None).param == "exp"


class TestCardInput:
    card = CardInput(NUMBER, 12, 2031, CVC)

    def test_repr_and_str_show_only_the_last_four(self):
        for text in [repr(self.card), str(self.card), f"{self.card}", repr([self.card])]:
            assert NUMBER not in text and CVC not in text
            assert "4242" in text

    def test_requests_that_carry_it_do_not_show_it_either(self):
        requests = [
            ChargeRequest("pay_test_a", 1000, "USD", "https://x.test/back", "cus_test_a", card=self.card),
            SaveMethodRequest("pm_test_a", "cus_test_a", "https://x.test/back", card=self.card),
        ]
        for request in requests:
            assert NUMBER not in repr(request) and CVC not in repr(request) and CVC not in str(request)

    def test_it_cannot_be_pickled_or_copied_out_of_memory(self):
        with pytest.raises(TypeError):
            pickle.dumps(self.card)
        with pytest.raises(TypeError):
            copy.copy(self.card)

    def test_summary_is_what_may_be_stored(self):
        summary = self.card.summary("visa")
        assert (summary.brand, summary.last4, summary.exp_month, summary.exp_year) == ("visa", "4242", 12, 2031)
        assert NUMBER not in repr(summary) and CVC not in repr(summary)

    @pytest.mark.parametrize("number, month, year, cvc", [
        ("4242 4242 4242 4242", 12, 2031, CVC), (NUMBER, 13, 2031, CVC), (NUMBER, 12, 31, CVC), (NUMBER, 12, 2031, "12"),
    ])
    def test_it_holds_only_well_formed_cards(self, number, month, year, cvc):
        with pytest.raises(ValueError) as caught:
            CardInput(number, month, year, cvc)
        assert NUMBER not in str(caught.value) and CVC not in str(caught.value)


class TestRequests:
    card = CardInput(NUMBER, 12, 2031, CVC)

    def test_either_a_card_or_a_saved_method(self):
        with pytest.raises(ValueError):
            ChargeRequest("pay_test_a", 1000, "USD", "https://x.test/back")
        with pytest.raises(ValueError):
            ChargeRequest("pay_test_a", 1000, "USD", "https://x.test/back", card=self.card, payment_method_reference="card_x")
        with pytest.raises(ValueError):
            SaveMethodRequest("pm_test_a", "cus_test_a", "https://x.test/back")

    @pytest.mark.parametrize("amount", [0, -1, 10.0, True, "100"])
    def test_amounts_are_positive_integers(self, amount):
        with pytest.raises(ValueError):
            ChargeRequest("pay_test_a", amount, "USD", "https://x.test/back", card=self.card)
        with pytest.raises(ValueError):
            OffSessionChargeRequest("pay_test_a", amount, "USD", "cus_test_a", "card_x")
        with pytest.raises(ValueError):
            RefundRequest("re_test_a", "ch_x", amount, "USD")

    def test_currency_is_iso(self):
        with pytest.raises(ValueError):
            RefundRequest("re_test_a", "ch_x", 100, "usd")


class TestResults:
    def test_failed_carries_a_code_and_the_customer_message(self):
        result = ChargeResult(Outcome.FAILED, "ch_1", failure_code=FailureCode.INSUFFICIENT_FUNDS)
        assert result.failure_message == "Your card has insufficient funds."
        assert ChargeResult("failed", failure_code="card_declined").failure_code is FailureCode.CARD_DECLINED

    def test_every_failure_code_has_a_message(self):
        assert set(FAILURE_MESSAGES) == set(FailureCode)
        assert FAILURE_MESSAGES[FailureCode.INVALID_CARD].startswith("Use a test card")

    def test_spec_failure_codes(self):
        assert {"card_declined", "insufficient_funds", "expired_card", "authentication_failed", "invalid_card",
                "processing_error"} <= {code.value for code in FailureCode}

    @pytest.mark.parametrize("fields", [
        dict(outcome=Outcome.FAILED),
        dict(outcome=Outcome.SUCCEEDED, failure_code=FailureCode.CARD_DECLINED),
        dict(outcome=Outcome.SUCCEEDED, failure_message="no"),
        dict(outcome=Outcome.REQUIRES_ACTION),
        dict(outcome=Outcome.SUCCEEDED, action_url="https://x.test/3ds"),
    ])
    def test_contradictions_are_refused(self, fields):
        with pytest.raises(ValueError):
            ChargeResult(**fields)

    def test_requires_action_has_its_url(self):
        assert ChargeResult(Outcome.REQUIRES_ACTION, "ch_1", action_url="https://x.test/3ds").action_url

    def test_outcomes_each_operation_can_have(self):
        with pytest.raises(ValueError):
            RefundResult(Outcome.REQUIRES_ACTION, action_url="https://x.test/3ds")
        with pytest.raises(ValueError):
            RefundResult(Outcome.CANCELED)
        with pytest.raises(ValueError):
            SaveMethodResult(Outcome.CANCELED)
        assert RefundResult(Outcome.UNKNOWN).reference is None
