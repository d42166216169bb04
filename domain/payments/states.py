"""Payment and refund statuses, and what a processor's outcome does to them (SPEC 7).

One table per object says which moves are allowed. Applying an outcome is safe to repeat and
to receive out of order, as webhooks and the reconcile job do: the same outcome again changes
nothing, news of a step already passed (requires_action after succeeded) changes nothing, and
an unknown outcome keeps the status. What contradicts a final status (failed after succeeded)
is refused with IllegalTransition, for an operator to look at: money may have moved.
"""
from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from domain.errors import Conflict
from domain.payments.processor import Outcome


class PaymentStatus(StrEnum):
    PROCESSING = "processing"  # sent to the processor, or its answer is unknown
    REQUIRES_ACTION = "requires_action"  # the customer must authenticate
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


PAYMENT_TRANSITIONS: Mapping[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.PROCESSING: frozenset({PaymentStatus.REQUIRES_ACTION, PaymentStatus.SUCCEEDED,
                                         PaymentStatus.FAILED, PaymentStatus.CANCELED}),
    PaymentStatus.REQUIRES_ACTION: frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.FAILED,
                                              PaymentStatus.CANCELED}),
    PaymentStatus.SUCCEEDED: frozenset(),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.CANCELED: frozenset(),
}

REFUND_TRANSITIONS: Mapping[RefundStatus, frozenset[RefundStatus]] = {
    RefundStatus.PENDING: frozenset({RefundStatus.SUCCEEDED, RefundStatus.FAILED}),
    RefundStatus.SUCCEEDED: frozenset(),
    RefundStatus.FAILED: frozenset(),
}

_PAYMENT_TARGET = {
    Outcome.SUCCEEDED: PaymentStatus.SUCCEEDED,
    Outcome.REQUIRES_ACTION: PaymentStatus.REQUIRES_ACTION,
    Outcome.FAILED: PaymentStatus.FAILED,
    Outcome.CANCELED: PaymentStatus.CANCELED,
}

_REFUND_TARGET = {
    Outcome.SUCCEEDED: RefundStatus.SUCCEEDED,
    Outcome.FAILED: RefundStatus.FAILED,
}


class IllegalTransition(Conflict):
    code = "illegal_transition"


def is_final(status: PaymentStatus | RefundStatus) -> bool:
    table = PAYMENT_TRANSITIONS if isinstance(status, PaymentStatus) else REFUND_TRANSITIONS
    return not table[status]


def apply_payment_outcome(status: PaymentStatus | str, outcome: Outcome | str) -> PaymentStatus:
    """The payment's status once the processor has answered `outcome`."""
    current, outcome = PaymentStatus(status), Outcome(outcome)
    target = current if outcome is Outcome.UNKNOWN else _PAYMENT_TARGET[outcome]
    return _move(PAYMENT_TRANSITIONS, current, target, "payment")


def apply_refund_outcome(status: RefundStatus | str, outcome: Outcome | str) -> RefundStatus:
    """The refund's status once the processor has answered `outcome`."""
    current, outcome = RefundStatus(status), Outcome(outcome)
    if outcome is Outcome.UNKNOWN:
        return current
    if outcome not in _REFUND_TARGET:
        raise IllegalTransition(f"A refund cannot be {outcome}.")
    return _move(REFUND_TRANSITIONS, current, _REFUND_TARGET[outcome], "refund")


S = TypeVar("S", PaymentStatus, RefundStatus)


def _move(table: Mapping[S, frozenset[S]], current: S, target: S, noun: str) -> S:
    if target == current or current in _reachable(table, target):
        return current  # a repeat, or news of a step this object has already passed
    if target in table[current]:
        return target
    raise IllegalTransition(f"A {current} {noun} cannot become {target}.")


def _reachable(table: Mapping[S, frozenset[S]], start: S) -> set[S]:
    seen: set[S] = set()
    todo = list(table[start])
    while todo:
        status = todo.pop()
        if status not in seen:
            seen.add(status)
            todo.extend(table[status])
    return seen
