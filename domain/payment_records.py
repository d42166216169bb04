"""Payments, refunds and saved payment methods as a merchant reads them, and refunding (SPEC 7).

A refund runs like a charge: one transaction holds its amount (a pending Refund row, counted
against what is left, so two refunds at once cannot exceed the payment), the processor is
called outside any lock with the refund's id as its idempotency key, and one transaction
records the outcome. An outcome the processor did not give stays `pending` until the reconcile
job asks again.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from domain import events, listing, views
from domain.db import UnitOfWork, locked
from domain.errors import Conflict, invalid
from domain.ids import new_id
from domain.listing import get_owned
from domain.models import CheckoutSession, Customer, Payment, PaymentMethod, Refund
from domain.payments.processor import Outcome, Processor, RefundRequest, RefundResult
from domain.payments.refunds import amount_left, refund_amount
from domain.payments.states import PaymentStatus, RefundStatus, apply_refund_outcome
from domain.queries import Owner, Page, PageQuery
from domain.rules import require_text

LIST_FILTERS = ("checkout_session_id", "customer_id", "status")
REFUND_REASONS = ("requested_by_customer", "duplicate", "fraudulent")
FIRST_CHECK_AFTER = timedelta(seconds=10)


def get(uow: UnitOfWork, owner: Owner, payment_id: str) -> Payment:
    return get_owned(uow.session, Payment, owner, payment_id)


def page(uow: UnitOfWork, owner: Owner, query: PageQuery) -> Page:
    """Newest first; `query.filters` may hold any of LIST_FILTERS."""
    return listing.page(uow.session, Payment, owner, query)


def get_refund(uow: UnitOfWork, owner: Owner, refund_id: str) -> Refund:
    return get_owned(uow.session, Refund, owner, refund_id)


def refunds_of(uow: UnitOfWork, payment_ids: list[str]) -> dict[str, list[Refund]]:
    """Each payment's refunds, oldest first (one query for a whole page of payments)."""
    found: dict[str, list[Refund]] = {payment_id: [] for payment_id in payment_ids}
    if payment_ids:
        for refund in uow.session.scalars(select(Refund).where(Refund.payment_id.in_(payment_ids))
                                          .order_by(Refund.created_at, Refund.id)):
            found[refund.payment_id].append(refund)
    return found


def left_to_refund(payment: Payment, refunds: list[Refund]) -> int:
    """What may still be refunded of the payment (its refunds given): nothing unless it succeeded."""
    if payment.status != PaymentStatus.SUCCEEDED:
        return 0
    return max(amount_left(payment.amount_atom, refunds), 0)


def customers_by_id(uow: UnitOfWork, owner: Owner, customer_ids: list[str]) -> dict[str, Customer]:
    """This owner's customers among `customer_ids` (one query for a whole page of payments)."""
    wanted = {customer_id for customer_id in customer_ids if customer_id}
    if not wanted:
        return {}
    return {customer.id: customer for customer in uow.session.scalars(
        select(Customer).where(Customer.account_id == owner.account_id, Customer.livemode == owner.livemode,
                               Customer.id.in_(wanted)))}


def payment_method(uow: UnitOfWork, owner: Owner, payment_method_id: str) -> PaymentMethod:
    return get_owned(uow.session, PaymentMethod, owner, payment_method_id)


@dataclass(frozen=True)
class Revenue:
    """Money a payment link brought in, in one currency."""

    currency: str
    paid_atom: int       # its sessions' succeeded payments
    refunded_atom: int   # what was given back of those

    @property
    def net_atom(self) -> int:
        return self.paid_atom - self.refunded_atom


def link_revenue(uow: UnitOfWork, owner: Owner, link_id: str) -> list[Revenue]:
    """The succeeded payments of a link's checkout sessions less their refunds, per currency
    (by currency code), in one query."""
    cs = CheckoutSession
    rows = uow.session.execute(
        select(Payment.currency, func.sum(Payment.amount_atom), func.sum(Payment.amount_refunded_atom))
        .join(cs, cs.id == Payment.checkout_session_id)
        .where(Payment.account_id == owner.account_id, Payment.livemode == owner.livemode,
               Payment.status == PaymentStatus.SUCCEEDED.value, cs.account_id == owner.account_id,
               cs.livemode == owner.livemode, cs.payment_link_id == link_id)
        .group_by(Payment.currency).order_by(Payment.currency))
    return [Revenue(currency, int(paid), int(refunded)) for currency, paid, refunded in rows]


def payment_methods_of(uow: UnitOfWork, owner: Owner, customer_id: str) -> list[PaymentMethod]:
    """A customer's saved cards, newest first (the customer must be this owner's)."""
    get_owned(uow.session, Customer, owner, customer_id)
    return list(uow.session.scalars(
        select(PaymentMethod).where(PaymentMethod.account_id == owner.account_id,
                                    PaymentMethod.livemode == owner.livemode, PaymentMethod.customer_id == customer_id)
        .order_by(PaymentMethod.created_at.desc(), PaymentMethod.id.desc())))


def announce(uow: UnitOfWork, payment: Payment, type_: str, now: datetime, *,
             refunds: list[Refund] | None = None) -> None:
    """The event `payment.<type_>` about `payment` as it stands now, with its refunds (read
    unless the caller knows them: a payment that has only just settled has none, since a refund
    is held only against a succeeded payment)."""
    if refunds is None:
        refunds = refunds_of(uow, [payment.id])[payment.id]
    events.record(uow, type_, payment, views.payment(payment, refunds), now=now)


# ---- refunding ------------------------------------------------------------------------------

@dataclass
class NewRefund:
    amount_atom: int | None = None  # None: all that is left
    reason: str | None = None


@dataclass(frozen=True)
class _Held:
    refund_id: str
    request: RefundRequest


def _checked(uow: UnitOfWork, owner: Owner, payment_id: str, cmd: NewRefund, *,
             lock: bool) -> tuple[Payment, int]:
    """The payment and the amount of the refund `cmd` asks for, by every refund rule."""
    if cmd.reason is not None:
        require_text(cmd.reason, "reason", 64)
        if cmd.reason not in REFUND_REASONS:
            raise invalid("reason", f"reason must be one of {', '.join(REFUND_REASONS)}")
    payment = get_owned(uow.session, Payment, owner, payment_id, lock=lock)
    refunds = list(uow.session.scalars(select(Refund).where(Refund.payment_id == payment.id)))
    amount = refund_amount(payment.status, payment.amount_atom, refunds, cmd.amount_atom)
    if not payment.processor_reference:
        raise Conflict("The processor has not given this payment a reference to refund.",
                       code="payment_not_refundable")
    return payment, amount


def refund_preview(uow: UnitOfWork, owner: Owner, payment_id: str, cmd: NewRefund) -> int:
    """The amount `refund` would give back for `cmd` now, by the same rules, writing nothing
    (what a confirmation step shows before the refund is made)."""
    return _checked(uow, owner, payment_id, cmd, lock=False)[1]


def _hold(uow: UnitOfWork, owner: Owner, payment_id: str, cmd: NewRefund, processor: Processor | None,
          now: datetime) -> _Held:
    payment, amount = _checked(uow, owner, payment_id, cmd, lock=True)
    if processor is None or processor.name != payment.processor:
        # Only the processor that took the money can give it back; nothing is held for a call
        # that cannot be made.
        raise Conflict(f"This payment can be refunded only through the {payment.processor} processor, whose keys "
                       "this account no longer has.", code="processor_unavailable")
    refund = Refund(id=new_id("re", owner.livemode), account_id=owner.account_id, livemode=owner.livemode,
                    created_at=now, updated_at=now, payment_id=payment.id, amount_atom=amount,
                    currency=payment.currency, status=RefundStatus.PENDING.value, reason=cmd.reason,
                    next_check_at=now + FIRST_CHECK_AFTER)
    uow.session.add(refund)
    uow.session.flush()
    return _Held(refund.id, RefundRequest(refund.id, payment.processor_reference, amount, payment.currency,
                                          cmd.reason))


def record_refund(uow: UnitOfWork, refund_id: str, result: RefundResult, now: datetime) -> Refund:
    """Apply the processor's answer; a succeeded refund adds to the payment's refunded amount,
    once (the guarded status change)."""
    refund = locked(uow, Refund, refund_id)
    status = apply_refund_outcome(refund.status, result.outcome)
    if result.outcome is Outcome.UNKNOWN:
        refund.next_check_at = now + FIRST_CHECK_AFTER * 6
    elif status != refund.status:
        refund.status = status.value
        refund.processor_reference = result.reference
        refund.failure_code = result.failure_code.value if result.failure_code else None
        refund.next_check_at = None
        if status == RefundStatus.SUCCEEDED:
            payment = locked(uow, Payment, refund.payment_id)
            payment.amount_refunded_atom += refund.amount_atom
            payment.updated_at = now
            refund.updated_at = now
            uow.session.flush()
            announce(uow, payment, "payment.refunded", now)
    refund.updated_at = now
    uow.session.flush()
    return refund


def refund(units: Callable[[], UnitOfWork], owner: Owner, payment_id: str, cmd: NewRefund,
           processor: Processor | None, now: Callable[[], datetime]) -> str:
    """Refund all or part of a succeeded payment through `processor`, the one that took it
    (`Processors.for_processor`; None when its keys are gone); the refund's id (its status says
    how it went)."""
    with units() as uow:
        held = _hold(uow, owner, payment_id, cmd, processor, now())
        uow.commit()
    result = processor.refund(held.request)
    with units() as uow:
        record_refund(uow, held.refund_id, result, now())
        uow.commit()
    return held.refund_id


def claim_due_refunds(uow: UnitOfWork, now: datetime, limit: int = 500) -> list[str]:
    """Pending refunds due to be asked about again, each pushed a lease ahead."""
    ids = list(uow.session.scalars(select(Refund.id).where(Refund.status == RefundStatus.PENDING.value,
                                                           Refund.next_check_at <= now)
                                   .order_by(Refund.next_check_at).limit(limit).with_for_update(skip_locked=True)))
    if ids:
        uow.session.execute(Refund.__table__.update().where(Refund.id.in_(ids))
                            .values(next_check_at=now + timedelta(minutes=5)))
    return ids


def reconcile_refund(units: Callable[[], UnitOfWork], refund_id: str,
                     processor_for: Callable[[UnitOfWork, Owner, str], Processor | None],
                     now: Callable[[], datetime]) -> Refund | None:
    """Ask the processor (by the refund's id) what became of a pending refund, and record it."""
    with units() as uow:
        pending = uow.session.get(Refund, refund_id)
        if pending is None or pending.status != RefundStatus.PENDING:
            return None
        payment = uow.session.get(Payment, pending.payment_id)
        processor = processor_for(uow, Owner(pending.account_id, pending.livemode), payment.processor)
    if processor is None:
        return None
    found = processor.lookup(refund_id)
    if found is None:  # never arrived: it failed, and nothing was given back
        found = RefundResult(Outcome.FAILED, failure_code="processing_error")
    with units() as uow:
        recorded = record_refund(uow, refund_id, found, now())
        uow.commit()
        uow.session.expunge(recorded)
    return recorded
