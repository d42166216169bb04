"""The rules of a payment link over plain values: no database."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.errors import InvalidRequest
from domain.models import Coupon, Price
from domain.payment_links import (UNCHANGED, LineItem, NewPaymentLink, PaymentLinkUpdate, cart_total,
                                  check_cart_prices, check_coupon, expand_line_items, validate_new,
                                  validate_update)

NOW = datetime(2026, 6, 17, 14, 0, tzinfo=UTC)


def rejected(call, *args) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        call(*args)
    return caught.value


def param_of(cmd: NewPaymentLink) -> str | None:
    return rejected(validate_new, cmd).param


def link(**fields) -> NewPaymentLink:
    fields.setdefault("line_items", [LineItem("price_1")])
    return NewPaymentLink(**fields)


def price(pid="price_1", amount=1000, currency="USD", type="one_time", interval=None, interval_count=None) -> Price:
    return Price(id=pid, unit_amount_atom=amount, currency=currency, type=type, interval=interval,
                 interval_count=interval_count, active=True)


def monthly(pid="price_m", amount=2000, currency="USD", count=1) -> Price:
    return price(pid, amount, currency, "recurring", "month", count)


def coupon(**fields) -> Coupon:
    base = dict(id="coupon_1", percent_off=Decimal("10"), amount_off_atom=None, currency=None, active=True,
                redeem_by=None, max_redemptions=None, times_redeemed=0)
    return Coupon(**{**base, **fields})


# ---- fields of a new link ------------------------------------------------------------------

def test_a_plain_payment_link_passes():
    validate_new(link())
    validate_new(NewPaymentLink(mode="setup"))
    validate_new(NewPaymentLink(mode="subscription", package_ids=["pkg_1", "pkg_2"], free_trial_days=14))


def test_defaults():
    cmd = NewPaymentLink()
    assert (cmd.mode, cmd.expires_in_hours, cmd.allow_cart_edit, cmd.accepted_payment_methods) == (
        "payment", 24, False, None)


def test_unknown_mode():
    assert param_of(link(mode="donation")) == "mode"


def test_name_at_most_255_characters():
    validate_new(link(name="n" * 255))
    assert param_of(link(name="n" * 256)) == "name"


def test_line_items_and_package_ids_exclude_each_other():
    assert param_of(link(package_ids=["pkg_1"])) == "package_ids"


@pytest.mark.parametrize("mode", ["payment", "subscription"])
def test_payment_and_subscription_need_something_to_sell(mode):
    error = rejected(validate_new, NewPaymentLink(mode=mode))
    assert (error.param, error.code) == ("line_items", "parameter_missing")


def test_setup_sells_nothing():
    assert param_of(link(mode="setup")) == "line_items"
    assert param_of(NewPaymentLink(mode="setup", package_ids=["pkg_1"])) == "package_ids"
    assert param_of(NewPaymentLink(mode="setup", coupon_id="coupon_1")) == "coupon_id"
    assert param_of(NewPaymentLink(mode="setup", free_trial_days=7)) == "free_trial_days"


def test_one_to_twenty_line_items():
    validate_new(link(line_items=[LineItem(f"price_{i}") for i in range(20)]))
    assert param_of(link(line_items=[])) == "line_items"
    assert param_of(link(line_items=[LineItem(f"price_{i}") for i in range(21)])) == "line_items"


@pytest.mark.parametrize("quantity,ok", [(0, False), (1, True), (999, True), (1000, False), (-1, False)])
def test_quantity_from_1_to_999(quantity, ok):
    cmd = link(line_items=[LineItem("price_1"), LineItem("price_2", quantity=quantity)])
    if ok:
        validate_new(cmd)
    else:
        assert param_of(cmd) == "line_items[1].quantity"


def test_description_at_most_500_characters():
    validate_new(link(line_items=[LineItem("price_1", description="d" * 500)]))
    assert param_of(link(line_items=[LineItem("price_1"), LineItem("price_2", description="d" * 501)])) == \
        "line_items[1].description"


def test_price_id_must_be_given():
    assert param_of(link(line_items=[LineItem("price_1"), LineItem("")])) == "line_items[1].price_id"


def test_package_ids_one_to_twenty_without_repeats():
    assert param_of(NewPaymentLink(package_ids=[])) == "package_ids"
    assert param_of(NewPaymentLink(package_ids=[f"pkg_{i}" for i in range(21)])) == "package_ids"
    assert param_of(NewPaymentLink(package_ids=["pkg_1", "pkg_2", "pkg_1"])) == "package_ids[2]"


@pytest.mark.parametrize("days,ok", [(0, False), (1, True), (730, True), (731, False)])
def test_trial_from_1_to_730_days(days, ok):
    cmd = link(mode="subscription", free_trial_days=days)
    if ok:
        validate_new(cmd)
    else:
        assert param_of(cmd) == "free_trial_days"


def test_trial_only_for_subscriptions():
    assert param_of(link(free_trial_days=7)) == "free_trial_days"


@pytest.mark.parametrize("hours,ok", [(0, False), (1, True), (720, True), (721, False)])
def test_expires_in_hours_from_1_to_720(hours, ok):
    cmd = link(expires_in_hours=hours)
    if ok:
        validate_new(cmd)
    else:
        assert param_of(cmd) == "expires_in_hours"


@pytest.mark.parametrize("url", ["ftp://example.com/x", "/welcome", "example.com/welcome", "https://",
                                 "https://example.com/" + "a" * 2048, "javascript:alert(1)"])
@pytest.mark.parametrize("param", ["success_url", "return_url"])
def test_urls_are_absolute_http_or_https(url, param):
    assert param_of(link(**{param: url})) == param


def test_good_urls_pass():
    validate_new(link(success_url="https://example.com/welcome?session={CHECKOUT_SESSION_ID}",
                      return_url="http://localhost:3000/cart"))


def test_payment_methods():
    validate_new(link(accepted_payment_methods=["credit_card", "apple_pay"]))
    assert param_of(link(accepted_payment_methods=[])) == "accepted_payment_methods"
    assert param_of(link(accepted_payment_methods=["credit_card", "cash"])) == "accepted_payment_methods[1]"
    assert param_of(link(accepted_payment_methods=["paypal", "paypal"])) == "accepted_payment_methods[1]"


def test_metadata_limits():
    validate_new(link(metadata={f"k{i}": "v" for i in range(50)}))
    assert param_of(link(metadata={f"k{i}": "v" for i in range(51)})) == "metadata"
    assert param_of(link(metadata={"k" * 41: "v"})).startswith("metadata.")
    assert param_of(link(metadata={"big": "x" * 9000})) == "metadata"


# ---- updates -------------------------------------------------------------------------------

def test_update_lists_only_given_fields():
    changes = PaymentLinkUpdate(return_url=None, is_active=False)
    assert changes.given() == {"return_url": None, "is_active": False}
    assert changes.coupon_id is UNCHANGED


def test_update_rules():
    validate_update(PaymentLinkUpdate(name=None, return_url=None, accepted_payment_methods=None, metadata={}))
    assert rejected(validate_update, PaymentLinkUpdate(success_url="ftp://x")).param == "success_url"
    assert rejected(validate_update, PaymentLinkUpdate(accepted_payment_methods=[])).param == \
        "accepted_payment_methods"
    assert rejected(validate_update, PaymentLinkUpdate(name="n" * 256)).param == "name"
    assert rejected(validate_update, PaymentLinkUpdate(metadata=None)).param == "metadata"


# ---- prices against the mode ---------------------------------------------------------------

def test_one_currency():
    entries = [("line_items[0].price_id", price()), ("line_items[1].price_id", price("p2", currency="EUR"))]
    assert rejected(check_cart_prices, "payment", entries, "line_items").param == "line_items[1].price_id"
    assert check_cart_prices("payment", entries[:1], "line_items") == "USD"


def test_payment_mode_sells_one_time_prices_only():
    entries = [("line_items[0].price_id", price()), ("line_items[1].price_id", monthly())]
    assert rejected(check_cart_prices, "payment", entries, "line_items").param == "line_items[1].price_id"


def test_subscription_needs_a_recurring_price():
    assert rejected(check_cart_prices, "subscription", [("package_ids[0]", price())], "package_ids").param == \
        "package_ids"


def test_subscription_recurring_prices_share_one_schedule():
    yearly = price("py", type="recurring", interval="year", interval_count=1)
    every_two_months = monthly("p2m", count=2)
    assert rejected(check_cart_prices, "subscription", [("a", monthly()), ("b", yearly)], "line_items").param == "b"
    assert rejected(check_cart_prices, "subscription", [("a", monthly()), ("b", every_two_months)],
                    "line_items").param == "b"


def test_subscription_takes_one_time_setup_fees():
    assert check_cart_prices("subscription", [("a", price()), ("b", monthly()), ("c", monthly("m2"))],
                             "line_items") == "USD"


# ---- coupons -------------------------------------------------------------------------------

def test_coupon_must_be_active_and_redeemable():
    check_coupon(coupon(), "USD", NOW)
    assert rejected(check_coupon, coupon(active=False), "USD", NOW).param == "coupon_id"
    assert rejected(check_coupon, coupon(redeem_by=NOW - timedelta(seconds=1)), "USD", NOW).param == "coupon_id"
    assert rejected(check_coupon, coupon(max_redemptions=3, times_redeemed=3), "USD", NOW).param == "coupon_id"


def test_amount_off_coupon_shares_the_link_currency():
    fixed = coupon(percent_off=None, amount_off_atom=500, currency="EUR")
    check_coupon(fixed, "EUR", NOW)
    assert rejected(check_coupon, fixed, "USD", NOW).param == "coupon_id"
    check_coupon(coupon(), "JPY", NOW)  # a percentage fits any currency


# ---- amounts -------------------------------------------------------------------------------

def test_expanded_line_items_and_total():
    items = [LineItem("price_1", 3, "Mugs"), LineItem("price_m", 2)]
    prices = [price(amount=1250), monthly(amount=4900)]
    assert expand_line_items(items, prices) == [
        {"price_id": "price_1", "quantity": 3, "description": "Mugs", "unit_amount_atom": 1250, "currency": "USD",
         "type": "one_time", "amount_atom": 3750},
        {"price_id": "price_m", "quantity": 2, "description": None, "unit_amount_atom": 4900, "currency": "USD",
         "type": "recurring", "amount_atom": 9800},
    ]
    assert cart_total(list(zip(prices, [3, 2]))) == 13550
    assert cart_total([]) == 0
