"""Refund arithmetic (domain/payments/refunds.py): integer atoms, never more than the payment."""
import pytest

from domain.errors import Conflict, InvalidRequest
from domain.payments.refunds import RefundLine, amount_left, amount_refunded, refund_amount
from domain.payments.states import PaymentStatus, RefundStatus

PAID = PaymentStatus.SUCCEEDED


def ok(amount_atom: int) -> RefundLine:
    return RefundLine(amount_atom, RefundStatus.SUCCEEDED)


def rejected(*args, **kwargs) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        refund_amount(*args, **kwargs)
    assert caught.value.param == "amount_atom"
    return caught.value


def test_default_is_all_that_is_left():
    assert refund_amount(PAID, 5000, []) == 5000
    assert refund_amount(PAID, 5000, [ok(1200)]) == 3800


def test_partial_then_full():
    refunds: list[RefundLine] = []
    first = refund_amount(PAID, 5000, refunds, 2000)
    refunds.append(ok(first))
    rest = refund_amount(PAID, 5000, refunds)
    refunds.append(ok(rest))
    assert (first, rest) == (2000, 3000)
    assert amount_refunded(refunds) == 5000
    assert amount_left(5000, refunds) == 0


def test_exactly_what_is_left_is_allowed():
    assert refund_amount(PAID, 5000, [ok(4999)], 1) == 1


def test_over_refund_is_refused_and_says_how_much_is_left():
    error = rejected(PAID, 5000, [ok(2000)], 3001)
    assert error.code == "amount_too_large"
    assert "3000" in error.message


def test_nothing_left_is_refused_even_by_default():
    assert rejected(PAID, 5000, [ok(5000)]).code == "amount_too_large"
    assert rejected(PAID, 5000, [ok(5000)], 1).code == "amount_too_large"


@pytest.mark.parametrize("amount", [0, -1, -5000])
def test_zero_and_negative_are_refused(amount):
    assert rejected(PAID, 5000, [], amount).code == "parameter_invalid"


@pytest.mark.parametrize("amount", [10.0, 10.5, "10", True])
def test_only_integers(amount):
    rejected(PAID, 5000, [], amount)


def test_pending_refunds_hold_their_amount_and_failed_ones_release_it():
    refunds = [RefundLine(3000, RefundStatus.PENDING), RefundLine(1500, RefundStatus.FAILED), ok(1000)]
    assert amount_left(5000, refunds) == 1000
    assert amount_refunded(refunds) == 1000  # pending money has not gone back yet
    assert refund_amount(PAID, 5000, refunds) == 1000
    rejected(PAID, 5000, refunds, 1001)


def test_sum_never_exceeds_the_payment_whatever_the_order():
    total, refunds = 1001, []
    for requested in [300, 300, 300, 300, None]:
        try:
            refunds.append(ok(refund_amount(PAID, total, refunds, requested)))
        except InvalidRequest:
            pass
    assert [r.amount_atom for r in refunds] == [300, 300, 300, 101]
    assert amount_refunded(refunds) == total


def test_stored_rows_work_as_they_are():
    class Row:
        def __init__(self, amount_atom, status):
            self.amount_atom, self.status = amount_atom, status

    assert refund_amount("succeeded", 900, [Row(400, "succeeded"), Row(500, "failed")]) == 500


@pytest.mark.parametrize("status", [s for s in PaymentStatus if s is not PaymentStatus.SUCCEEDED])
def test_only_a_succeeded_payment_is_refundable(status):
    with pytest.raises(Conflict) as caught:
        refund_amount(status, 5000, [], 100)
    assert caught.value.code == "payment_not_refundable"
