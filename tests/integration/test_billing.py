"""Billing on real time, moved with freezegun (SPEC 8): the sweep and the charge job's function on
the real database and the test processor. Exactly once under two sweeps at once and a repeated
job; an outcome the processor did not give stays processing until the reconcile job settles it."""
from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from domain import billing, checkout_payments
from domain.db import utcnow
from domain.models import Invoice, Payment, Subscription, TestProcessorOperation
from domain.payments.builtin import Faults, TimeoutAt
from tests.conftest import make_merchant
from tests.integration.test_paying import VISA, make_link, open_session, pay, session_of

T0 = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
RENEWAL = datetime(2026, 2, 28, 9, 0, tzinfo=UTC)


@pytest.fixture
def merchant(client, uow_factory):
    return make_merchant(client, uow_factory).in_test_mode()


def subscribe(merchant, client, uow_factory, settings, *, amount=2500, **fields) -> str:
    link = make_link(merchant, mode="subscription", line_items=[{"price_id": merchant.recurring_price(amount)["id"]}],
                     **fields)
    token = open_session(uow_factory, settings, link)
    assert pay(client, token, VISA).status_code == 303
    return session_of(uow_factory, token).subscription_id


def invoices_of(uow_factory, subscription_id: str) -> list[Invoice]:
    with uow_factory() as uow:
        found = list(uow.session.scalars(select(Invoice).where(Invoice.subscription_id == subscription_id)
                                         .order_by(Invoice.period_start)))
        uow.session.expunge_all()
        return found


def sweep(uow_factory, now: datetime, sub_id: str) -> list[str]:
    """One sweep (of the whole database: other tests' due rows too); the invoices it made for `sub_id`."""
    with uow_factory() as uow:
        made = billing.make_due_invoices(uow, now, limit=10_000)
        uow.commit()
        return list(uow.session.scalars(select(Invoice.id).where(Invoice.id.in_(made),
                                                                 Invoice.subscription_id == sub_id)))


def charge(deps, invoice_id: str, attempt: int = 0, processors=None) -> str | None:
    return billing.charge(deps.units, invoice_id, attempt, (processors or deps.processors).for_processor, utcnow)


def test_a_renewal_falls_due_at_the_period_end_and_is_charged_once(merchant, client, uow_factory, settings, deps):
    with freeze_time(T0):
        sub_id = subscribe(merchant, client, uow_factory, settings)
    with freeze_time(RENEWAL - timedelta(seconds=1)):
        assert sweep(uow_factory, utcnow(), sub_id) == []  # not yet
    with freeze_time(RENEWAL + timedelta(seconds=5)):
        [invoice_id] = sweep(uow_factory, utcnow(), sub_id)
        assert sweep(uow_factory, utcnow(), sub_id) == []  # a second sweep finds it made
        assert charge(deps, invoice_id) == "succeeded"
        assert charge(deps, invoice_id) is None  # the job again: its attempt is made
    first, renewal = invoices_of(uow_factory, sub_id)
    assert (first.status, first.period_end) == ("paid", RENEWAL)
    assert (renewal.status, renewal.period_start, renewal.period_end, renewal.amount_total_atom, renewal.attempt_count) \
        == ("paid", RENEWAL, datetime(2026, 3, 31, 9, 0, tzinfo=UTC), 2500, 1)
    with uow_factory() as uow:
        sub = uow.session.get(Subscription, sub_id)
        assert (sub.status, sub.current_period_start, sub.next_billing_at, sub.latest_invoice_id) == \
            ("active", RENEWAL, renewal.period_end, renewal.id)
        assert uow.session.scalar(select(func.count()).select_from(TestProcessorOperation).where(
            TestProcessorOperation.idempotency_key == renewal.payment_id)) == 1


def test_the_database_refuses_a_second_live_payment_of_an_invoice(merchant, client, uow_factory, settings, deps):
    """The claim in begin_charge (a locked invoice, its attempt_count) is backed by a unique key:
    whatever a job did wrong, an invoice has at most one payment under way or paid."""
    with freeze_time(T0):
        sub_id = subscribe(merchant, client, uow_factory, settings)
    with freeze_time(RENEWAL + timedelta(seconds=5)):
        [invoice_id] = sweep(uow_factory, utcnow(), sub_id)
        assert charge(deps, invoice_id) == "succeeded"
    with uow_factory() as uow:
        paid = uow.session.scalar(select(Payment).where(Payment.invoice_id == invoice_id))
        with pytest.raises(IntegrityError, match="payments_one_live_per_invoice"):
            uow.session.execute(text(
                "INSERT INTO payments SELECT (p).* FROM (SELECT jsonb_populate_record(NULL::payments, "
                "to_jsonb(t) || jsonb_build_object('id', t.id || '_again', 'processor_reference', NULL)) AS p "
                "FROM payments t WHERE t.id = :id) copies"), {"id": paid.id})


def test_two_sweeps_at_once_make_each_invoice_once(merchant, client, uow_factory, settings, deps):
    with freeze_time(T0):
        sub_id = subscribe(merchant, client, uow_factory, settings)
    with uow_factory() as uow:  # 199 more due subscriptions like it
        uow.session.execute(text(
            "INSERT INTO subscriptions SELECT (s).* FROM (SELECT jsonb_populate_record(NULL::subscriptions, "
            "to_jsonb(t) || jsonb_build_object('id', t.id || '_' || n, 'checkout_session_id', NULL)) AS s "
            "FROM subscriptions t, generate_series(1, 199) n WHERE t.id = :id) copies"), {"id": sub_id})
        uow.commit()
    made: list[list[str]] = [[] for _ in range(4)]
    start = threading.Barrier(4)

    def run(n: int) -> None:
        start.wait()
        while True:
            with uow_factory() as uow:
                batch = billing.make_due_invoices(uow, RENEWAL + timedelta(minutes=1), limit=7)
                uow.commit()
            if not batch:
                return
            made[n] += batch

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [invoice_id for ids in made for invoice_id in ids]
    assert len(every) == len(set(every)) == 200
    assert sum(1 for ids in made if ids) >= 2  # they really did share the work
    with uow_factory() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Invoice).where(
            Invoice.period_start == RENEWAL, Invoice.subscription_id.like(f"{sub_id}%"))) == 200
        # Leave no due work for the other tests' sweeps.
        uow.session.execute(text("UPDATE invoices SET status = 'void', next_attempt_at = NULL "
                                 "WHERE subscription_id LIKE :p AND status = 'open'"), {"p": f"{sub_id}%"})
        uow.commit()


def test_a_lost_answer_stays_processing_until_reconcile_settles_the_invoice(merchant, client, uow_factory, settings,
                                                                            deps):
    with freeze_time(T0):
        sub_id = subscribe(merchant, client, uow_factory, settings)
    lost = replace(deps.processors, faults=Faults(timeout=TimeoutAt.AFTER))
    with freeze_time(RENEWAL + timedelta(seconds=5)):
        [invoice_id] = sweep(uow_factory, utcnow(), sub_id)
        assert charge(deps, invoice_id, processors=lost) == "processing"  # the charge happened; we were not told
        with uow_factory() as uow:  # nothing is guessed, nothing is due again
            claimed = billing.claim_due_invoices(uow, utcnow() + timedelta(days=30), limit=10_000)
            assert invoice_id not in [i for i, _ in claimed]
    [_, renewal] = invoices_of(uow_factory, sub_id)
    assert (renewal.status, renewal.attempt_count, renewal.next_attempt_at) == ("open", 0, None)
    with uow_factory() as uow:
        assert uow.session.get(Subscription, sub_id).current_period_start == T0
        payment = uow.session.get(Payment, renewal.payment_id)
        assert (payment.status, payment.invoice_id) == ("processing", invoice_id)
        payment_id = payment.id
        assert payment_id in checkout_payments.claim_due(uow, datetime.now(UTC) + timedelta(minutes=1), limit=10_000)
    attempt = checkout_payments.reconcile(deps.units, payment_id, deps.processors.for_processor, utcnow)
    assert attempt.step is checkout_payments.Step.COMPLETED
    [_, renewal] = invoices_of(uow_factory, sub_id)
    assert (renewal.status, renewal.attempt_count) == ("paid", 1)
    with uow_factory() as uow:
        assert uow.session.get(Subscription, sub_id).current_period_start == RENEWAL
        assert uow.session.scalar(select(func.count()).select_from(TestProcessorOperation).where(
            TestProcessorOperation.idempotency_key == payment_id)) == 1


def test_a_charge_that_never_reached_the_processor_is_canceled_and_due_again(merchant, client, uow_factory,
                                                                             settings, deps):
    with freeze_time(T0):
        sub_id = subscribe(merchant, client, uow_factory, settings)
    never = replace(deps.processors, faults=Faults(timeout=TimeoutAt.BEFORE))
    with freeze_time(RENEWAL + timedelta(seconds=5)):
        [invoice_id] = sweep(uow_factory, utcnow(), sub_id)
        assert charge(deps, invoice_id, processors=never) == "processing"
        [_, renewal] = invoices_of(uow_factory, sub_id)
        attempt = checkout_payments.reconcile(deps.units, renewal.payment_id, deps.processors.for_processor, utcnow)
        assert attempt.step is checkout_payments.Step.DECLINED
        [_, renewal] = invoices_of(uow_factory, sub_id)
        assert (renewal.status, renewal.attempt_count, renewal.next_attempt_at) == ("open", 0, utcnow())
        with uow_factory() as uow:
            assert (invoice_id, 0) in billing.claim_due_invoices(uow, utcnow(), limit=10_000)
            uow.commit()
        assert charge(deps, invoice_id) == "succeeded"
    with uow_factory() as uow:
        statuses = sorted(uow.session.scalars(select(Payment.status).where(Payment.invoice_id == invoice_id)))
        assert statuses == ["canceled", "succeeded"]


def test_renewal_receipts_are_owed_once_per_paid_invoice(merchant, client, uow_factory, settings, deps):
    from domain import emails
    from domain.models import Email, Event

    with freeze_time(T0):
        sub_id = subscribe(merchant, client, uow_factory, settings)
    with freeze_time(RENEWAL + timedelta(seconds=5)):
        [invoice_id] = sweep(uow_factory, utcnow(), sub_id)
        assert charge(deps, invoice_id) == "succeeded"
    with uow_factory() as uow:
        paid = uow.session.scalars(select(Event).where(Event.account_id == merchant.account_id,
                                                       Event.type.in_(["invoice.paid", "payment.succeeded"]))).all()
        owed = {event.type + ":" + event.data["object"]["id"]: emails._owes_receipt(uow, event.type,
                                                                                     event.data["object"])
                for event in paid}
        [renewal_payment] = uow.session.scalars(select(Payment.id).where(Payment.invoice_id == invoice_id)).all()
        first_invoice = [i for i in invoices_of(uow_factory, sub_id) if i.id != invoice_id][0]
        # The checkout's payment is receipted (not its invoice); the renewal's invoice (not its payment).
        assert owed[f"invoice.paid:{invoice_id}"] is True
        assert owed[f"payment.succeeded:{renewal_payment}"] is False
        assert owed[f"invoice.paid:{first_invoice.id}"] is False
        assert owed[f"payment.succeeded:{first_invoice.payment_id}"] is True
        assert uow.session.scalar(select(func.count()).select_from(Email)) is not None


def test_an_advance_past_its_deadline_stops_between_steps_and_goes_on(merchant, client, uow_factory, settings, deps):
    from sqlalchemy import update

    from domain import test_clocks
    from domain.models import TestClock
    from domain.queries import Owner

    owner = Owner(merchant.account_id, False)
    with uow_factory() as uow:
        clock = test_clocks.create(uow, owner, test_clocks.NewTestClock(frozen_time=T0))
        uow.commit()
    customer = merchant.ok("POST", "/customers", {"email": "slow@example.com", "test_clock_id": clock.id})
    sub_id = subscribe(merchant, client, uow_factory, settings, customer_id=customer["id"])
    with uow_factory() as uow:  # as test_clocks.advance leaves it, without sending its job (run here instead)
        uow.session.execute(update(TestClock).where(TestClock.id == clock.id).values(
            frozen_time=T0 + timedelta(days=100), status="advancing"))
        uow.commit()
    steps, finished = billing.advance_clock(deps.units, clock.id, deps.processors.for_processor, utcnow,
                                            deadline=0.0)  # already past: not one step
    assert (steps, finished) == (0, False)
    with uow_factory() as uow:
        assert test_clocks.get(uow, owner, clock.id).status == "advancing"
    steps, finished = billing.advance_clock(deps.units, clock.id, deps.processors.for_processor, utcnow)
    assert finished and steps == 3  # 28 February, 31 March, 30 April
    assert [i.status for i in invoices_of(uow_factory, sub_id)] == ["paid"] * 4
    with uow_factory() as uow:
        assert test_clocks.get(uow, owner, clock.id).status == "ready"


def test_an_invoice_receipt_shows_the_invoice_and_its_lines():
    from domain.emails import ToSend
    from workers.emails import render

    invoice = {"object": "invoice", "id": "in_test_receipt0000000000", "amount_total_atom": 2450, "currency": "EUR",
               "customer_id": "cus_test_x", "lines": []}
    item = ToSend("em_1", 0, "receipt", "ada@example.com", "de_DE",
                  {"id": "evt_1", "type": "invoice.paid", "created_at": T0, "object": invoice}, "Tea club", None,
                  {"id": invoice["id"], "line_items": [{"name": "Tea club", "quantity": 1, "unit_amount_atom": 2450,
                                                        "currency": "EUR", "amount_atom": 2450}],
                   "currency": "EUR", "amount_subtotal_atom": 2450, "amount_discount_atom": 0,
                   "amount_total_atom": 2450, "customer_email": "ada@example.com"})
    subject, text_body, html_body = render(item)
    assert subject == "Receipt from Tea club: 24,50\xa0€"
    assert "Invoice in_test_receipt0000000000" in text_body and "1 x Tea club" in text_body
    assert "Invoice in_test_receipt0000000000" in html_body


def test_the_beats_sweep_sets_the_gauges_and_the_worker_counts_its_charges(merchant, client, uow_factory, settings,
                                                                           deps, celery_worker):
    from sqlalchemy import update

    from runtime import metrics
    from tests.conftest import wait_for
    from workers import billing as billing_jobs

    sub_id = subscribe(merchant, client, uow_factory, settings)
    overdue = datetime.now(UTC) - timedelta(minutes=5)
    with uow_factory() as uow:
        uow.session.execute(update(Subscription).where(Subscription.id == sub_id).values(
            current_period_end=overdue, next_billing_at=overdue))
        uow.commit()
    before = metrics.BILLING_CHARGES.labels("succeeded")._value.get()
    made, _ = billing_jobs.sweep(datetime.now(UTC))
    assert made >= 1
    assert metrics.BILLING_DUE.labels("renewals")._value.get() >= 1
    assert metrics.BILLING_OVERDUE_SECONDS._value.get() >= 300
    wait_for(lambda: [i.status for i in invoices_of(uow_factory, sub_id)] == ["paid", "paid"], timeout=30)
    wait_for(lambda: metrics.BILLING_CHARGES.labels("succeeded")._value.get() >= before + 1, timeout=10)
