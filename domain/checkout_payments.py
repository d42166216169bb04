"""Paying a checkout session (SPEC 7): the customer's email and card become the mode's money
operation at the account's processor, and the session completes in the same transaction that
records the success, exactly once.

No database lock is held while a processor is called. Each attempt runs in three steps:

1. `begin`, one transaction: the session locked and checked (open, fewer than 5 declines, no
   payment under way), one redemption of its coupon held, the customer found or made, and for
   a charge the Payment row made `processing` and named on the session. Two Pay clicks at
   once: the second finds the first's payment and charges nothing (the unique index
   `payments_one_live_per_session` backs it).
2. the processor call, with our id as its idempotency key (the payment's id; for a card saved
   at checkout, the session's id and attempt number), so asking again never charges twice.
3. `record_*`, one transaction: the outcome applied by the state machine. Succeeded: the
   session completes. Declined: the payment fails, the coupon's redemption is given back and
   the customer may try again. Requires action: the customer is sent to authenticate, and
   `resume` finishes when they come back. Unknown (timeout, lost connection): nothing is
   guessed; the payment stays `processing` and `reconcile` asks the processor until it knows.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select

from domain import catalog, checkout_sessions, events, payment_records, subscriptions, views
from domain.checkout_sessions import Status
from domain.db import UnitOfWork, locked
from domain.errors import NotFound, invalid
from domain.ids import new_id
from domain.models import CheckoutSession, Customer, Mode, Payment, PaymentMethod
from domain.payments.processor import (
    CardInput, ChargeRequest, ChargeResult, OffSessionChargeRequest, Outcome, Processor, SaveMethodRequest,
    SaveMethodResult,
)
from domain.payments.states import PaymentStatus, apply_payment_outcome
from domain.queries import Owner
from domain.rules import require_email, require_text

MAX_DECLINES = 5
LOCALE = re.compile(r"[a-z]{2,3}(_[A-Za-z0-9]{2,8}){0,2}")
# Unknown outcomes are asked about again after this long, then less and less often.
FIRST_CHECK_AFTER = timedelta(seconds=10)
MAX_CHECK_INTERVAL = timedelta(minutes=30)
LIVE = (PaymentStatus.PROCESSING, PaymentStatus.REQUIRES_ACTION)
CANCELED = "The payment was canceled; you may try again."


class Step(StrEnum):
    """Where an attempt to pay stands, for the page to show."""

    COMPLETED = "completed"
    REQUIRES_ACTION = "requires_action"  # send the customer to `action_url`
    DECLINED = "declined"  # show `message` next to the card field and let them try again
    PROCESSING = "processing"  # the outcome is not known yet: show "processing" and look again
    REPRICED = "repriced"  # the coupon ran out: nothing charged, show the new total
    LOCKED = "locked"  # too many declines: this checkout takes no more attempts
    NOT_OPEN = "not_open"  # expired or complete: the page says which


@dataclass(frozen=True)
class Attempt:
    step: Step
    action_url: str | None = None
    message: str | None = None
    completed: bool = False  # this call completed the session (count it once)
    # COMPLETED: where the customer goes next, the session's success_url with its
    # {CHECKOUT_SESSION_ID} filled in (None: it has none, the page shows the confirmation)
    success_url: str | None = None


def _completed(session: CheckoutSession, *, completed: bool = False) -> Attempt:
    """The session is complete: the attempt carries its success URL, read with the session."""
    url = session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id) if session.success_url else None
    return Attempt(Step.COMPLETED, completed=completed, success_url=url)


@dataclass(frozen=True)
class Customer_:
    email: str
    name: str | None = None


@dataclass(frozen=True)
class PayForm:
    """What the customer typed. The card lives in memory only (CardInput); with Stripe the
    browser sends the payment method Stripe.js made instead."""

    email: str
    name: str | None = None
    card: CardInput | None = None
    payment_method: str | None = None
    locale: str | None = None  # `de_DE`: the customer's browser's, for the receipt

    def validate(self) -> None:
        require_email(self.email)
        require_text(self.name, "name", required=False)


def amount_due(session: CheckoutSession) -> int:
    """What this checkout charges now: the snapshot's `amount_due_today_atom`, which money.cart_amounts
    makes the total, or with a trial only the one-time items, and 0 for setup (it sells nothing)."""
    return session.amount_due_today_atom


def method_key(session: CheckoutSession) -> str:
    """The idempotency key of saving the card of this attempt: one per session and attempt."""
    return f"{session.id}.method.{session.failed_attempts}"


# ---- step 1 ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Begun:
    """What step 2 needs, read in step 1 (the unit of work is closed by then)."""

    session_id: str
    mode: str
    customer_id: str
    payment_id: str | None
    amount_atom: int
    currency: str | None
    method_key: str


def _customer(uow: UnitOfWork, session: CheckoutSession, form: PayForm) -> str:
    """The link's customer if it names one; else this account's customer with the email (any
    case); else a new one."""
    if session.customer_id:
        return session.customer_id
    found = uow.session.scalar(
        select(Customer.id).where(Customer.account_id == session.account_id, Customer.livemode == session.livemode,
                                  func.lower(Customer.email) == form.email.lower())
        .order_by(Customer.created_at, Customer.id).limit(1))
    if found:
        return found
    owner = Owner(session.account_id, session.livemode)
    return catalog.create_customer(uow, owner, catalog.NewCustomer(email=form.email, name=form.name)).id


def _in_progress(uow: UnitOfWork, session: CheckoutSession) -> Attempt | None:
    """What stops a new attempt on this session, if anything."""
    if session.method_check_at is not None:  # a setup's card-saving answer was lost: the reconcile job asks
        return Attempt(Step.PROCESSING)
    if session.payment_id is not None:
        payment = uow.session.get(Payment, session.payment_id)
        if payment.status == PaymentStatus.REQUIRES_ACTION:
            return Attempt(Step.REQUIRES_ACTION, action_url=payment.action_url)
        return Attempt(Step.PROCESSING)
    if session.failed_attempts >= MAX_DECLINES:
        return Attempt(Step.LOCKED)
    return None


def begin(uow: UnitOfWork, checkout_token: str, form: PayForm, processor: Processor, now: datetime) -> Begun | Attempt:
    form.validate()
    session = checkout_sessions.find_by_token(uow, checkout_token, lock=True)
    if session is None:
        raise NotFound("No such checkout session")
    if session.livemode and processor.name == "test":
        raise invalid("processor", "The test processor takes no real money: a live checkout needs a real processor.")
    if checkout_sessions.effective_status(session, now) != Status.OPEN:
        return Attempt(Step.NOT_OPEN)
    stopped = _in_progress(uow, session)
    if stopped is not None:
        return stopped
    if not checkout_sessions.hold_coupon(uow, session, now):
        return Attempt(Step.REPRICED)
    session.customer_id = _customer(uow, session, form)
    session.customer_email = form.email
    if form.locale and LOCALE.fullmatch(form.locale):
        session.locale = form.locale
    payment_id = None
    amount = amount_due(session)
    if amount > 0:
        payment = Payment(id=new_id("pay", session.livemode), account_id=session.account_id,
                          livemode=session.livemode, created_at=now, updated_at=now, checkout_session_id=session.id,
                          customer_id=session.customer_id, amount_atom=amount, currency=session.currency,
                          status=PaymentStatus.PROCESSING.value, processor=processor.name,
                          next_check_at=now + FIRST_CHECK_AFTER)
        uow.session.add(payment)
        session.payment_id = payment_id = payment.id
    session.updated_at = now
    uow.session.flush()
    return Begun(session.id, session.mode, session.customer_id, payment_id, amount, session.currency,
                 method_key(session))


# ---- step 3 ---------------------------------------------------------------------------------

def _session(uow: UnitOfWork, session_id: str) -> CheckoutSession:
    return locked(uow, CheckoutSession, session_id)


def _payment(uow: UnitOfWork, payment_id: str) -> Payment:
    return locked(uow, Payment, payment_id)


def _session_and_payment(uow: UnitOfWork, session_id: str, payment_id: str) -> tuple[CheckoutSession, Payment]:
    """Both rows locked FOR UPDATE and read fresh, in one statement (the session's row locked
    first, as two reads would); one at a time when the payment is not the session's."""
    row = uow.session.execute(
        select(CheckoutSession, Payment).join(Payment, Payment.checkout_session_id == CheckoutSession.id)
        .where(CheckoutSession.id == session_id, Payment.id == payment_id)
        .with_for_update().execution_options(populate_existing=True)).first()
    return (row[0], row[1]) if row is not None else (_session(uow, session_id), _payment(uow, payment_id))


def _finish_unpaid(uow: UnitOfWork, session: CheckoutSession, now: datetime, *, declined: bool) -> None:
    """The attempt ended without money: the session takes a new one (after a decline, one
    fewer of its five), and the coupon's redemption goes back."""
    session.payment_id = None
    if declined:
        session.failed_attempts += 1
    checkout_sessions.release_coupon(uow, session)
    session.updated_at = now


def _next_check(payment: Payment, now: datetime) -> datetime:
    """Ask again soon, then less and less often (10 s, 20 s, 40 s ... up to 30 min)."""
    return now + min(FIRST_CHECK_AFTER * (2 ** min(payment.checks, 10)), MAX_CHECK_INTERVAL)


def record_charge(uow: UnitOfWork, session_id: str, payment_id: str, result: ChargeResult, now: datetime, *,
                  payment_method_id: str | None = None) -> Attempt:
    """Apply a processor's answer about a charge. Repeating it changes nothing."""
    session, payment = _session_and_payment(uow, session_id, payment_id)
    status = apply_payment_outcome(payment.status, result.outcome)
    payment.payment_method_id = payment_method_id or payment.payment_method_id  # kept for whoever learns the outcome
    if result.outcome is Outcome.UNKNOWN:
        payment.checks += 1
        payment.next_check_at = _next_check(payment, now)
        payment.updated_at = now
        return Attempt(Step.PROCESSING)
    changed = status != payment.status
    payment.status = status.value
    payment.processor_reference = result.reference or payment.processor_reference
    if result.card is not None:
        payment.card = vars(result.card)
    payment.updated_at = now
    if status == PaymentStatus.REQUIRES_ACTION:
        payment.action_url = result.action_url
        payment.next_check_at = max(session.expires_at, now) + FIRST_CHECK_AFTER
        return Attempt(Step.REQUIRES_ACTION, action_url=result.action_url)
    payment.next_check_at = None
    payment.action_url = None
    if status == PaymentStatus.SUCCEEDED:
        if changed:
            uow.session.flush()
            payment_records.announce(uow, payment, "payment.succeeded", now, refunds=[])
        if not changed or session.status == Status.COMPLETE:
            return _completed(session)
        return _completed(session, completed=_complete(uow, session, now, payment_status="paid"))
    payment.failure_code = result.failure_code.value if result.failure_code else None
    payment.failure_message = result.failure_message
    if changed and status == PaymentStatus.FAILED:
        uow.session.flush()
        payment_records.announce(uow, payment, "payment.failed", now, refunds=[])
    if changed and session.payment_id == payment.id:
        _finish_unpaid(uow, session, now, declined=status == PaymentStatus.FAILED)
    if status == PaymentStatus.FAILED:
        return Attempt(Step.DECLINED, message=payment.failure_message)
    return Attempt(Step.NOT_OPEN if checkout_sessions.effective_status(session, now) != Status.OPEN
                   else Step.DECLINED, message=CANCELED)


def _complete(uow: UnitOfWork, session: CheckoutSession, now: datetime, *, payment_status: str) -> bool:
    subscription_id = None
    if session.mode == Mode.SUBSCRIPTION:
        subscription_id = subscriptions.start(uow, session, session.customer_id, session.payment_method_id, now).id
    return checkout_sessions.complete(uow, session, now, payment_status=payment_status,
                                      subscription_id=subscription_id)


def record_saved_method(uow: UnitOfWork, session_id: str, result: SaveMethodResult, processor: str,
                        now: datetime) -> tuple[Attempt, str | None]:
    """Apply a processor's answer about saving the card (subscription and setup checkouts).
    Saved: the customer's PaymentMethod (one per processor reference), and a setup checkout
    completes. The method's id comes back for the charge that follows in a subscription."""
    session = _session(uow, session_id)
    session.method_check_at = None  # told: nothing left to ask, unless this answer is unknown too
    if session.status == Status.COMPLETE:  # told again: nothing more to do
        return _completed(session), session.payment_method_id
    if checkout_sessions.effective_status(session, now) != Status.OPEN:
        return Attempt(Step.NOT_OPEN), None
    if result.outcome is Outcome.UNKNOWN:
        if session.payment_id is None:  # setup: no payment whose check would settle it, so ask about the card
            session.method_check_at = now + FIRST_CHECK_AFTER
            session.updated_at = now
        return Attempt(Step.PROCESSING), None
    if result.outcome is Outcome.REQUIRES_ACTION:
        if session.payment_id:
            payment = _payment(uow, session.payment_id)
            payment.status = apply_payment_outcome(payment.status, Outcome.REQUIRES_ACTION).value
            payment.action_url = result.action_url
            payment.next_check_at = max(session.expires_at, now) + FIRST_CHECK_AFTER  # the customer's turn
            payment.updated_at = now
        return Attempt(Step.REQUIRES_ACTION, action_url=result.action_url), None
    if result.outcome is not Outcome.SUCCEEDED:
        if session.payment_id:
            payment = _payment(uow, session.payment_id)
            was = payment.status
            payment.status = apply_payment_outcome(payment.status, result.outcome).value
            payment.failure_code = result.failure_code.value if result.failure_code else None
            payment.failure_message = result.failure_message
            payment.next_check_at = payment.action_url = None
            payment.updated_at = now
            if payment.status == PaymentStatus.FAILED and was != payment.status:
                uow.session.flush()
                payment_records.announce(uow, payment, "payment.failed", now, refunds=[])
        _finish_unpaid(uow, session, now, declined=result.outcome is Outcome.FAILED)
        return Attempt(Step.DECLINED, message=result.failure_message), None
    method = uow.session.scalar(select(PaymentMethod).where(PaymentMethod.processor == processor,
                                                            PaymentMethod.processor_reference == result.reference))
    if method is None:
        method = PaymentMethod(id=new_id("pm", session.livemode), account_id=session.account_id,
                               livemode=session.livemode, created_at=now, updated_at=now,
                               customer_id=session.customer_id, type="card", card_brand=result.card.brand,
                               card_last4=result.card.last4, card_exp_month=result.card.exp_month,
                               card_exp_year=result.card.exp_year, processor=processor,
                               processor_reference=result.reference)
        uow.session.add(method)
        uow.session.flush()
        events.record(uow, "payment_method.attached", method, views.payment_method(method), now=now)
    session.payment_method_id = method.id
    uow.session.flush()
    if amount_due(session) == 0:  # setup, or a subscription's trial without fees
        done = _complete(uow, session, now, payment_status="no_payment_required")
        return _completed(session, completed=done), method.id
    if session.payment_id is None:  # its payment was given up meanwhile (the reconcile job canceled it)
        return Attempt(Step.DECLINED, message=CANCELED), None
    return Attempt(Step.PROCESSING), method.id


# ---- the whole attempt ------------------------------------------------------------------------

Units = Callable[[], UnitOfWork]


def pay(units: Units, checkout_token: str, form: PayForm, processor: Processor, *, return_url: str,
        now: Callable[[], datetime], opened: UnitOfWork | None = None) -> Attempt:
    """One attempt to pay: begin, call the processor, record. `units` makes a unit of work for
    each transaction; `return_url` is where the processor sends a customer after authenticating.
    `opened`: a unit of work the caller has open (the page's, which read the processor), for
    step 1 to run in rather than take a connection of its own; it is committed, or rolled back,
    here before the processor is called, so no connection is held during the call either way."""
    if opened is None:
        with units() as uow:
            begun = begin(uow, checkout_token, form, processor, now())
            uow.commit()
    else:
        try:
            begun = begin(opened, checkout_token, form, processor, now())
            opened.commit()
        except BaseException:
            opened.rollback()
            raise
    if isinstance(begun, Attempt):
        return begun
    customer = processor_customer(units, processor, begun.customer_id)
    if begun.mode == Mode.PAYMENT:
        result = processor.charge(ChargeRequest(
            begun.payment_id, begun.amount_atom, begun.currency, return_url, customer_reference=customer,
            card=form.card, payment_method_reference=form.payment_method))
        return _recorded(units, lambda uow: record_charge(uow, begun.session_id, begun.payment_id, result, now()))
    saved = processor.save_method(SaveMethodRequest(
        begun.method_key, customer, return_url, card=form.card, payment_method_reference=form.payment_method))
    return _after_saving(units, processor, begun.session_id, saved, now)


def processor_customer(units: Units, processor: Processor, customer_id: str) -> str:
    """Who the customer is at the processor: our id for the test processor; at Stripe, the Stripe
    Customer mirrored from ours (made once, its id kept beside ours)."""
    if processor.name != "stripe":
        return customer_id
    with units() as uow:
        customer = uow.session.get(Customer, customer_id)
        known, email = customer.stripe_customer_id, customer.email
    if known:
        return known
    made = processor.customer_reference(customer_id, email)  # idempotent: keyed by our id
    with units() as uow:
        uow.session.get(Customer, customer_id).stripe_customer_id = made
        uow.commit()
    return made


def _recorded(units: Units, record: Callable[[UnitOfWork], Attempt]) -> Attempt:
    with units() as uow:
        attempt = record(uow)
        uow.commit()
    return attempt


def _after_saving(units: Units, processor: Processor, session_id: str, saved: SaveMethodResult,
                  now: Callable[[], datetime]) -> Attempt:
    """Record the saved card; a subscription then charges what is due today with it."""
    with units() as uow:
        attempt, method_id = record_saved_method(uow, session_id, saved, processor.name, now())
        session = _session(uow, session_id)
        due = None
        if attempt.step is Step.PROCESSING and method_id and session.payment_id:
            payment = _payment(uow, session.payment_id)
            due = (payment.id, payment.amount_atom, payment.currency, session.customer_id)
        uow.commit()
    if due is None:
        return attempt
    payment_id, amount, currency, customer_id = due
    result = processor.charge_saved(OffSessionChargeRequest(
        payment_id, amount, currency, processor_customer(units, processor, customer_id), saved.reference))
    return _recorded(units, lambda uow: record_charge(uow, session_id, payment_id, result, now(),
                                                      payment_method_id=method_id))


def resume(units: Units, checkout_token: str, processor: Processor, now: Callable[[], datetime]) -> Attempt:
    """The customer is back from authenticating: ask the processor what became of the attempt
    (by our idempotency key) and record it."""
    with units() as uow:
        session = checkout_sessions.find_by_token(uow, checkout_token)
        if session is None:
            raise NotFound("No such checkout session")
        session_id, mode, key = session.id, session.mode, method_key(session)
        payment_id, method_id = session.payment_id, session.payment_method_id
    if mode != Mode.PAYMENT and method_id is None:
        saved = processor.lookup(key)
        if saved is None:
            return Attempt(Step.DECLINED if payment_id is None else Step.PROCESSING)
        return _after_saving(units, processor, session_id, saved, now)
    if payment_id is None:
        return Attempt(Step.NOT_OPEN)
    found = processor.lookup(payment_id)
    if found is None:
        return Attempt(Step.PROCESSING)
    return _recorded(units, lambda uow: record_charge(uow, session_id, payment_id, found, now()))


def payment_of(uow: UnitOfWork, session: CheckoutSession) -> Payment | None:
    """The session's payment: the one under way, or the one that paid it."""
    return uow.session.get(Payment, session.payment_id) if session.payment_id else None


def card_of(uow: UnitOfWork, session: CheckoutSession) -> dict | None:
    """The card that paid the session or was saved by it, `{brand, last4}` (nothing more is kept)."""
    payment = payment_of(uow, session)
    if payment is not None and payment.card:
        return {"brand": payment.card["brand"], "last4": payment.card["last4"]}
    method = uow.session.get(PaymentMethod, session.payment_method_id) if session.payment_method_id else None
    return {"brand": method.card_brand, "last4": method.card_last4} if method else None


# ---- reconciling: outcomes nobody told us --------------------------------------------------

# A claimed payment is not handed out again for this long (the job asks the processor meanwhile).
CHECK_LEASE = timedelta(minutes=5)


def claim_due(uow: UnitOfWork, now: datetime, limit: int = 500) -> list[str]:
    """The payments whose outcome is open and due to be asked about again (a partial index holds
    only those), each pushed a lease ahead so that a second sweep does not hand it out too."""
    return _claim(uow, Payment, Payment.next_check_at, now, limit, Payment.status.in_([s.value for s in LIVE]))


def claim_due_method_checks(uow: UnitOfWork, now: datetime, limit: int = 500) -> list[str]:
    """The setup checkouts whose card-saving answer was lost and is due to be asked about again,
    each pushed a lease ahead (as `claim_due` does for payments)."""
    return _claim(uow, CheckoutSession, CheckoutSession.method_check_at, now, limit)


def _claim(uow: UnitOfWork, model, due_at, now: datetime, limit: int, *where) -> list[str]:
    """Up to `limit` ids of `model` whose `due_at` has come (SKIP LOCKED: two sweeps share the
    work), their `due_at` pushed CHECK_LEASE ahead in the same transaction."""
    due = select(model.id).where(*where, due_at <= now).order_by(due_at).limit(limit) \
        .with_for_update(skip_locked=True)
    ids = list(uow.session.scalars(due))
    if ids:
        uow.session.execute(model.__table__.update().where(model.id.in_(ids)).values({due_at.key: now + CHECK_LEASE}))
    return ids


def reconcile_saved_method(units: Units, session_id: str,
                           processor_for: Callable[[UnitOfWork, Owner], Processor | None],
                           now: Callable[[], datetime]) -> Attempt | None:
    """Ask the processor (by the attempt's method key) what became of a setup checkout's card
    whose answer was lost, and record it: saved completes the checkout. A save that never arrived
    leaves the checkout open for the customer to try again (with the same key, so a late save is
    not made twice). None: nothing to do."""
    with units() as uow:
        session = uow.session.get(CheckoutSession, session_id)
        if session is None or session.method_check_at is None:
            return None
        processor = processor_for(uow, Owner(session.account_id, session.livemode))
        key = method_key(session)
    if processor is None:
        return None
    found = processor.lookup(key)
    if found is not None:
        return _after_saving(units, processor, session_id, found, now)
    with units() as uow:
        _session(uow, session_id).method_check_at = None
        uow.commit()
    return Attempt(Step.DECLINED, message=CANCELED)


@dataclass(frozen=True)
class OpenOutcome:
    """A payment whose outcome is not final, for operators."""

    id: str
    account_id: str
    livemode: bool
    status: str
    amount_atom: int
    currency: str
    created_at: datetime
    next_check_at: datetime | None
    checks: int


def open_outcomes(uow: UnitOfWork, limit: int = 50) -> list[OpenOutcome]:
    """Payments still processing or waiting for the customer, the longest-waiting first."""
    rows = uow.session.scalars(select(Payment).where(Payment.status.in_([s.value for s in LIVE]))
                               .order_by(Payment.created_at).limit(limit))
    return [OpenOutcome(p.id, p.account_id, p.livemode, p.status, p.amount_atom, p.currency, p.created_at,
                        p.next_check_at, p.checks) for p in rows]


def reconcile(units: Units, payment_id: str, processor_for: Callable[[UnitOfWork, Owner, str], Processor | None],
              now: Callable[[], datetime]) -> Attempt | None:
    """Ask the processor (by our idempotency key, the payment's id) what became of a payment
    whose outcome we do not know, and record it. A charge the processor never received is
    canceled there for good, so that it cannot happen later; a customer who never came back
    from authenticating is given up once the session's time is over. None: nothing to do."""
    with units() as uow:
        payment = uow.session.get(Payment, payment_id)
        if payment is not None and payment.invoice_id is not None and payment.status in LIVE:
            processor = processor_for(uow, Owner(payment.account_id, payment.livemode), payment.processor)
            uow.rollback()
            return _reconcile_renewal(units, payment_id, processor, now)
        if payment is None or payment.status not in LIVE or payment.checkout_session_id is None:
            return None
        session = uow.session.get(CheckoutSession, payment.checkout_session_id)
        processor = processor_for(uow, Owner(payment.account_id, payment.livemode), payment.processor)
        time_over = now() >= session.expires_at
        session_id = session.id
        waiting_for_customer = payment.status == PaymentStatus.REQUIRES_ACTION and not time_over
    if processor is None:
        return None
    found = processor.lookup(payment_id)
    if waiting_for_customer and (found is None or found.outcome is Outcome.REQUIRES_ACTION):
        return None  # they may still be authenticating (the charge, or the card a subscription saves first)
    if found is None or (found.outcome is Outcome.REQUIRES_ACTION and time_over):
        found = processor.cancel(payment_id)  # never arrived, or abandoned: make sure it cannot happen later
    return _recorded(units, lambda uow: record_charge(uow, session_id, payment_id, found, now()))


def _reconcile_renewal(units: Units, payment_id: str, processor: Processor | None,
                       now: Callable[[], datetime]) -> Attempt | None:
    """A renewal's charge (an invoice's payment, domain/billing.py) whose outcome nobody told us:
    ask the processor by the payment's id; one it never received is canceled there for good (the
    invoice is then due again). The invoice follows the payment."""
    from domain import billing

    if processor is None:
        return None
    found = processor.lookup(payment_id)
    if found is None:
        found = processor.cancel(payment_id)
    with units() as uow:
        status = billing.record_charge(uow, payment_id, found, now())
        uow.commit()
    step = {PaymentStatus.SUCCEEDED: Step.COMPLETED, PaymentStatus.FAILED: Step.DECLINED,
            PaymentStatus.CANCELED: Step.DECLINED}.get(PaymentStatus(status), Step.PROCESSING)
    return Attempt(step)
