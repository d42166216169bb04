"""All arithmetic on money, in integer atoms (the currency's smallest unit). No float here."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class CartLine:
    unit_amount_atom: int
    quantity: int
    recurring: bool = False

    @property
    def amount_atom(self) -> int:
        return self.unit_amount_atom * self.quantity


@dataclass(frozen=True)
class CouponTerms:
    """What a coupon takes off: a percentage (up to two decimals) or a fixed amount."""

    percent_off: Decimal | None = None
    amount_off_atom: int | None = None


@dataclass(frozen=True)
class Amounts:
    subtotal_atom: int
    discount_atom: int
    total_atom: int
    due_today_atom: int


def line_amount(unit_amount_atom: int, quantity: int) -> int:
    return unit_amount_atom * quantity


def subtotal(lines: Iterable[CartLine]) -> int:
    return sum(line.amount_atom for line in lines)


def round_half_up_div(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, for non-negative integers."""
    quotient, remainder = divmod(numerator, denominator)
    return quotient + (1 if 2 * remainder >= denominator else 0)


def discount(amount_atom: int, coupon: CouponTerms | None) -> int:
    """What the coupon takes off `amount_atom`: never more than the amount itself."""
    if coupon is None or amount_atom <= 0:
        return 0
    if coupon.percent_off is not None:
        hundredths = int(coupon.percent_off * 100)  # percent_off has at most two decimals
        taken = round_half_up_div(amount_atom * hundredths, 100 * 100)
    else:
        taken = coupon.amount_off_atom or 0
    return min(taken, amount_atom)


def cart_amounts(lines: list[CartLine], coupon: CouponTerms | None, *, trial_days: int | None = None) -> Amounts:
    """Subtotal, discount and total of a cart, and what is charged today.

    With a free trial, recurring items are due after the trial, so only the one-time items
    (with the coupon applied to them) are charged today.
    """
    sub = subtotal(lines)
    off = discount(sub, coupon)
    total = sub - off
    if trial_days:
        one_time = subtotal(line for line in lines if not line.recurring)
        due_today = one_time - discount(one_time, coupon)
    else:
        due_today = total
    return Amounts(sub, off, total, due_today)


def per_period(lines: list[CartLine], coupon: CouponTerms | None) -> int:
    """What a subscription's recurring lines charge each period, with the coupon's terms applied."""
    recurring = subtotal(line for line in lines if line.recurring)
    return recurring - discount(recurring, coupon)
