"""Refund arithmetic, in integer atoms (SPEC 7): 0 < refund <= what is left, and the refunds of
a payment never add up to more than the payment.

A pending refund holds its amount: until the processor says it failed, it may still succeed,
so two refunds asked for at once cannot together take more than the payment.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from domain.errors import Conflict, invalid
from domain.payments.states import PaymentStatus, RefundStatus


class RefundLike(Protocol):
    """Any refund record: this dataclass, or a stored row with the same two attributes."""

    amount_atom: int
    status: RefundStatus | str


@dataclass(frozen=True)
class RefundLine:
    amount_atom: int
    status: RefundStatus


def amount_refunded(refunds: Iterable[RefundLike]) -> int:
    """Money given back so far: the payment's `amount_refunded_atom`."""
    return sum(refund.amount_atom for refund in refunds if refund.status == RefundStatus.SUCCEEDED)


def amount_left(payment_amount_atom: int, refunds: Iterable[RefundLike]) -> int:
    """What may still be refunded: the payment less every refund that succeeded or may."""
    held = sum(refund.amount_atom for refund in refunds if refund.status != RefundStatus.FAILED)
    return payment_amount_atom - held


def refund_amount(payment_status: PaymentStatus | str, payment_amount_atom: int,
                  refunds: Iterable[RefundLike], requested_atom: int | None = None) -> int:
    """The amount of a new refund: `requested_atom`, or all that is left when None."""
    if PaymentStatus(payment_status) is not PaymentStatus.SUCCEEDED:
        raise Conflict(f"Only a succeeded payment can be refunded; this one is {payment_status}.",
                       code="payment_not_refundable")
    left = amount_left(payment_amount_atom, refunds)
    if requested_atom is None:
        if left <= 0:
            raise invalid("amount_atom", "The payment has nothing left to refund.", "amount_too_large")
        return left
    if isinstance(requested_atom, bool) or not isinstance(requested_atom, int):
        raise invalid("amount_atom", "amount_atom must be an integer number of the currency's smallest unit")
    if requested_atom <= 0:
        raise invalid("amount_atom", "amount_atom must be greater than 0")
    if requested_atom > left:
        raise invalid("amount_atom", f"amount_atom must be at most {left}, what is left to refund",
                      "amount_too_large")
    return requested_atom
