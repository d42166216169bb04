"""The built-in test processor (domain/payments/builtin.py, testcards.py): SPEC 7's card table,
the form's rules, idempotency, saved cards, challenges, refunds, and faults that lose answers
which `lookup` then finds."""
import threading
from dataclasses import replace
from datetime import date

import pytest

from domain.errors import Conflict, InvalidRequest, NotFound
from domain.payments.builtin import Faults, Kind, MemoryOperationStore, TestProcessor, TimeoutAt
from domain.payments.processor import (
    Capability, CardInput, ChargeRequest, FailureCode, OffSessionChargeRequest, Outcome, Processor,
    RefundRequest, SaveMethodRequest,
)
from domain.payments.states import PaymentStatus, apply_payment_outcome
from domain.payments.testcards import TEST_CARDS

TODAY = date(2030, 6, 15)
CVC = "987"
BACK = "https://checkout.example.test/c/tok/return"
CUSTOMER = "cus_test_alice"


def card(number: str) -> CardInput:
    return CardInput(number.replace(" ", ""), 12, 2031, CVC)


def pay(number: str, key: str = "pay_test_1", amount: int = 1999, currency: str = "USD") -> ChargeRequest:
    return ChargeRequest(key, amount, currency, BACK, CUSTOMER, card=card(number))


@pytest.fixture
def store():
    return MemoryOperationStore()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def processor(store, sleeps):
    return TestProcessor(store, challenge_url="https://checkout.example.test/test-challenges/", sleep=sleeps.append)


def charges(store, outcome=Outcome.SUCCEEDED):
    return [op for op in store.operations() if op.kind is Kind.CHARGE and op.outcome is outcome]


def challenge_id(result) -> str:
    return result.action_url.rsplit("/", 1)[1]


def save(processor, number: str, key: str = "pm_test_1", customer: str = CUSTOMER):
    return processor.save_method(SaveMethodRequest(key, customer, BACK, card=card(number)))


def off_session(processor, method_reference: str, key: str, customer: str = CUSTOMER):
    return processor.charge_saved(OffSessionChargeRequest(key, 4900, "USD", customer, method_reference))


class TestShape:
    def test_it_is_a_processor_that_can_do_everything(self, processor):
        assert isinstance(processor, Processor)
        assert processor.name == "test"
        assert processor.capabilities == frozenset(Capability)
        assert {Capability.CHARGE, Capability.SAVE_METHOD, Capability.CHARGE_SAVED_OFF_SESSION,
                Capability.REFUND, Capability.LOOKUP} <= processor.capabilities

    def test_it_refuses_live_mode(self, store):
        with pytest.raises(InvalidRequest) as caught:
            TestProcessor(store, challenge_url="https://x.test", livemode=True)
        assert caught.value.param == "processor"

    def test_faults_are_off_by_default(self, processor):
        assert processor.faults == Faults()
        assert processor.charge(pay("4242 4242 4242 4242")).outcome is Outcome.SUCCEEDED


class TestCardTable:
    def test_the_table_is_spec_7s(self):
        assert {n: (c.brand, c.behavior.value, c.failure_code) for n, c in TEST_CARDS.items()} == {
            "4242424242424242": ("visa", "succeeds", None),
            "5555555555554444": ("mastercard", "succeeds", None),
            "4000000000000002": ("visa", "declines", FailureCode.CARD_DECLINED),
            "4000000000009995": ("visa", "declines", FailureCode.INSUFFICIENT_FUNDS),
            "4000000000000069": ("visa", "declines", FailureCode.EXPIRED_CARD),
            "4000002500003155": ("visa", "authenticates", None),
            "4000000000000341": ("visa", "declines_after_first_charge", None),
        }

    @pytest.mark.parametrize("number, outcome, code, brand", [
        ("4242 4242 4242 4242", Outcome.SUCCEEDED, None, "visa"),
        ("5555 5555 5555 4444", Outcome.SUCCEEDED, None, "mastercard"),
        ("4000 0000 0000 0002", Outcome.FAILED, FailureCode.CARD_DECLINED, "visa"),
        ("4000 0000 0000 9995", Outcome.FAILED, FailureCode.INSUFFICIENT_FUNDS, "visa"),
        ("4000 0000 0000 0069", Outcome.FAILED, FailureCode.EXPIRED_CARD, "visa"),
        ("4000 0025 0000 3155", Outcome.REQUIRES_ACTION, None, "visa"),
        ("4000 0000 0000 0341", Outcome.SUCCEEDED, None, "visa"),
    ])
    def test_a_charge_of_each_card(self, processor, store, number, outcome, code, brand):
        result = processor.charge(pay(number))
        assert (result.outcome, result.failure_code) == (outcome, code)
        assert (result.card.brand, result.card.last4) == (brand, number[-4:])
        assert result.reference.startswith("ch_test_")
        assert len(charges(store)) == (1 if outcome is Outcome.SUCCEEDED else 0)

    def test_a_decline_says_why_for_the_customer(self, processor):
        assert processor.charge(pay("4000 0000 0000 9995")).failure_message == "Your card has insufficient funds."

    def test_any_other_number_is_never_charged_even_past_the_form(self, processor, store):
        result = processor.charge(pay("4111 1111 1111 1111"))
        assert (result.outcome, result.failure_code) == (Outcome.FAILED, FailureCode.INVALID_CARD)
        assert result.failure_message.startswith("Use a test card")
        assert charges(store) == []


class TestCardForm:
    @pytest.mark.parametrize("number", list(TEST_CARDS) + ["4242 4242 4242 4242", " 5555 5555 5555 4444 ",
                                                         "4000 0025 0000 3155", "4000000000000341"])
    def test_every_test_card_is_taken_with_or_without_spaces(self, processor, number):
        taken = processor.read_card(number, "12/31", CVC, today=TODAY)
        assert taken.number == number.replace(" ", "")

    @pytest.mark.parametrize("number", ["4111 1111 1111 1111", "4242 4242 4242 4241", "4242 4242 4242", "",
                                        "4242-4242-4242-4242", "not a card", "378282246310005"])
    def test_anything_else_is_refused_use_a_test_card(self, processor, number):
        with pytest.raises(InvalidRequest) as caught:
            processor.read_card(number, "12/31", CVC, today=TODAY)
        assert (caught.value.param, caught.value.code) == ("card_number", "invalid_card")
        assert "Use a test card" in caught.value.message

    @pytest.mark.parametrize("exp, cvc, param", [("05/30", CVC, "exp"), ("13/31", CVC, "exp"), ("12/31", "12", "cvc"),
                                                 ("12/31", "12345", "cvc")])
    def test_expiry_and_cvc_are_refused_by_name(self, processor, exp, cvc, param):
        with pytest.raises(InvalidRequest) as caught:
            processor.read_card("4242 4242 4242 4242", exp, cvc, today=TODAY)
        assert caught.value.param == param

    def test_any_future_expiry_and_any_three_or_four_digit_cvc(self, processor):
        for exp, cvc in [("06/30", "000"), ("01/45", "1234"), ("12/99", "999")]:
            processor.read_card("5555 5555 5555 4444", exp, cvc, today=TODAY)


class TestIdempotency:
    def test_same_key_same_result_one_charge(self, processor, store):
        first = processor.charge(pay("4242 4242 4242 4242"))
        again = [processor.charge(pay("4242 4242 4242 4242")) for _ in range(3)]
        assert all(result == first for result in again)
        assert len(charges(store)) == 1
        assert processor.lookup("pay_test_1") == first

    def test_a_decline_is_remembered_too(self, processor, store):
        first = processor.charge(pay("4000 0000 0000 0002"))
        assert processor.charge(pay("4000 0000 0000 0002")) == first
        assert len(store.operations()) == 1

    def test_new_key_new_charge(self, processor, store):
        a = processor.charge(pay("4242 4242 4242 4242", key="pay_test_1"))
        b = processor.charge(pay("4242 4242 4242 4242", key="pay_test_2"))
        assert a.reference != b.reference
        assert len(charges(store)) == 2

    @pytest.mark.parametrize("changed", [dict(amount=2000), dict(currency="EUR"), dict(number="5555 5555 5555 4444")])
    def test_same_key_different_request_is_a_conflict(self, processor, store, changed):
        processor.charge(pay("4242 4242 4242 4242"))
        with pytest.raises(Conflict) as caught:
            processor.charge(pay(**{"number": "4242 4242 4242 4242", **changed}))
        assert caught.value.code == "idempotency_key_reused"
        assert len(store.operations()) == 1

    def test_a_key_belongs_to_one_kind_of_call(self, processor):
        charged = processor.charge(pay("4242 4242 4242 4242", key="same_key"))
        with pytest.raises(Conflict):
            processor.refund(RefundRequest("same_key", charged.reference, 100, "USD"))
        with pytest.raises(Conflict):
            save(processor, "4242 4242 4242 4242", key="same_key")

    def test_racing_calls_with_one_key_charge_once(self, processor, store):
        start, results = threading.Barrier(8), []

        def pay_now():
            start.wait()
            results.append(processor.charge(pay("4242 4242 4242 4242")))

        threads = [threading.Thread(target=pay_now) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len({result.reference for result in results}) == 1
        assert len(charges(store)) == 1


class TestSavedCards:
    def test_save_then_charge_off_session(self, processor):
        saved = save(processor, "4242 4242 4242 4242")
        assert saved.outcome is Outcome.SUCCEEDED and saved.reference.startswith("card_test_")
        assert (saved.card.brand, saved.card.last4, saved.card.exp_month, saved.card.exp_year) == ("visa", "4242", 12, 2031)
        for n in range(3):
            assert off_session(processor, saved.reference, f"pay_test_{n}").outcome is Outcome.SUCCEEDED

    def test_0341_saves_and_charges_once_then_every_off_session_charge_is_declined(self, processor, store):
        saved = save(processor, "4000 0000 0000 0341")
        assert saved.outcome is Outcome.SUCCEEDED
        assert off_session(processor, saved.reference, "pay_test_1").outcome is Outcome.SUCCEEDED
        for n in range(2, 5):
            later = off_session(processor, saved.reference, f"pay_test_{n}")
            assert (later.outcome, later.failure_code) == (Outcome.FAILED, FailureCode.CARD_DECLINED)
        assert len(charges(store)) == 1
        # A retry of the first charge is still that first charge, not a new decline.
        assert off_session(processor, saved.reference, "pay_test_1").outcome is Outcome.SUCCEEDED

    def test_0341_first_charge_on_session_then_off_session_declined(self, processor):
        saved = save(processor, "4000 0000 0000 0341")
        first = processor.charge(ChargeRequest("pay_test_1", 1000, "USD", BACK, CUSTOMER,
                                               payment_method_reference=saved.reference))
        assert first.outcome is Outcome.SUCCEEDED
        assert off_session(processor, saved.reference, "pay_test_2").failure_code is FailureCode.CARD_DECLINED

    def test_0341_typed_in_each_time_is_fine(self, processor):
        for n in range(3):
            assert processor.charge(pay("4000 0000 0000 0341", key=f"pay_test_{n}")).outcome is Outcome.SUCCEEDED

    @pytest.mark.parametrize("number, code", [("4000 0000 0000 0002", FailureCode.CARD_DECLINED),
                                              ("4000 0000 0000 9995", FailureCode.INSUFFICIENT_FUNDS),
                                              ("4000 0000 0000 0069", FailureCode.EXPIRED_CARD),
                                              ("4111 1111 1111 1111", FailureCode.INVALID_CARD)])
    def test_a_declining_card_is_not_saved(self, processor, number, code):
        saved = save(processor, number)
        assert (saved.outcome, saved.failure_code) == (Outcome.FAILED, code)
        assert off_session(processor, saved.reference, "pay_test_1").failure_code is FailureCode.INVALID_PAYMENT_METHOD

    def test_a_saved_card_belongs_to_its_customer(self, processor):
        saved = save(processor, "4242 4242 4242 4242")
        other = off_session(processor, saved.reference, "pay_test_1", customer="cus_test_mallory")
        assert other.failure_code is FailureCode.INVALID_PAYMENT_METHOD
        assert off_session(processor, "card_test_nosuch", "pay_test_2").failure_code is FailureCode.INVALID_PAYMENT_METHOD

    def test_saving_is_idempotent(self, processor, store):
        first = save(processor, "4242 4242 4242 4242")
        assert save(processor, "4242 4242 4242 4242") == first
        assert len(store.operations()) == 1

    def test_it_saves_card_input_only(self, processor):
        with pytest.raises(ValueError):
            processor.save_method(SaveMethodRequest("pm_test_1", CUSTOMER, BACK, payment_method_reference="pm_js"))


class TestChallenge:
    def test_3155_sends_the_customer_to_a_challenge_and_authorize_succeeds(self, processor, store):
        result = processor.charge(pay("4000 0025 0000 3155"))
        assert result.outcome is Outcome.REQUIRES_ACTION
        assert result.action_url.startswith("https://checkout.example.test/test-challenges/")
        shown = processor.challenge(challenge_id(result))
        assert shown.open and (shown.amount_atom, shown.currency, shown.return_url) == (1999, "USD", BACK)
        assert shown.card.last4 == "3155" and shown.kind is Kind.CHARGE
        assert charges(store) == []

        answered = processor.answer_challenge(challenge_id(result), authorize=True)
        assert not answered.open and answered.result.outcome is Outcome.SUCCEEDED
        assert answered.result.reference == result.reference
        assert processor.lookup("pay_test_1").outcome is Outcome.SUCCEEDED
        assert processor.charge(pay("4000 0025 0000 3155")).outcome is Outcome.SUCCEEDED
        assert len(charges(store)) == 1

    def test_fail_is_authentication_failed(self, processor, store):
        result = processor.charge(pay("4000 0025 0000 3155"))
        answered = processor.answer_challenge(challenge_id(result), authorize=False)
        assert (answered.result.outcome, answered.result.failure_code) == (Outcome.FAILED, FailureCode.AUTHENTICATION_FAILED)
        assert processor.lookup("pay_test_1").failure_code is FailureCode.AUTHENTICATION_FAILED
        assert charges(store) == []

    def test_only_the_first_answer_counts(self, processor):
        result = processor.charge(pay("4000 0025 0000 3155"))
        processor.answer_challenge(challenge_id(result), authorize=True)
        late = processor.answer_challenge(challenge_id(result), authorize=False)
        assert late.result.outcome is Outcome.SUCCEEDED

    def test_each_challenge_has_its_own_unguessable_id(self, processor):
        a = processor.charge(pay("4000 0025 0000 3155", key="pay_test_1"))
        b = processor.charge(pay("4000 0025 0000 3155", key="pay_test_2"))
        assert challenge_id(a) != challenge_id(b) and len(challenge_id(a)) >= 32

    def test_an_unknown_challenge(self, processor):
        assert processor.challenge("nope") is None
        with pytest.raises(NotFound):
            processor.answer_challenge("nope", authorize=True)

    def test_saving_3155_is_challenged_then_off_session_charges_need_nothing(self, processor):
        saved = save(processor, "4000 0025 0000 3155")
        assert saved.outcome is Outcome.REQUIRES_ACTION
        assert off_session(processor, saved.reference, "pay_test_0").failure_code is FailureCode.INVALID_PAYMENT_METHOD
        answered = processor.answer_challenge(challenge_id(saved), authorize=True)
        assert answered.kind is Kind.SAVE_METHOD and answered.result.outcome is Outcome.SUCCEEDED
        assert off_session(processor, saved.reference, "pay_test_1").outcome is Outcome.SUCCEEDED
        # With the customer present, a 3155 card authenticates every time.
        on_session = processor.charge(ChargeRequest("pay_test_2", 1000, "USD", BACK, CUSTOMER,
                                                    payment_method_reference=saved.reference))
        assert on_session.outcome is Outcome.REQUIRES_ACTION

    def test_saving_3155_and_failing_saves_nothing(self, processor):
        saved = save(processor, "4000 0025 0000 3155")
        processor.answer_challenge(challenge_id(saved), authorize=False)
        assert off_session(processor, saved.reference, "pay_test_1").failure_code is FailureCode.INVALID_PAYMENT_METHOD


class TestCancel:
    def test_a_challenge_left_unanswered_is_canceled_and_cannot_be_answered_after(self, processor, store):
        result = processor.charge(pay("4000 0025 0000 3155"))
        assert processor.cancel("pay_test_1").outcome is Outcome.CANCELED
        assert processor.answer_challenge(challenge_id(result), authorize=True).result.outcome is Outcome.CANCELED
        assert charges(store) == []

    def test_a_finished_charge_stays_what_it_is(self, processor):
        result = processor.charge(pay("4000 0025 0000 3155"))
        processor.answer_challenge(challenge_id(result), authorize=True)
        assert processor.cancel("pay_test_1").outcome is Outcome.SUCCEEDED
        processor.charge(pay("4000 0000 0000 0002", key="pay_test_2"))
        assert processor.cancel("pay_test_2").failure_code is FailureCode.CARD_DECLINED

    def test_a_key_never_used_is_canceled_for_good(self, processor, store):
        assert processor.cancel("pay_test_1").outcome is Outcome.CANCELED
        assert processor.charge(pay("4242 4242 4242 4242")).outcome is Outcome.CANCELED
        assert charges(store) == []

    def test_only_charges_are_canceled(self, processor):
        charged = processor.charge(pay("4242 4242 4242 4242"))
        processor.refund(RefundRequest("re_test_1", charged.reference, 100, "USD"))
        with pytest.raises(Conflict):
            processor.cancel("re_test_1")


class TestRefunds:
    @pytest.fixture
    def charged(self, processor):
        return processor.charge(pay("4242 4242 4242 4242", amount=5000))

    def refund(self, processor, charged, key, amount, currency="USD"):
        return processor.refund(RefundRequest(key, charged.reference, amount, currency, reason="requested_by_customer"))

    def test_partial_then_full(self, processor, charged, store):
        first = self.refund(processor, charged, "re_test_1", 2000)
        rest = self.refund(processor, charged, "re_test_2", 3000)
        assert first.outcome is rest.outcome is Outcome.SUCCEEDED
        assert first.reference.startswith("rf_test_") and first.reference != rest.reference
        assert store.refunded_atom(charged.reference) == 5000

    def test_more_than_is_left_is_refused(self, processor, charged, store):
        self.refund(processor, charged, "re_test_1", 4000)
        over = self.refund(processor, charged, "re_test_2", 1001)
        assert (over.outcome, over.failure_code) == (Outcome.FAILED, FailureCode.CHARGE_NOT_REFUNDABLE)
        assert store.refunded_atom(charged.reference) == 4000

    def test_a_refund_is_idempotent(self, processor, charged, store):
        first = self.refund(processor, charged, "re_test_1", 5000)
        assert self.refund(processor, charged, "re_test_1", 5000) == first
        assert store.refunded_atom(charged.reference) == 5000

    def test_only_a_succeeded_charge_in_its_currency(self, processor, charged):
        declined = processor.charge(pay("4000 0000 0000 0002", key="pay_test_2"))
        for result in [self.refund(processor, declined, "re_test_1", 100),
                       self.refund(processor, charged, "re_test_2", 100, currency="EUR")]:
            assert result.failure_code is FailureCode.CHARGE_NOT_REFUNDABLE
        nosuch = processor.refund(RefundRequest("re_test_3", "ch_test_nosuch", 100, "USD"))
        assert nosuch.failure_code is FailureCode.CHARGE_NOT_REFUNDABLE

    def test_lookup_finds_a_refund(self, processor, charged):
        result = self.refund(processor, charged, "re_test_1", 100)
        assert processor.lookup("re_test_1") == result


class TestFaults:
    def test_latency_waits_before_every_call(self, processor, sleeps):
        processor.faults = Faults(latency_seconds=2.5)
        processor.charge(pay("4242 4242 4242 4242"))
        processor.lookup("pay_test_1")
        assert sleeps == [2.5, 2.5]

    def test_lost_answer_is_unknown_then_lookup_tells_it_happened(self, processor, store):
        processor.faults = Faults(timeout=TimeoutAt.AFTER)
        lost = processor.charge(pay("4242 4242 4242 4242"))
        assert (lost.outcome, lost.reference) == (Outcome.UNKNOWN, None)
        status = apply_payment_outcome(PaymentStatus.PROCESSING, lost.outcome)
        assert status is PaymentStatus.PROCESSING  # never guessed

        found = processor.lookup("pay_test_1")  # lookup is not hit by the timeout
        assert found.outcome is Outcome.SUCCEEDED and found.reference
        assert apply_payment_outcome(status, found.outcome) is PaymentStatus.SUCCEEDED
        processor.faults = Faults()
        assert processor.charge(pay("4242 4242 4242 4242")) == found
        assert len(charges(store)) == 1

    def test_lost_call_is_unknown_then_lookup_tells_it_never_happened(self, processor, store):
        processor.faults = Faults(timeout=TimeoutAt.BEFORE)
        assert processor.charge(pay("4242 4242 4242 4242")).outcome is Outcome.UNKNOWN
        assert store.operations() == []
        assert processor.lookup("pay_test_1") is None
        processor.faults = Faults()
        canceled = processor.cancel("pay_test_1")  # what the reconcile job does on None
        assert apply_payment_outcome(PaymentStatus.PROCESSING, canceled.outcome) is PaymentStatus.CANCELED
        assert processor.charge(pay("4242 4242 4242 4242")).outcome is Outcome.CANCELED
        assert charges(store) == []

    def test_lost_answer_of_a_declined_charge_is_found_declined(self, processor):
        processor.faults = Faults(timeout=TimeoutAt.AFTER)
        assert processor.charge(pay("4000 0000 0000 9995")).outcome is Outcome.UNKNOWN
        assert processor.lookup("pay_test_1").failure_code is FailureCode.INSUFFICIENT_FUNDS

    def test_lost_answer_of_a_challenge_is_found_requiring_action(self, processor):
        processor.faults = Faults(timeout=TimeoutAt.AFTER)
        assert processor.charge(pay("4000 0025 0000 3155")).outcome is Outcome.UNKNOWN
        found = processor.lookup("pay_test_1")
        assert found.outcome is Outcome.REQUIRES_ACTION and processor.challenge(challenge_id(found)).open

    def test_lost_answers_of_saves_refunds_and_cancels(self, processor):
        charged = processor.charge(pay("4242 4242 4242 4242"))
        processor.faults = Faults(timeout=TimeoutAt.AFTER)
        assert save(processor, "4242 4242 4242 4242").outcome is Outcome.UNKNOWN
        assert processor.refund(RefundRequest("re_test_1", charged.reference, 100, "USD")).outcome is Outcome.UNKNOWN
        assert processor.cancel("pay_test_2").outcome is Outcome.UNKNOWN
        assert processor.lookup("pm_test_1").outcome is Outcome.SUCCEEDED
        assert processor.lookup("re_test_1").outcome is Outcome.SUCCEEDED
        assert processor.lookup("pay_test_2").outcome is Outcome.CANCELED

    def test_error_fails_the_call_and_charges_nothing(self, processor, store):
        processor.faults = Faults(error=True)
        failed = processor.charge(pay("4242 4242 4242 4242"))
        assert (failed.outcome, failed.failure_code) == (Outcome.FAILED, FailureCode.PROCESSING_ERROR)
        processor.faults = Faults()
        assert processor.charge(pay("4242 4242 4242 4242")) == failed  # the key keeps its answer
        assert processor.charge(pay("4242 4242 4242 4242", key="pay_test_2")).outcome is Outcome.SUCCEEDED
        assert len(charges(store)) == 1

    def test_error_on_a_challenge_card_opens_no_challenge(self, processor):
        processor.faults = Faults(error=True)
        assert processor.charge(pay("4000 0025 0000 3155")).failure_code is FailureCode.PROCESSING_ERROR
        assert save(processor, "4000 0025 0000 3155").failure_code is FailureCode.PROCESSING_ERROR


class TestNothingShowsACard:
    def test_no_result_operation_or_challenge_holds_the_number_or_cvc(self, processor, store):
        shown = []
        for n, number in enumerate(TEST_CARDS):
            shown.append(processor.charge(pay(number, key=f"pay_test_{n}")))
            shown.append(save(processor, number, key=f"pm_test_{n}"))
        for result in list(shown):
            if result.action_url:
                shown.append(processor.challenge(challenge_id(result)))
        shown.extend(store.operations())
        text = " ".join(f"{item!r} {item}" for item in shown)
        for number in TEST_CARDS:
            assert number not in text
        for op in store.operations():  # the random ids aside (they may hold any three digits)
            assert CVC not in repr(replace(op, reference=None, challenge_id=None))
