"""The pure rules of billing (domain/billing_rules.py): periods from the anchor, coupon durations
per invoice, dunning times."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain import billing_rules as rules

JAN31 = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)


def test_monthly_periods_keep_the_anchors_day_through_short_months():
    ends, start = [], JAN31
    for _ in range(4):
        start = rules.period_end(JAN31, start, "month", 1)
        ends.append(start.date().isoformat())
    assert ends == ["2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]


def test_other_intervals_and_counts():
    assert rules.period_end(JAN31, JAN31, "week", 2) == JAN31 + timedelta(days=14)
    assert rules.period_end(JAN31, JAN31 + timedelta(days=3), "day", 3) == JAN31 + timedelta(days=6)
    assert rules.period_end(JAN31, JAN31, "year", 1) == datetime(2027, 1, 31, 9, 0, tzinfo=UTC)
    assert rules.period_end(JAN31, JAN31, "month", 3) == datetime(2026, 4, 30, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("coupon, discounted", [
    ({"duration": "once"}, [True, False, False, False]),
    ({"duration": "repeating", "duration_in_months": 2}, [True, True, False, False]),
    ({"duration": "forever"}, [True, True, True, True]),
    (None, [False, False, False, False]),
])
def test_a_coupons_duration_counts_from_the_first_charged_period(coupon, discounted):
    starts, start = [JAN31], JAN31
    for _ in range(3):
        start = rules.period_end(JAN31, start, "month", 1)
        starts.append(start)
    assert [rules.coupon_applies(coupon, JAN31, s) for s in starts] == discounted


def test_invoice_amounts_apply_the_coupon_only_when_it_applies():
    items = [{"price_id": "price_a", "quantity": 3, "unit_amount_atom": 999, "description": None}]
    half = {"percent_off": "12.5", "duration": "forever"}
    off = rules.invoice_amounts(items, "USD", half, True)
    assert (off.subtotal_atom, off.discount_atom, off.total_atom) == (2997, 375, 2622)  # 374.625 rounds half up
    assert off.lines == [{"price_id": "price_a", "description": None, "quantity": 3, "unit_amount_atom": 999,
                          "currency": "USD", "amount_atom": 2997}]
    assert rules.invoice_amounts(items, "USD", half, False).total_atom == 2997
    big = rules.invoice_amounts(items, "USD", {"amount_off_atom": 5000, "duration": "once"}, True)
    assert (big.discount_atom, big.total_atom) == (2997, 0)  # never more than the invoice
    assert rules.coupon_terms({"percent_off": 12.5}).percent_off == Decimal("12.5")


def test_declined_invoices_are_retried_after_1_3_and_5_days_then_given_up():
    first = datetime(2026, 3, 1, tzinfo=UTC)
    assert [rules.next_attempt_at(first, n) for n in (1, 2, 3, 4)] == [
        first + timedelta(days=1), first + timedelta(days=3), first + timedelta(days=5), None]
    assert rules.MAX_ATTEMPTS == 4
