"""Billing subscriptions (SPEC 8): renewals, trials, dunning and cancellation, as due work.

Two kinds of due work, each a column with a partial index, found by sweeps in batches with
FOR UPDATE SKIP LOCKED (two beats at once split the rows, never share one):

- `subscriptions.next_billing_at`: the current period (or trial) ends. The sweep makes the next
  period's invoice (one per subscription and period: the unique key `invoices_one_per_period`)
  or, with `cancel_at_period_end`, cancels. The subscription then waits (next_billing_at NULL)
  until the invoice is paid, when the period advances and next_billing_at is its end.
- `invoices.next_attempt_at`: an open invoice to charge (its first attempt whose job was lost,
  or a retry after a decline: 1, 3 and 5 days after the first attempt).

A charge runs like the checkout's: one transaction claims the attempt (a Payment row,
`processing`, with the invoice's `attempt_count` as the claim: a repeated job finds it taken),
the processor is called off-session with the payment's id as idempotency key, and one
transaction records the outcome. An outcome nobody told us stays `processing`; the reconcile job
(domain/checkout_payments.reconcile) asks the processor and records it here, and the invoice
follows. Every time here is the billing time of the subscription's customer (its test clock's,
or the real one): callers pass it in, `test_clocks.now_for` answers it.

Lock order, everywhere: payment, then subscription, then invoice.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from domain import billing_rules, events, payment_records, test_clocks, views
from domain.db import UnitOfWork, locked, utcnow
from domain.ids import new_id
from domain.models import Invoice, Payment, PaymentMethod, Subscription
from domain.payments.processor import ChargeResult, FailureCode, OffSessionChargeRequest, Outcome, Processor
from domain.payments.states import PaymentStatus, apply_payment_outcome
from domain.queries import Owner

OPEN, PAID, VOID, UNCOLLECTIBLE = "open", "paid", "void", "uncollectible"
TRIALING, ACTIVE, PAST_DUE, CANCELED = "trialing", "active", "past_due", "canceled"
# An invoice handed to a job is not handed out again for this long (a lost job is found after it).
HANDOUT_LEASE = timedelta(minutes=2)
FIRST_CHECK_AFTER = timedelta(seconds=10)
LIVE = (PaymentStatus.PROCESSING.value, PaymentStatus.REQUIRES_ACTION.value)
BATCH_SIZE = 500

Units = Callable[[], UnitOfWork]
ProcessorFor = Callable[[UnitOfWork, Owner, str], Processor | None]


def anchor(subscription: Subscription) -> datetime:
    """The start of the first period that charges the recurring items: the trial's end, or the
    subscription's start. Periods are counted from it, and the coupon's duration too."""
    return subscription.trial_end or subscription.created_at


def _on_clock(column, clock_id: str | None):
    return column.is_(None) if clock_id is None else column == clock_id


# ---- period ends: invoices made, or cancellations ---------------------------------------------

def make_due_invoices(uow: UnitOfWork, now: datetime, *, clock_id: str | None = None, limit: int = BATCH_SIZE,
                      lease: timedelta = HANDOUT_LEASE) -> list[str]:
    """One batch of subscriptions whose period (or trial) ends by `now` (real-time ones, or those
    on `clock_id`): each makes its next invoice, due to be charged once `lease` has passed (the
    caller hands it to a job at once), or is canceled at period end. The ids of the invoices to
    charge. The caller commits.

    Set-based, a few statements per batch whatever its size (bench/billing.py): the due rows
    locked and read (SKIP LOCKED), the invoices computed here and inserted in one statement (the
    unique key drops any made before), the subscriptions updated in one. Cancellations at period
    end and invoices with nothing to charge are rare and go through the ORM one by one."""
    s = Subscription
    rows = uow.session.execute(
        select(s.__table__).where(s.next_billing_at.is_not(None), s.next_billing_at <= now,
                                  _on_clock(s.test_clock_id, clock_id))
        .order_by(s.next_billing_at).limit(limit).with_for_update(skip_locked=True)).all()
    if not rows:
        return []
    uow.session.execute(update(s).where(s.id.in_([row.id for row in rows])).values(next_billing_at=None)
                        .execution_options(synchronize_session=False))
    values, cancels = [], []
    for row in rows:
        if row.status == CANCELED:
            continue
        if row.cancel_at_period_end:
            cancels.append(row.id)
            continue
        first = row.trial_end or row.created_at
        start = row.current_period_end
        amounts = billing_rules.invoice_amounts(row.items, row.currency, row.coupon,
                                                billing_rules.coupon_applies(row.coupon, first, start))
        values.append(dict(
            id=new_id("in", row.livemode), account_id=row.account_id, livemode=row.livemode, created_at=now,
            updated_at=now, subscription_id=row.id, customer_id=row.customer_id, test_clock_id=row.test_clock_id,
            period_start=start, period_end=billing_rules.period_end(first, start, row.interval, row.interval_count),
            lines=amounts.lines, currency=row.currency, amount_subtotal_atom=amounts.subtotal_atom,
            amount_discount_atom=amounts.discount_atom, amount_total_atom=amounts.total_atom, status=OPEN,
            attempt_count=0, next_attempt_at=now + lease, payment_id=None, paid_at=None))
    made: list[tuple] = []
    if values:
        table = Invoice.__table__  # Core, executemany: one compiled statement, sent as "insertmanyvalues"
        made = [tuple(r) for r in uow.session.execute(
            insert(table).on_conflict_do_nothing(constraint="invoices_one_per_period")
            .returning(table.c.id, table.c.subscription_id, table.c.amount_total_atom), values)]
    if made:
        uow.session.execute(text(
            "UPDATE subscriptions SET latest_invoice_id = made.invoice_id, updated_at = :now "
            "FROM unnest(CAST(:subs AS text[]), CAST(:invoices AS text[])) AS made(subscription_id, invoice_id) "
            "WHERE subscriptions.id = made.subscription_id"),
            {"now": now, "subs": [m[1] for m in made], "invoices": [m[0] for m in made]})
    for subscription_id in cancels:
        sub = locked(uow, Subscription, subscription_id)
        _cancel(uow, sub, sub.current_period_end, now)
    to_charge = []
    for invoice_id, subscription_id, total in made:
        if total == 0:  # a 100% coupon: nothing to charge
            _paid(uow, locked(uow, Subscription, subscription_id), locked(uow, Invoice, invoice_id), now,
                  counted=False)
        else:
            to_charge.append(invoice_id)
    return to_charge


def first_invoice(uow: UnitOfWork, sub: Subscription, session, now: datetime) -> Invoice:
    """The invoice of a subscription's first period when the checkout charged it (no trial): paid
    by the checkout's payment, with what the checkout sold and charged."""
    lines = [{"price_id": line["price_id"], "description": line.get("description"), "quantity": line["quantity"],
              "unit_amount_atom": line["unit_amount_atom"], "currency": session.currency,
              "amount_atom": line["amount_atom"]} for line in session.line_items]
    invoice = Invoice(id=new_id("in", sub.livemode), account_id=sub.account_id, livemode=sub.livemode,
                      created_at=now, updated_at=now, subscription_id=sub.id, customer_id=sub.customer_id,
                      test_clock_id=sub.test_clock_id, period_start=sub.current_period_start,
                      period_end=sub.current_period_end, lines=lines, currency=session.currency,
                      amount_subtotal_atom=session.amount_subtotal_atom,
                      amount_discount_atom=session.amount_discount_atom,
                      amount_total_atom=session.amount_total_atom, status=PAID,
                      attempt_count=1 if session.payment_id else 0, next_attempt_at=None,
                      payment_id=session.payment_id, paid_at=now)
    uow.session.add(invoice)
    uow.session.flush()
    sub.latest_invoice_id = invoice.id
    events.record(uow, "invoice.paid", invoice, views.invoice(invoice), now=now)
    return invoice


# ---- charging ---------------------------------------------------------------------------------

def claim_due_invoices(uow: UnitOfWork, now: datetime, *, clock_id: str | None = None, limit: int = BATCH_SIZE,
                       lease: timedelta = HANDOUT_LEASE) -> list[tuple[str, int]]:
    """One batch of open invoices due to be charged by `now` (a retry, or a first attempt whose job
    was lost), each leased so that another sweep does not hand it out too: (id, attempt) pairs."""
    i = Invoice
    rows = uow.session.execute(
        select(i.id, i.attempt_count).where(i.status == OPEN, i.next_attempt_at.is_not(None), i.next_attempt_at <= now,
                                            _on_clock(i.test_clock_id, clock_id))
        .order_by(i.next_attempt_at).limit(limit).with_for_update(skip_locked=True)).all()
    if rows:
        uow.session.execute(Invoice.__table__.update().where(Invoice.id.in_([row.id for row in rows]))
                            .values(next_attempt_at=now + lease))
    return [(row.id, row.attempt_count) for row in rows]


@dataclass(frozen=True)
class Begun:
    invoice_id: str
    payment_id: str
    owner: Owner
    processor: str
    amount_atom: int
    currency: str
    customer_id: str
    method_reference: str


def begin_charge(uow: UnitOfWork, invoice_id: str, attempt: int, now: datetime) -> Begun | None:
    """Claim attempt number `attempt` of an invoice: its payment made `processing`. None when there
    is nothing to do: paid, void, uncollectible, this attempt made already (a repeated job), or a
    charge of it still under way (its outcome, or the reconcile job, moves the invoice on)."""
    invoice = locked(uow, Invoice, invoice_id)
    if invoice is None or invoice.status != OPEN or invoice.attempt_count != attempt:
        return None
    if invoice.payment_id is not None:
        current = uow.session.get(Payment, invoice.payment_id)
        if current is not None and current.status in LIVE:
            invoice.next_attempt_at = None
            return None
    sub = uow.session.get(Subscription, invoice.subscription_id)
    method = uow.session.get(PaymentMethod, sub.default_payment_method_id) if sub.default_payment_method_id else None
    payment = Payment(id=new_id("pay", invoice.livemode), account_id=invoice.account_id, livemode=invoice.livemode,
                      created_at=now, updated_at=now, checkout_session_id=None, invoice_id=invoice.id,
                      customer_id=invoice.customer_id, amount_atom=invoice.amount_total_atom,
                      currency=invoice.currency, status=PaymentStatus.PROCESSING.value,
                      processor=method.processor if method else "none",
                      payment_method_id=method.id if method else None,
                      next_check_at=utcnow() + FIRST_CHECK_AFTER)  # the reconcile job runs on real time
    uow.session.add(payment)
    invoice.payment_id = payment.id
    invoice.next_attempt_at = None
    invoice.updated_at = now
    uow.session.flush()
    return Begun(invoice.id, payment.id, Owner(invoice.account_id, invoice.livemode), payment.processor,
                 payment.amount_atom, payment.currency, invoice.customer_id,
                 method.processor_reference if method else "")


NO_METHOD = ChargeResult(Outcome.FAILED, failure_code=FailureCode.INVALID_PAYMENT_METHOD,
                         failure_message="The subscription has no saved payment method this account can charge.")


def charge(units: Units, invoice_id: str, attempt: int, processor_for: ProcessorFor,
           now: Callable[[], datetime], *, billing_now: datetime | None = None) -> str | None:
    """One attempt to charge an invoice off-session: claim, call the processor (no transaction
    open), record. `billing_now` is the time it is for the customer (the advance job's step);
    by default the customer's clock is asked. The payment's status, or None (nothing done)."""
    from domain.checkout_payments import processor_customer  # which calls back here to reconcile

    with units() as uow:
        invoice = uow.session.get(Invoice, invoice_id)
        if invoice is None:
            return None
        when = billing_now or test_clocks.now_for(uow, invoice.test_clock_id, now())
        begun = begin_charge(uow, invoice_id, attempt, when)
        processor = processor_for(uow, begun.owner, begun.processor) if begun and begun.method_reference else None
        uow.commit()
    if begun is None:
        return None
    if processor is None:
        result = NO_METHOD
    else:
        customer = processor_customer(units, processor, begun.customer_id)
        result = processor.charge_saved(OffSessionChargeRequest(
            begun.payment_id, begun.amount_atom, begun.currency, customer, begun.method_reference))
    with units() as uow:
        status = record_charge(uow, begun.payment_id, result, now(), billing_now=billing_now)
        uow.commit()
    return status


def record_charge(uow: UnitOfWork, payment_id: str, result: ChargeResult, real_now: datetime, *,
                  billing_now: datetime | None = None) -> str:
    """Apply a processor's answer about an invoice's payment, and the invoice and subscription
    follow. Repeating it changes nothing. The payment's status."""
    payment = locked(uow, Payment, payment_id)
    invoice = uow.session.get(Invoice, payment.invoice_id)
    sub = locked(uow, Subscription, invoice.subscription_id)
    invoice = locked(uow, Invoice, invoice.id)
    when = billing_now or test_clocks.now_for(uow, invoice.test_clock_id, real_now)
    if result.outcome is Outcome.REQUIRES_ACTION:
        # Off-session nobody is there to authenticate: for billing this is a decline.
        result = ChargeResult(Outcome.FAILED, result.reference, failure_code=FailureCode.AUTHENTICATION_FAILED)
    if result.outcome is Outcome.UNKNOWN:
        payment.checks += 1
        payment.next_check_at = real_now + min(FIRST_CHECK_AFTER * (2 ** min(payment.checks, 10)),
                                               timedelta(minutes=30))
        payment.updated_at = when
        return payment.status
    status = apply_payment_outcome(payment.status, result.outcome)
    if status == payment.status:
        return payment.status  # told before
    payment.status = status.value
    payment.processor_reference = result.reference or payment.processor_reference
    if getattr(result, "card", None) is not None:
        payment.card = vars(result.card)
    payment.failure_code = result.failure_code.value if result.failure_code else None
    payment.failure_message = result.failure_message
    payment.next_check_at = None
    payment.updated_at = when
    uow.session.flush()
    if status == PaymentStatus.SUCCEEDED:
        payment_records.announce(uow, payment, "payment.succeeded", when)
        _paid(uow, sub, invoice, when, counted=True)
    elif status == PaymentStatus.FAILED:
        payment_records.announce(uow, payment, "payment.failed", when)
        _declined(uow, sub, invoice, when)
    elif invoice.status == OPEN:  # canceled: it never reached the processor; this attempt does not count
        invoice.next_attempt_at = when
        invoice.updated_at = when
    return status.value


def _paid(uow: UnitOfWork, sub: Subscription, invoice: Invoice, when: datetime, *, counted: bool) -> None:
    """The invoice is paid: the subscription's period becomes the invoice's (unless it was canceled
    meanwhile), and the next one is due at its end."""
    invoice.status = PAID
    invoice.paid_at = when
    invoice.attempt_count += 1 if counted else 0
    invoice.next_attempt_at = None
    invoice.updated_at = when
    uow.session.flush()
    events.record(uow, "invoice.paid", invoice, views.invoice(invoice), now=when)
    if sub.status == CANCELED:
        return
    sub.status = ACTIVE
    sub.current_period_start, sub.current_period_end = invoice.period_start, invoice.period_end
    sub.next_billing_at = invoice.period_end
    sub.latest_invoice_id = invoice.id
    sub.updated_at = when
    uow.session.flush()
    events.record(uow, "subscription.updated", sub, views.subscription(sub), now=when)


def _declined(uow: UnitOfWork, sub: Subscription, invoice: Invoice, when: datetime) -> None:
    """Dunning: tried again 1, 3 and 5 days after the first attempt; after the last, the invoice is
    uncollectible and the subscription canceled."""
    invoice.attempt_count += 1
    invoice.next_attempt_at = billing_rules.next_attempt_at(invoice.created_at, invoice.attempt_count)
    if invoice.status == OPEN and invoice.next_attempt_at is None:
        invoice.status = UNCOLLECTIBLE
    invoice.updated_at = when
    uow.session.flush()
    events.record(uow, "invoice.payment_failed", invoice, views.invoice(invoice), now=when)
    if invoice.status == UNCOLLECTIBLE:
        _cancel(uow, sub, when, when)
    elif sub.status in (TRIALING, ACTIVE):
        sub.status = PAST_DUE
        sub.updated_at = when
        uow.session.flush()
        events.record(uow, "subscription.updated", sub, views.subscription(sub), now=when)


def _cancel(uow: UnitOfWork, sub: Subscription, canceled_at: datetime, when: datetime) -> None:
    if sub.status == CANCELED:
        return
    sub.status = CANCELED
    sub.canceled_at = canceled_at
    sub.next_billing_at = None
    sub.updated_at = when
    uow.session.flush()
    events.record(uow, "subscription.canceled", sub, views.subscription(sub), now=when)


def cancel(uow: UnitOfWork, sub: Subscription, *, at_period_end: bool, real_now: datetime) -> Subscription:
    """Cancel now (open invoices with no charge under way are voided) or at the period's end.
    Repeating it changes nothing; `sub` must be locked by the caller (subscriptions.cancel)."""
    when = test_clocks.now_for(uow, sub.test_clock_id, real_now)
    if sub.status == CANCELED:
        return sub
    if at_period_end:
        if not sub.cancel_at_period_end:
            sub.cancel_at_period_end = True
            sub.updated_at = when
            uow.session.flush()
            events.record(uow, "subscription.updated", sub, views.subscription(sub), now=when)
        return sub
    for invoice in uow.session.scalars(select(Invoice).where(Invoice.subscription_id == sub.id, Invoice.status == OPEN)
                                       .with_for_update()):
        live = invoice.payment_id and uow.session.scalar(select(Payment.status).where(Payment.id == invoice.payment_id))
        if live not in LIVE:
            invoice.status, invoice.next_attempt_at, invoice.updated_at = VOID, None, when
    _cancel(uow, sub, when, when)
    return sub


# ---- a test clock's advance ---------------------------------------------------------------------

def next_due_on_clock(uow: UnitOfWork, clock_id: str, until: datetime) -> datetime | None:
    """The earliest due time of the clock's billing work at or before `until`."""
    s, i = Subscription, Invoice
    times = [uow.session.scalar(select(func.min(s.next_billing_at)).where(
                 s.test_clock_id == clock_id, s.next_billing_at.is_not(None), s.next_billing_at <= until)),
             uow.session.scalar(select(func.min(i.next_attempt_at)).where(
                 i.test_clock_id == clock_id, i.status == OPEN, i.next_attempt_at.is_not(None),
                 i.next_attempt_at <= until))]
    found = [t for t in times if t is not None]
    return min(found) if found else None


MAX_ADVANCE_STEPS = 100_000


def advance_clock(units: Units, clock_id: str, processor_for: ProcessorFor, now: Callable[[], datetime], *,
                  deadline: float | None = None) -> tuple[int, bool]:
    """Run everything that falls due on the clock up to its frozen time, in order: step to the
    earliest due time, make that time's invoices and charge them (the same functions as the
    beat's jobs), repeat; then the clock is ready. With a `deadline` (a `time.monotonic()` value)
    no step starts after it and the clock stays advancing for the caller to go on in a new job.
    (steps, finished)."""
    steps = 0
    while steps < MAX_ADVANCE_STEPS:
        if deadline is not None and time.monotonic() >= deadline:
            return steps, False
        with units() as uow:
            target = test_clocks.frozen_time(uow, clock_id)
            step = next_due_on_clock(uow, clock_id, target) if target is not None else None
        if step is None:
            break
        with units() as uow:
            while make_due_invoices(uow, step, clock_id=clock_id, lease=timedelta(0)):
                uow.commit()
            uow.commit()
        with units() as uow:
            handed = claim_due_invoices(uow, step, clock_id=clock_id, limit=10_000)
            uow.commit()
        for invoice_id, attempt in handed:
            charge(units, invoice_id, attempt, processor_for, now, billing_now=step)
        steps += 1
    with units() as uow:
        test_clocks.finish(uow, clock_id)
        uow.commit()
    return steps, True
