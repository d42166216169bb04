"""Catalog rules that need no database (domain/catalog.py validate_* and coupon_is_redeemable)."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from domain.catalog import NewCoupon, NewPrice, coupon_is_redeemable, validate_coupon_fields, validate_price_fields
from domain.errors import InvalidRequest

NOW = datetime(2026, 6, 17, 14, 0, tzinfo=UTC)


def price(**fields) -> NewPrice:
    return NewPrice(**{"product_id": "prod_live_x", "unit_amount_atom": 1000, "currency": "USD", **fields})


def coupon(**fields) -> NewCoupon:
    return NewCoupon(**{"name": "Launch", "percent_off": Decimal("10"), **fields})


def param_of(call, *args) -> str | None:
    with pytest.raises(InvalidRequest) as caught:
        call(*args)
    return caught.value.param


class TestPrice:
    def test_one_time_keeps_no_interval(self):
        checked = validate_price_fields(price())
        assert (checked.type, checked.interval, checked.interval_count) == ("one_time", None, None)

    def test_free_price_is_allowed(self):
        assert validate_price_fields(price(unit_amount_atom=0)).unit_amount_atom == 0

    def test_recurring_interval_count_defaults_to_one(self):
        checked = validate_price_fields(price(type="recurring", interval="month"))
        assert (checked.interval, checked.interval_count) == ("month", 1)

    @pytest.mark.parametrize("interval, longest", [("day", 365), ("week", 52), ("month", 12), ("year", 1)])
    def test_interval_count_at_most_one_year(self, interval, longest):
        assert validate_price_fields(price(type="recurring", interval=interval, interval_count=longest))
        assert param_of(validate_price_fields,
                        price(type="recurring", interval=interval, interval_count=longest + 1)) == "interval_count"
        assert param_of(validate_price_fields,
                        price(type="recurring", interval=interval, interval_count=0)) == "interval_count"

    @pytest.mark.parametrize("fields, param", [
        ({"unit_amount_atom": -1}, "unit_amount_atom"),
        ({"currency": "usd"}, "currency"),
        ({"currency": "ABC"}, "currency"),
        ({"type": "metered"}, "type"),
        ({"interval": "month"}, "interval"),
        ({"interval_count": 2}, "interval_count"),
        ({"type": "recurring"}, "interval"),
        ({"type": "recurring", "interval": "fortnight"}, "interval"),
    ])
    def test_rejected(self, fields, param):
        assert param_of(validate_price_fields, price(**fields)) == param

    def test_recurring_without_interval_is_a_missing_parameter(self):
        with pytest.raises(InvalidRequest) as caught:
            validate_price_fields(price(type="recurring"))
        assert caught.value.code == "parameter_missing"


class TestCoupon:
    @pytest.mark.parametrize("percent", ["0.01", "12.5", "33.33", "100"])
    def test_percent_accepted(self, percent):
        validate_coupon_fields(coupon(percent_off=Decimal(percent)), NOW)

    @pytest.mark.parametrize("percent", ["0", "-5", "100.01", "12.345"])
    def test_percent_rejected(self, percent):
        assert param_of(validate_coupon_fields, coupon(percent_off=Decimal(percent)), NOW) == "percent_off"

    def test_amount_off_with_currency(self):
        validate_coupon_fields(coupon(percent_off=None, amount_off_atom=500, currency="EUR"), NOW)

    @pytest.mark.parametrize("fields, param", [
        ({"percent_off": None}, "percent_off"),                                       # neither
        ({"amount_off_atom": 500, "currency": "USD"}, "percent_off"),                 # both
        ({"percent_off": None, "amount_off_atom": 500}, "currency"),                  # amount without currency
        ({"percent_off": None, "amount_off_atom": 500, "currency": "usd"}, "currency"),
        ({"percent_off": None, "amount_off_atom": 0, "currency": "USD"}, "amount_off_atom"),
        ({"currency": "USD"}, "currency"),                                            # percent with currency
        ({"name": ""}, "name"),
        ({"duration": "weekly"}, "duration"),
        ({"duration": "repeating"}, "duration_in_months"),
        ({"duration": "repeating", "duration_in_months": 0}, "duration_in_months"),
        ({"duration": "repeating", "duration_in_months": 121}, "duration_in_months"),
        ({"duration": "once", "duration_in_months": 3}, "duration_in_months"),
        ({"max_redemptions": 0}, "max_redemptions"),
        ({"redeem_by": NOW}, "redeem_by"),
        ({"redeem_by": NOW - timedelta(days=1)}, "redeem_by"),
        ({"redeem_by": datetime(2030, 1, 1)}, "redeem_by"),                           # no time zone
    ])
    def test_rejected(self, fields, param):
        assert param_of(validate_coupon_fields, coupon(**fields), NOW) == param

    def test_all_optional_fields(self):
        validate_coupon_fields(coupon(duration="repeating", duration_in_months=3, max_redemptions=1,
                                      redeem_by=NOW + timedelta(seconds=1)), NOW)


class TestRedeemable:
    def make(self, **fields):
        return SimpleNamespace(**{"active": True, "redeem_by": None, "max_redemptions": None, "times_redeemed": 0,
                                  **fields})

    def test_fresh_coupon(self):
        assert coupon_is_redeemable(self.make(), NOW)

    def test_inactive(self):
        assert not coupon_is_redeemable(self.make(active=False), NOW)

    def test_redeem_by_is_exclusive(self):
        assert coupon_is_redeemable(self.make(redeem_by=NOW + timedelta(seconds=1)), NOW)
        assert not coupon_is_redeemable(self.make(redeem_by=NOW), NOW)

    def test_max_redemptions(self):
        assert coupon_is_redeemable(self.make(max_redemptions=2, times_redeemed=1), NOW)
        assert not coupon_is_redeemable(self.make(max_redemptions=2, times_redeemed=2), NOW)
