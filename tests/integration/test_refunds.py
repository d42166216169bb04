"""Refunds through the built-in test processor: partial then full, never more than was paid (also
when asked for at once), a lost answer left pending until the reconcile job asks."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from domain import checkout_sessions, payment_records
from domain.checkout_tokens import new_checkout_token
from domain.errors import Conflict, InvalidRequest
from domain.ids import new_id
from domain.models import Payment
from domain.payments.builtin import Faults, TimeoutAt
from domain.queries import Owner
from tests.conftest import find_share_link, make_merchant, pay_session


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def paid(client, uow_factory, settings, deps) -> tuple[Owner, str]:
    """A test-mode payment of 50.00 EUR that succeeded: its owner and id."""
    merchant = make_merchant(client, uow_factory).in_test_mode()
    link = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": merchant.price(5000, "EUR")["id"]}]})
    token = new_checkout_token(settings.secret_key, now())
    with uow_factory() as uow:
        found = find_share_link(uow.session.get_bind(), link["secure_token"])
        checkout_sessions.store(uow, checkout_sessions.new_session(found, session_id=new_id("cs", False),
                                                                   checkout_token=token, now=now()))
        uow.commit()
    assert pay_session(deps, token).completed
    with uow_factory() as uow:
        payment_id = checkout_sessions.find_by_token(uow, token).payment_id
    return Owner(merchant.account_id, False), payment_id


def refund(deps, paid, amount=None, processor=None):
    owner, payment_id = paid
    return payment_records.refund(deps.units, owner, payment_id, payment_records.NewRefund(amount),
                                  processor or deps.processors.test_processor(), now)


def refunded(uow_factory, payment_id: str) -> int:
    with uow_factory() as uow:
        return uow.session.get(Payment, payment_id).amount_refunded_atom


def test_a_partial_then_a_full_refund_and_nothing_more(deps, paid, uow_factory):
    owner, payment_id = paid
    first = refund(deps, paid, 1250)
    assert refunded(uow_factory, payment_id) == 1250
    rest = refund(deps, paid)  # all that is left
    with uow_factory() as uow:
        assert [r.amount_atom for r in payment_records.refunds_of(uow, [payment_id])[payment_id]] == [1250, 3750]
        assert {r.status for r in payment_records.refunds_of(uow, [payment_id])[payment_id]} == {"succeeded"}
        assert first != rest and first.startswith("re_test_")
    assert refunded(uow_factory, payment_id) == 5000
    with pytest.raises(InvalidRequest) as nothing_left:
        refund(deps, paid, 1)
    assert nothing_left.value.param == "amount_atom" and nothing_left.value.code == "amount_too_large"


@pytest.mark.parametrize("amount", [0, -5, 5001])
def test_a_refund_must_be_more_than_nothing_and_at_most_what_was_paid(deps, paid, uow_factory, amount):
    with pytest.raises(InvalidRequest) as refused:
        refund(deps, paid, amount)
    assert refused.value.param == "amount_atom"
    assert refunded(uow_factory, paid[1]) == 0


def test_concurrent_refunds_never_exceed_the_payment(deps, paid, uow_factory):
    def attempt(_):
        try:
            return refund(deps, paid, 2000)
        except InvalidRequest:
            return None

    with ThreadPoolExecutor(6) as pool:
        made = [r for r in pool.map(attempt, range(6)) if r]
    assert len(made) == 2 and refunded(uow_factory, paid[1]) == 4000


def test_a_payment_that_did_not_succeed_cannot_be_refunded(deps, paid, uow_factory):
    with uow_factory() as uow:
        uow.session.get(Payment, paid[1]).status = "failed"
        uow.commit()
    with pytest.raises(Conflict):
        refund(deps, paid)


def test_a_lost_answer_is_pending_until_reconcile_finds_the_refund(deps, paid, uow_factory):
    lost_answer = replace(deps.processors, faults=Faults(timeout=TimeoutAt.AFTER)).test_processor()
    refund_id = refund(deps, paid, 700, processor=lost_answer)
    with uow_factory() as uow:
        assert uow.session.get(payment_records.Refund, refund_id).status == "pending"
    assert refunded(uow_factory, paid[1]) == 0
    found = payment_records.reconcile_refund(deps.units, refund_id, deps.processors.for_processor, now)
    assert found.status == "succeeded" and refunded(uow_factory, paid[1]) == 700
    assert payment_records.reconcile_refund(deps.units, refund_id, deps.processors.for_processor, now) is None
