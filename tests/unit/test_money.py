"""Money arithmetic (domain/money.py): integer atoms, half-up percent discounts, trials."""
from decimal import Decimal

import pytest

from domain.money import CartLine, CouponTerms, cart_amounts, discount, round_half_up_div, subtotal


def test_subtotal_is_unit_times_quantity_summed():
    lines = [CartLine(1999, 3), CartLine(500, 1), CartLine(0, 7)]
    assert [line.amount_atom for line in lines] == [5997, 500, 0]
    assert subtotal(lines) == 6497
    assert subtotal([]) == 0


def test_big_amounts_stay_exact():
    line = CartLine(99_999_999_999, 999)
    assert subtotal([line, line]) == 2 * 99_999_999_999 * 999


@pytest.mark.parametrize("num, den, expected", [(0, 4, 0), (1, 4, 0), (2, 4, 1), (3, 4, 1), (5, 2, 3), (7, 2, 4),
                                                (10, 5, 2), (149, 100, 1), (150, 100, 2)])
def test_round_half_up_div(num, den, expected):
    assert round_half_up_div(num, den) == expected


@pytest.mark.parametrize("amount, percent, expected", [
    (1000, "10", 100),
    (1999, "12.5", 250),     # 249.875 -> 250
    (10, "5", 1),            # 0.5 rounds up, not to even
    (30, "5", 2),            # 1.5 -> 2
    (50, "5", 3),            # 2.5 -> 3 (banker's rounding would give 2)
    (1, "49.99", 0),         # 0.4999 -> 0
    (1, "50", 1),            # 0.5 -> 1
    (999, "33.33", 333),     # 332.9667 -> 333
    (12345, "100", 12345),
])
def test_percent_discount_rounds_half_up(amount, percent, expected):
    assert discount(amount, CouponTerms(percent_off=Decimal(percent))) == expected


def test_amount_coupon_takes_its_amount():
    assert discount(1000, CouponTerms(amount_off_atom=300)) == 300


def test_amount_coupon_is_capped_at_the_subtotal():
    assert discount(1000, CouponTerms(amount_off_atom=5000)) == 1000
    amounts = cart_amounts([CartLine(400, 2)], CouponTerms(amount_off_atom=5000))
    assert (amounts.subtotal_atom, amounts.discount_atom, amounts.total_atom) == (800, 800, 0)


def test_no_coupon_or_nothing_to_discount():
    assert discount(1000, None) == 0
    assert discount(0, CouponTerms(amount_off_atom=100)) == 0
    assert discount(0, CouponTerms(percent_off=Decimal("50"))) == 0


def test_cart_without_trial_is_due_in_full():
    amounts = cart_amounts([CartLine(1000, 2), CartLine(500, 1, recurring=True)], CouponTerms(percent_off=Decimal(10)))
    assert amounts.subtotal_atom == 2500
    assert amounts.discount_atom == 250
    assert amounts.total_atom == 2250
    assert amounts.due_today_atom == 2250


def test_trial_charges_only_one_time_items_today():
    lines = [CartLine(4900, 1, recurring=True), CartLine(1000, 1)]   # plan + setup fee
    amounts = cart_amounts(lines, None, trial_days=14)
    assert (amounts.subtotal_atom, amounts.total_atom, amounts.due_today_atom) == (5900, 5900, 1000)


def test_trial_applies_the_coupon_to_what_is_due_today():
    lines = [CartLine(4900, 1, recurring=True), CartLine(1000, 1)]
    percent = cart_amounts(lines, CouponTerms(percent_off=Decimal("12.5")), trial_days=7)
    assert (percent.discount_atom, percent.total_atom, percent.due_today_atom) == (738, 5162, 875)
    fixed = cart_amounts(lines, CouponTerms(amount_off_atom=3000), trial_days=7)
    assert (fixed.discount_atom, fixed.total_atom, fixed.due_today_atom) == (3000, 2900, 0)


def test_trial_with_only_recurring_items_is_free_today():
    amounts = cart_amounts([CartLine(4900, 2, recurring=True)], None, trial_days=30)
    assert (amounts.total_atom, amounts.due_today_atom) == (9800, 0)


def test_no_float_in_results():
    amounts = cart_amounts([CartLine(1999, 3)], CouponTerms(percent_off=Decimal("12.5")), trial_days=None)
    for value in (amounts.subtotal_atom, amounts.discount_atom, amounts.total_atom, amounts.due_today_atom):
        assert type(value) is int
