"""The rules of billing a subscription (SPEC 8), pure: which period comes next, what an invoice
of it costs with the coupon's duration, and when a declined invoice is tried again.

No I/O here: domain/billing.py applies these to rows, tests/unit/test_billing_rules.py checks
them alone with freezegun-free explicit times."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.money import CouponTerms, discount, line_amount
from domain.subscriptions import add_interval

# A declined invoice is tried again this long after its first attempt; still unpaid after the
# last: uncollectible, and the subscription canceled.
RETRY_AFTER = (timedelta(days=1), timedelta(days=3), timedelta(days=5))
MAX_ATTEMPTS = 1 + len(RETRY_AFTER)


def period_end(anchor: datetime, period_start: datetime, interval: str, count: int) -> datetime:
    """The end of the period that starts at `period_start`, counted from the billing `anchor` (the
    first paid period's start) so that calendar months keep the anchor's day: anchored on 31
    January, the periods end on 28 February, 31 March, 30 April..."""
    n = 1
    while True:
        end = add_interval(anchor, interval, count * n)
        if end > period_start:
            return end
        n += 1


def coupon_applies(coupon: dict[str, Any] | None, anchor: datetime, period_start: datetime) -> bool:
    """Whether the subscription's coupon takes off the invoice of the period starting at
    `period_start`: `once` the first period that charges the recurring items (it starts at the
    anchor), `repeating` the periods that start within `duration_in_months` of it, `forever` all."""
    if not coupon:
        return False
    duration = coupon.get("duration")
    if duration == "forever":
        return True
    if duration == "once":
        return period_start == anchor
    if duration == "repeating":
        return period_start < add_interval(anchor, "month", int(coupon.get("duration_in_months") or 0))
    return False


def coupon_terms(coupon: dict[str, Any] | None) -> CouponTerms | None:
    if not coupon:
        return None
    percent = coupon.get("percent_off")
    return CouponTerms(percent_off=Decimal(str(percent)) if percent is not None else None,
                       amount_off_atom=coupon.get("amount_off_atom"))


@dataclass(frozen=True)
class InvoiceAmounts:
    lines: list[dict[str, Any]]
    subtotal_atom: int
    discount_atom: int
    total_atom: int


def invoice_amounts(items: list[dict[str, Any]], currency: str, coupon: dict[str, Any] | None,
                    discounted: bool) -> InvoiceAmounts:
    """The lines of one period (the subscription's recurring items) and their total, the coupon
    taken off when it applies to this period."""
    lines = [{"price_id": item["price_id"], "description": item.get("description"), "quantity": item["quantity"],
              "unit_amount_atom": item["unit_amount_atom"], "currency": currency,
              "amount_atom": line_amount(item["unit_amount_atom"], item["quantity"])} for item in items]
    subtotal = sum(line["amount_atom"] for line in lines)
    off = discount(subtotal, coupon_terms(coupon)) if discounted else 0
    return InvoiceAmounts(lines, subtotal, off, subtotal - off)


def next_attempt_at(first_attempt_at: datetime, attempts_declined: int) -> datetime | None:
    """When a declined invoice is tried again after its `attempts_declined`-th decline; None once
    every retry has been used (the invoice is then uncollectible)."""
    if attempts_declined < 1 or attempts_declined > len(RETRY_AFTER):
        return None
    return first_attempt_at + RETRY_AFTER[attempts_declined - 1]
