"""What a checkout session sells and charges, from the share read to the snapshot: the names the
customer reads, what is due today and what a subscription charges later, from which date."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.checkout_sessions import Charges, Later, charges, new_session
from domain.link_reader import ShareLink
from domain.models import CheckoutSession

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def price(price_id: str, amount: int, product: str, interval: str | None = None, count: int | None = None) -> dict:
    return {"id": price_id, "active": True, "unit_amount_atom": amount, "currency": "USD",
            "type": "recurring" if interval else "one_time", "interval": interval, "interval_count": count,
            "product_name": product}


def share_link(mode="payment", line_items=(), prices=(), packages=(), package_ids=None, coupon=None,
               free_trial_days=None) -> ShareLink:
    return ShareLink(id="pl_test_1", account_id="acct_1", livemode=False, mode=mode, is_active=True,
                     line_items=list(line_items), package_ids=package_ids, customer_id=None,
                     coupon_id=coupon["id"] if coupon else None, free_trial_days=free_trial_days, success_url=None,
                     return_url=None, expires_in_hours=24, allow_cart_edit=False, accepted_payment_methods=None,
                     currency=None if mode == "setup" else "USD", prices=list(prices), packages=list(packages),
                     coupon=coupon)


def ten_percent() -> dict:
    return {"id": "coupon_1", "active": True, "percent_off": "10.00", "amount_off_atom": None, "redeem_by": None,
            "max_redemptions": None, "times_redeemed": 0}


def session_of(link: ShareLink) -> CheckoutSession:
    snapshot = new_session(link, session_id="cs_test_1", checkout_token="t" * 40, now=NOW)
    for name in ("created_at", "updated_at", "expires_at"):
        snapshot[name] = datetime.fromisoformat(snapshot[name])
    return CheckoutSession(**snapshot)


def test_lines_keep_the_product_name_the_description_and_the_package_name():
    items = share_link(line_items=[{"price_id": "price_a", "quantity": 2, "description": "Loose leaf, 100 g"}],
                       prices=[price("price_a", 450, "Tea")])
    bundle = share_link(package_ids=["pkg_1"], packages=[{"id": "pkg_1", "active": True, "name": "Tea set",
                                                          "price_ids": ["price_a", "price_b"]}],
                        prices=[price("price_a", 450, "Tea"), price("price_b", 1200, "Cups")])
    assert [(line["product_name"], line["description"], line["package_name"], line["quantity"])
            for line in session_of(items).line_items] == [("Tea", "Loose leaf, 100 g", None, 2)]
    assert [(line["product_name"], line["description"], line["package_name"])
            for line in session_of(bundle).line_items] == [("Tea", None, "Tea set"), ("Cups", None, "Tea set")]


def test_a_payment_charges_its_total_today_and_nothing_later():
    link = share_link(line_items=[{"price_id": "price_a", "quantity": 2}, {"price_id": "price_b", "quantity": 3}],
                      prices=[price("price_a", 1999, "Mug"), price("price_b", 250, "Sticker")], coupon=ten_percent())
    assert charges(session_of(link), NOW) == Charges(4748, 475, 4273, None)


def test_setup_charges_nothing():
    assert charges(session_of(share_link(mode="setup")), NOW) is None


def test_a_trial_charges_the_one_time_lines_today_and_the_recurring_ones_from_its_end():
    link = share_link(mode="subscription", free_trial_days=14, coupon=ten_percent(),
                      line_items=[{"price_id": "price_plan", "quantity": 1}, {"price_id": "price_fee", "quantity": 1}],
                      prices=[price("price_plan", 4900, "Pro plan", "month", 1), price("price_fee", 1500, "Setup")])
    session = session_of(link)
    found = charges(session, NOW)
    assert found == Charges(1500, 150, 1350, Later(4410, "month", 1, NOW + timedelta(days=14)))
    assert found.due_today_atom == session.amount_due_today_atom  # what Pay charges


def test_a_trial_with_only_recurring_lines_is_free_today():
    link = share_link(mode="subscription", free_trial_days=7, line_items=[{"price_id": "price_plan", "quantity": 2}],
                      prices=[price("price_plan", 900, "Basic", "week", 1)])
    assert charges(session_of(link), NOW) == Charges(0, 0, 0, Later(1800, "week", 1, NOW + timedelta(days=7)))


def test_without_a_trial_the_recurring_lines_are_charged_today_and_again_one_interval_later():
    link = share_link(mode="subscription",
                      line_items=[{"price_id": "price_plan", "quantity": 1}, {"price_id": "price_fee", "quantity": 1}],
                      prices=[price("price_plan", 4900, "Pro plan", "month", 3), price("price_fee", 1500, "Setup")])
    assert charges(session_of(link), NOW) == Charges(6400, 0, 6400, Later(4900, "month", 3,
                                                                              datetime(2027, 3, 1, 9, 30, tzinfo=UTC)))
