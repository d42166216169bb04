"""Payment and refund state machines (domain/payments/states.py): every status against every
outcome, allowed and refused; repeats and stale news change nothing."""
import pytest

from domain.errors import Conflict
from domain.payments.processor import Outcome
from domain.payments.states import (
    PAYMENT_TRANSITIONS, REFUND_TRANSITIONS, IllegalTransition, PaymentStatus, RefundStatus,
    apply_payment_outcome, apply_refund_outcome, is_final,
)

P, O, R = PaymentStatus, Outcome, RefundStatus
REFUSED = "refused"

# Every (status, outcome) pair: the status after it, or REFUSED.
PAYMENT_CASES = {
    (P.PROCESSING, O.SUCCEEDED): P.SUCCEEDED,
    (P.PROCESSING, O.REQUIRES_ACTION): P.REQUIRES_ACTION,
    (P.PROCESSING, O.FAILED): P.FAILED,
    (P.PROCESSING, O.CANCELED): P.CANCELED,
    (P.PROCESSING, O.UNKNOWN): P.PROCESSING,
    (P.REQUIRES_ACTION, O.SUCCEEDED): P.SUCCEEDED,
    (P.REQUIRES_ACTION, O.REQUIRES_ACTION): P.REQUIRES_ACTION,
    (P.REQUIRES_ACTION, O.FAILED): P.FAILED,
    (P.REQUIRES_ACTION, O.CANCELED): P.CANCELED,
    (P.REQUIRES_ACTION, O.UNKNOWN): P.REQUIRES_ACTION,
    (P.SUCCEEDED, O.SUCCEEDED): P.SUCCEEDED,
    (P.SUCCEEDED, O.REQUIRES_ACTION): P.SUCCEEDED,  # an older notification, delivered late
    (P.SUCCEEDED, O.FAILED): REFUSED,
    (P.SUCCEEDED, O.CANCELED): REFUSED,
    (P.SUCCEEDED, O.UNKNOWN): P.SUCCEEDED,
    (P.FAILED, O.SUCCEEDED): REFUSED,
    (P.FAILED, O.REQUIRES_ACTION): P.FAILED,
    (P.FAILED, O.FAILED): P.FAILED,
    (P.FAILED, O.CANCELED): REFUSED,
    (P.FAILED, O.UNKNOWN): P.FAILED,
    (P.CANCELED, O.SUCCEEDED): REFUSED,
    (P.CANCELED, O.REQUIRES_ACTION): P.CANCELED,
    (P.CANCELED, O.FAILED): REFUSED,
    (P.CANCELED, O.CANCELED): P.CANCELED,
    (P.CANCELED, O.UNKNOWN): P.CANCELED,
}

REFUND_CASES = {
    (R.PENDING, O.SUCCEEDED): R.SUCCEEDED,
    (R.PENDING, O.FAILED): R.FAILED,
    (R.PENDING, O.UNKNOWN): R.PENDING,
    (R.PENDING, O.REQUIRES_ACTION): REFUSED,
    (R.PENDING, O.CANCELED): REFUSED,
    (R.SUCCEEDED, O.SUCCEEDED): R.SUCCEEDED,
    (R.SUCCEEDED, O.FAILED): REFUSED,
    (R.SUCCEEDED, O.UNKNOWN): R.SUCCEEDED,
    (R.SUCCEEDED, O.REQUIRES_ACTION): REFUSED,
    (R.SUCCEEDED, O.CANCELED): REFUSED,
    (R.FAILED, O.SUCCEEDED): REFUSED,
    (R.FAILED, O.FAILED): R.FAILED,
    (R.FAILED, O.UNKNOWN): R.FAILED,
    (R.FAILED, O.REQUIRES_ACTION): REFUSED,
    (R.FAILED, O.CANCELED): REFUSED,
}


def test_the_cases_cover_every_status_and_outcome():
    assert set(PAYMENT_CASES) == {(status, outcome) for status in P for outcome in O}
    assert set(REFUND_CASES) == {(status, outcome) for status in R for outcome in O}


def test_status_values_are_the_spec_strings():
    assert [s.value for s in P] == ["processing", "requires_action", "succeeded", "failed", "canceled"]
    assert [s.value for s in R] == ["pending", "succeeded", "failed"]


@pytest.mark.parametrize("status, outcome", list(PAYMENT_CASES))
def test_payment_outcome(status, outcome):
    expected = PAYMENT_CASES[status, outcome]
    if expected == REFUSED:
        with pytest.raises(IllegalTransition) as caught:
            apply_payment_outcome(status, outcome)
        assert caught.value.code == "illegal_transition"
        assert isinstance(caught.value, Conflict)
    else:
        assert apply_payment_outcome(status, outcome) is expected


@pytest.mark.parametrize("status, outcome", list(REFUND_CASES))
def test_refund_outcome(status, outcome):
    expected = REFUND_CASES[status, outcome]
    if expected == REFUSED:
        with pytest.raises(IllegalTransition):
            apply_refund_outcome(status, outcome)
    else:
        assert apply_refund_outcome(status, outcome) is expected


def test_every_change_the_outcomes_make_is_in_the_table_and_every_table_move_is_reachable():
    moves = {(status, after) for (status, _), after in PAYMENT_CASES.items() if after not in (REFUSED, status)}
    assert moves == {(status, after) for status, targets in PAYMENT_TRANSITIONS.items() for after in targets}
    refund_moves = {(status, after) for (status, _), after in REFUND_CASES.items() if after not in (REFUSED, status)}
    assert refund_moves == {(status, after) for status, targets in REFUND_TRANSITIONS.items() for after in targets}


def test_a_succeeded_payment_never_becomes_failed_however_often_it_is_told():
    status = P.SUCCEEDED
    for outcome in [O.SUCCEEDED, O.UNKNOWN, O.REQUIRES_ACTION, O.SUCCEEDED]:
        status = apply_payment_outcome(status, outcome)
    assert status is P.SUCCEEDED
    with pytest.raises(IllegalTransition, match="succeeded payment cannot become failed"):
        apply_payment_outcome(status, O.FAILED)


def test_webhook_and_reconcile_may_apply_the_same_history_twice():
    history = [O.UNKNOWN, O.REQUIRES_ACTION, O.UNKNOWN, O.SUCCEEDED]
    status = P.PROCESSING
    for outcome in history + history:
        status = apply_payment_outcome(status, outcome)
    assert status is P.SUCCEEDED


def test_stored_strings_are_accepted():
    assert apply_payment_outcome("processing", "succeeded") is P.SUCCEEDED
    assert apply_refund_outcome("pending", "failed") is R.FAILED
    with pytest.raises(ValueError):
        apply_payment_outcome("paid", "succeeded")


def test_final_statuses():
    assert [s for s in P if is_final(s)] == [P.SUCCEEDED, P.FAILED, P.CANCELED]
    assert [s for s in R if is_final(s)] == [R.SUCCEEDED, R.FAILED]
