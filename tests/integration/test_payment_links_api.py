"""The payment links API over HTTP, on a real database: every rule names its exact param."""
from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from falcon import testing
from freezegun import freeze_time

from tests.conftest import Merchant, make_merchant

LINK_FIELDS = {
    "object", "id", "secure_token", "url", "name", "mode", "is_active", "line_items", "package_ids",
    "total_amount_atom", "currency", "expires_in_hours", "success_url", "return_url", "customer_id", "coupon_id",
    "free_trial_days", "allow_cart_edit", "accepted_payment_methods", "metadata", "livemode", "created_at",
    "updated_at",
}


def items(*price_ids: str, quantity: int = 1) -> list[dict]:
    return [{"price_id": pid, "quantity": quantity} for pid in price_ids]


def assert_invalid(result, param: str) -> dict:
    assert result.status_code == 400, (result.status, result.text)
    error = result.json["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param, error
    return error


def all_links(merchant: Merchant, key: str | None = None, **query) -> list[dict]:
    return merchant.ok("GET", "/payment-links", params={"limit": 100, **query}, key=key)["data"]


def package(merchant: Merchant, *price_ids: str) -> dict:
    return merchant.ok("POST", "/packages", {"name": "Bundle", "price_ids": list(price_ids)})


def deactivate(merchant: Merchant, path: str) -> None:
    merchant.ok("PATCH", path, {"active": False})


@pytest.fixture(scope="module")
def shop(app, deps):
    """One merchant's catalog with something for every rule, and a second merchant's price."""
    from domain.db import UnitOfWork, session_factory

    client = testing.TestClient(app)
    factory = session_factory(deps.engine)
    m = make_merchant(client, lambda: UnitOfWork(factory))
    other = make_merchant(client, lambda: UnitOfWork(factory))
    s = SimpleNamespace(m=m)
    s.usd = m.price(1000)["id"]
    s.usd2 = m.price(500)["id"]
    s.eur = m.price(900, "EUR")["id"]
    s.monthly = m.recurring_price(2000)["id"]
    s.monthly2 = m.recurring_price(3000)["id"]
    s.yearly = m.recurring_price(20000, interval="year")["id"]
    s.bimonthly = m.recurring_price(3500, interval_count=2)["id"]
    s.inactive = m.price(100)["id"]
    s.pkg_usd = package(m, s.usd, s.usd2)["id"]
    s.pkg_eur = package(m, s.eur)["id"]
    s.pkg_monthly = package(m, s.monthly, s.usd)["id"]
    s.pkg_inactive = package(m, s.usd)["id"]
    s.stale_price = m.price(700)["id"]
    s.pkg_stale = package(m, s.stale_price)["id"]
    deactivate(m, f"/prices/{s.inactive}")
    deactivate(m, f"/packages/{s.pkg_inactive}")
    deactivate(m, f"/prices/{s.stale_price}")
    s.test_price = m.ok("POST", "/prices", {"product_id": m.ok("POST", "/products", {"name": "T"},
                                                                key=m.test_api_key)["id"],
                                            "unit_amount_atom": 100, "currency": "USD"}, key=m.test_api_key)["id"]
    s.foreign = other.price(1000)["id"]
    s.customer = m.ok("POST", "/customers", {"email": "ada@example.com"})["id"]
    s.foreign_customer = other.ok("POST", "/customers", {"email": "bob@example.com"})["id"]
    s.coupon = m.ok("POST", "/coupons", {"name": "10%", "percent_off": 10})["id"]
    s.coupon_eur = m.ok("POST", "/coupons", {"name": "5 EUR", "amount_off_atom": 500, "currency": "EUR"})["id"]
    s.coupon_usd = m.ok("POST", "/coupons", {"name": "5 USD", "amount_off_atom": 500, "currency": "USD"})["id"]
    s.coupon_inactive = m.ok("POST", "/coupons", {"name": "old", "percent_off": 50})["id"]
    deactivate(m, f"/coupons/{s.coupon_inactive}")
    s.foreign_coupon = other.ok("POST", "/coupons", {"name": "theirs", "percent_off": 5})["id"]
    return s


# ---- creating: the object -----------------------------------------------------------------

def test_create_returns_the_whole_object(merchant):
    usd = merchant.price(1250)["id"]
    mug = merchant.price(300)["id"]
    made = merchant.ok("POST", "/payment-links", {
        "name": "Mugs", "line_items": [{"price_id": usd, "quantity": 3, "description": "Big mug"},
                                       {"price_id": mug}],
        "success_url": "https://example.com/thanks", "metadata": {"campaign": "spring"}})
    assert set(made) == LINK_FIELDS
    assert made["object"] == "payment_link"
    assert made["id"].startswith("pl_live_")
    assert made["url"] == f"https://pay.example.test/api/pay/share/{made['secure_token']}"
    assert (made["name"], made["mode"], made["is_active"], made["livemode"]) == ("Mugs", "payment", True, True)
    assert made["line_items"] == [
        {"price_id": usd, "quantity": 3, "description": "Big mug", "unit_amount_atom": 1250, "currency": "USD",
         "type": "one_time", "amount_atom": 3750},
        {"price_id": mug, "quantity": 1, "description": None, "unit_amount_atom": 300, "currency": "USD",
         "type": "one_time", "amount_atom": 300},
    ]
    assert (made["total_amount_atom"], made["currency"]) == (4050, "USD")
    assert made["package_ids"] == []
    assert (made["expires_in_hours"], made["allow_cart_edit"], made["accepted_payment_methods"]) == (24, False, None)
    assert (made["customer_id"], made["coupon_id"], made["free_trial_days"], made["return_url"]) == (
        None, None, None, None)
    assert made["metadata"] == {"campaign": "spring"}
    assert made["created_at"] == made["updated_at"]
    assert made["created_at"].endswith("Z") or made["created_at"].endswith("+00:00")
    assert merchant.ok("GET", f"/payment-links/{made['id']}") == made


def test_secure_tokens_are_long_url_safe_and_unique(merchant):
    price = merchant.price()["id"]
    tokens = {merchant.ok("POST", "/payment-links", {"line_items": items(price)})["secure_token"] for _ in range(20)}
    assert len(tokens) == 20
    for token in tokens:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) * 8 >= 128
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_every_create_field_is_stored(shop):
    made = shop.m.ok("POST", "/payment-links", {
        "name": "Pro plan signup", "mode": "subscription", "line_items": items(shop.monthly, shop.usd),
        "customer_id": shop.customer, "coupon_id": shop.coupon_usd, "free_trial_days": 14,
        "success_url": "https://example.com/welcome", "return_url": "https://example.com/pricing",
        "expires_in_hours": 72, "allow_cart_edit": True, "accepted_payment_methods": ["credit_card", "apple_pay"],
        "metadata": {"plan": "pro"}})
    assert {k: made[k] for k in ("mode", "customer_id", "coupon_id", "free_trial_days", "success_url", "return_url",
                                 "expires_in_hours", "allow_cart_edit", "accepted_payment_methods", "metadata",
                                 "total_amount_atom", "currency")} == {
        "mode": "subscription", "customer_id": shop.customer, "coupon_id": shop.coupon_usd, "free_trial_days": 14,
        "success_url": "https://example.com/welcome", "return_url": "https://example.com/pricing",
        "expires_in_hours": 72, "allow_cart_edit": True, "accepted_payment_methods": ["credit_card", "apple_pay"],
        "metadata": {"plan": "pro"}, "total_amount_atom": 3000, "currency": "USD"}
    assert [i["type"] for i in made["line_items"]] == ["recurring", "one_time"]


def test_package_link_totals_its_prices(shop):
    made = shop.m.ok("POST", "/payment-links", {"package_ids": [shop.pkg_usd]})
    assert (made["line_items"], made["package_ids"]) == ([], [shop.pkg_usd])
    assert (made["total_amount_atom"], made["currency"]) == (1500, "USD")
    sub = shop.m.ok("POST", "/payment-links", {"mode": "subscription", "package_ids": [shop.pkg_monthly]})
    assert sub["total_amount_atom"] == 3000


def test_setup_link_charges_nothing(shop):
    made = shop.m.ok("POST", "/payment-links", {"mode": "setup", "customer_id": shop.customer,
                                                "success_url": "https://example.com/saved"})
    assert (made["mode"], made["currency"], made["total_amount_atom"]) == ("setup", None, 0)
    assert (made["line_items"], made["package_ids"]) == ([], [])


def test_subscription_takes_a_one_time_setup_fee(shop):
    made = shop.m.ok("POST", "/payment-links", {"mode": "subscription",
                                                "line_items": items(shop.monthly, shop.monthly2, shop.usd)})
    assert made["total_amount_atom"] == 6000


def test_test_key_makes_test_links(shop):
    made = shop.m.ok("POST", "/payment-links", {"line_items": items(shop.test_price)}, key=shop.m.test_api_key)
    assert made["id"].startswith("pl_test_") and made["livemode"] is False


# ---- creating: every rule names its param ---------------------------------------------------

LONG_URL = "https://example.com/" + "a" * 2040
REJECTIONS = [
    # line items
    ("quantity 0", lambda s: {"line_items": [{"price_id": s.usd}, {"price_id": s.usd2, "quantity": 0}]},
     "line_items[1].quantity"),
    ("quantity 1000", lambda s: {"line_items": [{"price_id": s.usd}, {"price_id": s.usd2, "quantity": 1000}]},
     "line_items[1].quantity"),
    ("quantity as text", lambda s: {"line_items": [{"price_id": s.usd, "quantity": "2"}]},
     "line_items[0].quantity"),
    ("description 501", lambda s: {"line_items": [{"price_id": s.usd, "description": "d" * 501}]},
     "line_items[0].description"),
    ("no items", lambda s: {"line_items": []}, "line_items"),
    ("21 items", lambda s: {"line_items": items(*[s.usd] * 21)}, "line_items"),
    ("unknown item field", lambda s: {"line_items": [{"price_id": s.usd, "unit_amount_atom": 1}]},
     "line_items[0].unit_amount_atom"),
    ("missing price", lambda s: {"line_items": items(s.usd, "price_live_nosuchprice0000000")},
     "line_items[1].price_id"),
    ("another account's price", lambda s: {"line_items": items(s.foreign)}, "line_items[0].price_id"),
    ("the other mode's price", lambda s: {"line_items": items(s.test_price)}, "line_items[0].price_id"),
    ("inactive price", lambda s: {"line_items": items(s.inactive)}, "line_items[0].price_id"),
    ("mixed currency", lambda s: {"line_items": items(s.usd, s.usd2, s.eur)}, "line_items[2].price_id"),
    # packages
    ("inactive package", lambda s: {"package_ids": [s.pkg_usd, s.pkg_inactive]}, "package_ids[1]"),
    ("missing package", lambda s: {"package_ids": [s.pkg_usd, "pkg_live_nosuchpackage00000"]}, "package_ids[1]"),
    ("package of a gone price", lambda s: {"package_ids": [s.pkg_usd, s.pkg_stale]}, "package_ids[1]"),
    ("repeated package", lambda s: {"package_ids": [s.pkg_usd, s.pkg_usd]}, "package_ids[1]"),
    ("mixed currency packages", lambda s: {"package_ids": [s.pkg_usd, s.pkg_eur]}, "package_ids[1]"),
    ("no packages", lambda s: {"package_ids": []}, "package_ids"),
    ("items and packages", lambda s: {"line_items": items(s.usd), "package_ids": [s.pkg_usd]}, "package_ids"),
    ("nothing to sell", lambda s: {"name": "empty"}, "line_items"),
    # modes
    ("unknown mode", lambda s: {"mode": "donation", "line_items": items(s.usd)}, "mode"),
    ("payment with recurring", lambda s: {"line_items": items(s.usd, s.monthly)}, "line_items[1].price_id"),
    ("payment with recurring package", lambda s: {"package_ids": [s.pkg_monthly]}, "package_ids[0]"),
    ("subscription, two intervals", lambda s: {"mode": "subscription", "line_items": items(s.monthly, s.yearly)},
     "line_items[1].price_id"),
    ("subscription, two interval counts",
     lambda s: {"mode": "subscription", "line_items": items(s.usd, s.monthly, s.bimonthly)},
     "line_items[2].price_id"),
    ("subscription, nothing recurring", lambda s: {"mode": "subscription", "line_items": items(s.usd)},
     "line_items"),
    ("subscription, nothing at all", lambda s: {"mode": "subscription"}, "line_items"),
    ("setup with items", lambda s: {"mode": "setup", "line_items": items(s.usd)}, "line_items"),
    ("setup with packages", lambda s: {"mode": "setup", "package_ids": [s.pkg_usd]}, "package_ids"),
    ("setup with coupon", lambda s: {"mode": "setup", "coupon_id": s.coupon}, "coupon_id"),
    ("setup with trial", lambda s: {"mode": "setup", "free_trial_days": 7}, "free_trial_days"),
    ("trial in payment mode", lambda s: {"line_items": items(s.usd), "free_trial_days": 7}, "free_trial_days"),
    ("trial 0", lambda s: {"mode": "subscription", "line_items": items(s.monthly), "free_trial_days": 0},
     "free_trial_days"),
    ("trial 731", lambda s: {"mode": "subscription", "line_items": items(s.monthly), "free_trial_days": 731},
     "free_trial_days"),
    # expiry, URLs, methods, metadata, name, unknown fields
    ("expires 0", lambda s: {"line_items": items(s.usd), "expires_in_hours": 0}, "expires_in_hours"),
    ("expires 721", lambda s: {"line_items": items(s.usd), "expires_in_hours": 721}, "expires_in_hours"),
    ("ftp success_url", lambda s: {"line_items": items(s.usd), "success_url": "ftp://example.com/x"},
     "success_url"),
    ("relative success_url", lambda s: {"line_items": items(s.usd), "success_url": "/thanks"}, "success_url"),
    ("long success_url", lambda s: {"line_items": items(s.usd), "success_url": LONG_URL + "abcdefghi"},
     "success_url"),
    ("relative return_url", lambda s: {"line_items": items(s.usd), "return_url": "cart"}, "return_url"),
    ("ftp return_url", lambda s: {"line_items": items(s.usd), "return_url": "ftp://example.com"}, "return_url"),
    ("no methods", lambda s: {"line_items": items(s.usd), "accepted_payment_methods": []},
     "accepted_payment_methods"),
    ("repeated method", lambda s: {"line_items": items(s.usd), "accepted_payment_methods": ["paypal", "paypal"]},
     "accepted_payment_methods[1]"),
    ("unknown method", lambda s: {"line_items": items(s.usd), "accepted_payment_methods": ["paypal", "cash"]},
     "accepted_payment_methods[1]"),
    ("51 metadata keys", lambda s: {"line_items": items(s.usd), "metadata": {f"k{i}": i for i in range(51)}},
     "metadata"),
    ("long metadata key", lambda s: {"line_items": items(s.usd), "metadata": {"k" * 41: 1}}, "metadata." + "k" * 40),
    ("metadata over 8 KiB", lambda s: {"line_items": items(s.usd), "metadata": {"big": "x" * 8200}}, "metadata"),
    ("name 256", lambda s: {"line_items": items(s.usd), "name": "n" * 256}, "name"),
    ("unknown field", lambda s: {"line_items": items(s.usd), "currency": "USD"}, "currency"),
    # customer and coupon
    ("missing customer", lambda s: {"line_items": items(s.usd), "customer_id": "cus_live_nosuchcustomer0000"},
     "customer_id"),
    ("another account's customer", lambda s: {"line_items": items(s.usd), "customer_id": s.foreign_customer},
     "customer_id"),
    ("missing coupon", lambda s: {"line_items": items(s.usd), "coupon_id": "coupon_live_nosuchcoupon00000"},
     "coupon_id"),
    ("another account's coupon", lambda s: {"line_items": items(s.usd), "coupon_id": s.foreign_coupon},
     "coupon_id"),
    ("inactive coupon", lambda s: {"line_items": items(s.usd), "coupon_id": s.coupon_inactive}, "coupon_id"),
    ("amount coupon in another currency", lambda s: {"line_items": items(s.usd), "coupon_id": s.coupon_eur},
     "coupon_id"),
]


@pytest.mark.parametrize("body,param", [pytest.param(b, p, id=name) for name, b, p in REJECTIONS])
def test_create_rejects(shop, body, param):
    before = len(all_links(shop.m))
    assert_invalid(shop.m.post("/payment-links", body(shop)), param)
    assert len(all_links(shop.m)) == before


def test_the_edges_are_accepted(shop):
    made = shop.m.ok("POST", "/payment-links", {
        "mode": "subscription", "name": "n" * 255, "line_items": [{"price_id": shop.monthly, "quantity": 999,
                                                                    "description": "d" * 500}],
        "free_trial_days": 730, "expires_in_hours": 720, "success_url": LONG_URL[:2048],
        "accepted_payment_methods": ["credit_card", "debit_card", "apple_pay", "google_pay", "paypal",
                                     "bank_transfer", "sepa_debit", "ach_debit"],
        "metadata": {f"k{i}": i for i in range(50)}})
    assert made["total_amount_atom"] == 999 * 2000
    assert shop.m.ok("POST", "/payment-links", {"line_items": items(shop.usd), "expires_in_hours": 1,
                                                "coupon_id": shop.coupon})["expires_in_hours"] == 1


def test_a_coupon_past_redeem_by_is_refused(merchant):
    price = merchant.price()["id"]
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    coupon = merchant.ok("POST", "/coupons", {"name": "flash", "percent_off": 20, "redeem_by": soon})["id"]
    with freeze_time(datetime.now(UTC) + timedelta(hours=2)):
        assert_invalid(merchant.post("/payment-links", {"line_items": items(price), "coupon_id": coupon}),
                       "coupon_id")


def test_a_rejected_create_with_an_idempotency_key_changes_nothing(merchant):
    price = merchant.price()["id"]
    headers = {"Idempotency-Key": "create-once"}
    assert_invalid(merchant.post("/payment-links", {"line_items": items(price, quantity=0)}, headers=headers),
                   "line_items[0].quantity")
    assert all_links(merchant) == []
    made = merchant.ok("POST", "/payment-links", {"line_items": items(price)}, headers=headers)
    assert [link["id"] for link in all_links(merchant)] == [made["id"]]


# ---- listing --------------------------------------------------------------------------------

def make_links(merchant: Merchant, count: int, start: datetime, **body) -> list[dict]:
    """`count` links, one a minute from `start`, oldest first."""
    price = merchant.price()["id"]
    made = []
    for index in range(count):
        with freeze_time(start + timedelta(minutes=index)):
            made.append(merchant.ok("POST", "/payment-links", {"line_items": items(price), **body}))
    return made


def ids(page: dict) -> list[str]:
    return [link["id"] for link in page["data"]]


def test_list_pages_newest_first_in_both_directions(merchant):
    made = make_links(merchant, 25, datetime(2026, 1, 1, tzinfo=UTC))
    newest_first = [link["id"] for link in reversed(made)]

    first = merchant.ok("GET", "/payment-links")
    assert (first["object"], len(first["data"]), first["has_more"]) == ("list", 10, True)
    assert ids(first) == newest_first[:10]
    second = merchant.ok("GET", "/payment-links", params={"starting_after": ids(first)[-1]})
    assert (ids(second), second["has_more"]) == (newest_first[10:20], True)
    third = merchant.ok("GET", "/payment-links", params={"starting_after": ids(second)[-1]})
    assert (ids(third), third["has_more"]) == (newest_first[20:], False)

    back = merchant.ok("GET", "/payment-links", params={"ending_before": ids(third)[0]})
    assert (ids(back), back["has_more"]) == (newest_first[10:20], True)
    back = merchant.ok("GET", "/payment-links", params={"ending_before": ids(back)[0], "limit": 10})
    assert (ids(back), back["has_more"]) == (newest_first[:10], False)
    short = merchant.ok("GET", "/payment-links", params={"ending_before": newest_first[2], "limit": 1})
    assert (ids(short), short["has_more"]) == ([newest_first[1]], True)


def test_list_limits(merchant):
    make_links(merchant, 3, datetime(2026, 1, 1, tzinfo=UTC))
    assert len(merchant.ok("GET", "/payment-links", params={"limit": 2})["data"]) == 2
    assert len(merchant.ok("GET", "/payment-links", params={"limit": 100})["data"]) == 3
    for limit in ("0", "101", "ten", "１０", "٣"):  # full-width and Arabic-Indic digits are not numbers
        assert_invalid(merchant.get("/payment-links", params={"limit": limit}), "limit")


def test_list_rejects_bad_queries(merchant):
    for query, param in [({"is_active": "yes"}, "is_active"), ({"mode": "donation"}, "mode"),
                         ({"created[gte]": "yesterday"}, "created[gte]"), ({"created[lte]": "2026-01-01"},
                                                                           "created[lte]"),
                         ({"status": "open"}, "status"), ({"starting_after": "pl_live_nosuchlink00000000"},
                                                          "starting_after"),
                         ({"starting_after": "a", "ending_before": "b"}, "ending_before")]:
        assert_invalid(merchant.get("/payment-links", params=query), param)


def test_list_filters(shop, merchant):
    customer = merchant.ok("POST", "/customers", {"email": "c@example.com"})["id"]
    monthly = merchant.recurring_price()["id"]
    plain = make_links(merchant, 3, datetime(2026, 1, 1, tzinfo=UTC))
    for_customer = make_links(merchant, 2, datetime(2026, 2, 1, tzinfo=UTC), customer_id=customer)
    with freeze_time(datetime(2026, 3, 1, tzinfo=UTC)):
        sub = merchant.ok("POST", "/payment-links", {"mode": "subscription", "line_items": items(monthly)})
        setup = merchant.ok("POST", "/payment-links", {"mode": "setup"})
    merchant.ok("DELETE", f"/payment-links/{plain[1]['id']}")

    def found(**query) -> list[str]:
        return [link["id"] for link in all_links(merchant, **query)]

    assert found(is_active="false") == [plain[1]["id"]]
    assert len(found(is_active="true")) == 6
    assert found(mode="subscription") == [sub["id"]]
    assert found(mode="setup") == [setup["id"]]
    assert len(found(mode="payment")) == 5
    assert found(customer_id=customer) == [for_customer[1]["id"], for_customer[0]["id"]]
    assert found(customer_id=shop.customer) == []
    recent = found(**{"created[gte]": "2026-02-01T00:01:00Z"})
    assert set(recent[:2]) == {setup["id"], sub["id"]} and recent[2:] == [for_customer[1]["id"]]
    assert found(**{"created[lte]": "2026-01-01T00:01:00Z"}) == [plain[1]["id"], plain[0]["id"]]
    window = {"created[gte]": str(int(datetime(2026, 1, 1, 0, 1, tzinfo=UTC).timestamp())),
              "created[lte]": "2026-02-01T00:00:00+00:00"}
    assert found(**window) == [for_customer[0]["id"], plain[2]["id"], plain[1]["id"]]
    assert found(mode="payment", is_active="true", customer_id=customer) == [for_customer[1]["id"],
                                                                            for_customer[0]["id"]]
    page = merchant.ok("GET", "/payment-links", params={"mode": "payment", "limit": 2,
                                                        "starting_after": for_customer[0]["id"]})
    assert (ids(page), page["has_more"]) == ([plain[2]["id"], plain[1]["id"]], True)


# ---- changing ---------------------------------------------------------------------------------

def test_patch_changes_the_allowed_fields(shop):
    with freeze_time(datetime(2026, 5, 1, tzinfo=UTC)):
        made = shop.m.ok("POST", "/payment-links", {
            "line_items": items(shop.usd), "return_url": "https://example.com/cart",
            "accepted_payment_methods": ["paypal"], "coupon_id": shop.coupon, "metadata": {"a": 1, "b": 2}})
    path = f"/payment-links/{made['id']}"
    with freeze_time(datetime(2026, 5, 2, tzinfo=UTC)):
        changed = shop.m.ok("PATCH", path, {
            "name": "Renamed", "success_url": "https://example.com/ok", "return_url": None, "coupon_id": None,
            "accepted_payment_methods": ["credit_card", "google_pay"], "metadata": {"c": 3}, "is_active": False})
    assert (changed["name"], changed["success_url"], changed["return_url"], changed["coupon_id"]) == (
        "Renamed", "https://example.com/ok", None, None)
    assert changed["accepted_payment_methods"] == ["credit_card", "google_pay"]
    assert (changed["metadata"], changed["is_active"]) == ({"c": 3}, False)
    assert changed["updated_at"].startswith("2026-05-02") and changed["created_at"] == made["created_at"]
    untouched = {k: v for k, v in made.items() if k not in (
        "name", "success_url", "return_url", "coupon_id", "accepted_payment_methods", "metadata", "is_active",
        "updated_at")}
    assert {k: changed[k] for k in untouched} == untouched
    assert shop.m.ok("GET", path) == changed

    again = shop.m.ok("PATCH", path, {"accepted_payment_methods": None, "is_active": True,
                                      "coupon_id": shop.coupon_usd})
    assert (again["accepted_payment_methods"], again["is_active"], again["coupon_id"]) == (None, True,
                                                                                            shop.coupon_usd)
    assert shop.m.ok("PATCH", path, {}) == again


@pytest.mark.parametrize("field,value", [
    ("mode", "subscription"), ("line_items", []), ("package_ids", ["pkg_x"]), ("customer_id", None),
    ("free_trial_days", 3), ("expires_in_hours", 48), ("allow_cart_edit", True), ("currency", "EUR"),
    ("secure_token", "mine"), ("total_amount_atom", 1), ("active", False),
])
def test_patch_refuses_other_fields(shop, field, value):
    made = shop.m.ok("POST", "/payment-links", {"line_items": items(shop.usd)})
    assert_invalid(shop.m.patch(f"/payment-links/{made['id']}", {"name": "x", field: value}), field)
    assert shop.m.ok("GET", f"/payment-links/{made['id']}") == made


@pytest.mark.parametrize("body,param", [
    (lambda s: {"coupon_id": s.coupon_inactive}, "coupon_id"),
    (lambda s: {"coupon_id": s.coupon_eur}, "coupon_id"),
    (lambda s: {"coupon_id": s.foreign_coupon}, "coupon_id"),
    (lambda s: {"coupon_id": "coupon_live_nosuchcoupon00000"}, "coupon_id"),
    (lambda s: {"success_url": "ftp://example.com"}, "success_url"),
    (lambda s: {"return_url": "/relative"}, "return_url"),
    (lambda s: {"accepted_payment_methods": []}, "accepted_payment_methods"),
    (lambda s: {"accepted_payment_methods": ["paypal", "paypal"]}, "accepted_payment_methods[1]"),
    (lambda s: {"metadata": {f"k{i}": i for i in range(51)}}, "metadata"),
    (lambda s: {"metadata": None}, "metadata"),
    (lambda s: {"name": "n" * 256}, "name"),
    (lambda s: {"is_active": "no"}, "is_active"),
], ids=["inactive coupon", "coupon currency", "foreign coupon", "missing coupon", "success_url", "return_url",
        "no methods", "repeated method", "metadata", "null metadata", "name", "is_active type"])
def test_patch_validates(shop, body, param):
    made = shop.m.ok("POST", "/payment-links", {"line_items": items(shop.usd)})
    assert_invalid(shop.m.patch(f"/payment-links/{made['id']}", body(shop)), param)
    assert shop.m.ok("GET", f"/payment-links/{made['id']}") == made


def test_patch_cannot_put_a_coupon_on_a_setup_link(shop):
    made = shop.m.ok("POST", "/payment-links", {"mode": "setup"})
    assert_invalid(shop.m.patch(f"/payment-links/{made['id']}", {"coupon_id": shop.coupon}), "coupon_id")
    assert shop.m.ok("PATCH", f"/payment-links/{made['id']}", {"coupon_id": None})["coupon_id"] is None


def test_delete_deactivates_and_can_be_repeated(merchant):
    made = make_links(merchant, 1, datetime(2026, 4, 1, tzinfo=UTC))[0]
    with freeze_time(datetime(2026, 4, 2, tzinfo=UTC)):
        gone = merchant.ok("DELETE", f"/payment-links/{made['id']}")
    assert gone["is_active"] is False and gone["updated_at"].startswith("2026-04-02")
    assert {k: v for k, v in gone.items() if k not in ("is_active", "updated_at")} == \
        {k: v for k, v in made.items() if k not in ("is_active", "updated_at")}
    with freeze_time(datetime(2026, 4, 3, tzinfo=UTC)):
        assert merchant.ok("DELETE", f"/payment-links/{made['id']}") == gone
    assert merchant.ok("GET", f"/payment-links/{made['id']}") == gone


def test_missing_link_is_404(merchant):
    for method in ("GET", "PATCH", "DELETE"):
        result = merchant._call(method, "/payment-links/pl_live_nosuchlink00000000",
                                json={} if method == "PATCH" else None)
        assert result.status_code == 404, (method, result.text)
        assert result.json["error"]["code"] == "resource_missing"


# ---- who sees what ----------------------------------------------------------------------------

def test_another_accounts_link_is_404(merchant, other_merchant):
    made = make_links(merchant, 1, datetime(2026, 1, 1, tzinfo=UTC))[0]
    path = f"/payment-links/{made['id']}"
    assert other_merchant.get(path).status_code == 404
    assert other_merchant.patch(path, {"is_active": False}).status_code == 404
    assert other_merchant.delete(path).status_code == 404
    assert all_links(other_merchant) == []
    # Their key on our account's URL: the account itself is not found.
    foreign = other_merchant.client.simulate_get(f"/api/{merchant.account_id}{path}",
                                                 headers={"Authorization": f"Bearer {other_merchant.api_key}"})
    assert foreign.status_code == 404
    assert merchant.ok("GET", path)["is_active"] is True


def test_test_key_cannot_see_live_links(merchant):
    live = make_links(merchant, 1, datetime(2026, 1, 1, tzinfo=UTC))[0]
    test_key = merchant.test_api_key
    assert merchant.get(f"/payment-links/{live['id']}", key=test_key).status_code == 404
    assert merchant.delete(f"/payment-links/{live['id']}", key=test_key).status_code == 404
    assert all_links(merchant, key=test_key) == []
    assert_invalid(merchant.get("/payment-links", params={"starting_after": live["id"]}, key=test_key),
                   "starting_after")
    assert_invalid(merchant.post("/payment-links", {"line_items": items(live["line_items"][0]["price_id"])},
                                 key=test_key), "line_items[0].price_id")
    assert merchant.ok("GET", f"/payment-links/{live['id']}")["is_active"] is True


def test_requests_without_a_key_are_401(merchant):
    result = merchant.client.simulate_get(f"/api/{merchant.account_id}/payment-links")
    assert result.status_code == 401


# ---- idempotency ------------------------------------------------------------------------------

def test_idempotent_create_replays_the_first_response(merchant):
    price = merchant.price()["id"]
    body = {"line_items": items(price), "name": "once"}
    first = merchant.post("/payment-links", body, headers={"Idempotency-Key": "k1"})
    again = merchant.post("/payment-links", body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 200
    assert again.json == first.json and again.headers.get("Idempotent-Replayed") == "true"
    assert len(all_links(merchant)) == 1
    different = merchant.post("/payment-links", {**body, "name": "twice"}, headers={"Idempotency-Key": "k1"})
    assert different.status_code == 409
    assert len(all_links(merchant)) == 1


def test_idempotent_patch_and_delete(merchant):
    made = make_links(merchant, 1, datetime(2026, 1, 1, tzinfo=UTC))[0]
    path = f"/payment-links/{made['id']}"
    first = merchant.patch(path, {"name": "A"}, headers={"Idempotency-Key": "p1"})
    merchant.ok("PATCH", path, {"name": "B"})
    replay = merchant.patch(path, {"name": "A"}, headers={"Idempotency-Key": "p1"})
    assert replay.json == first.json and replay.json["name"] == "A"
    assert merchant.ok("GET", path)["name"] == "B"  # the replay did not write
    assert merchant.patch(path, {"name": "C"}, headers={"Idempotency-Key": "p1"}).status_code == 409

    gone = merchant.delete(path, headers={"Idempotency-Key": "d1"})
    merchant.ok("PATCH", path, {"is_active": True})
    replay = merchant.delete(path, headers={"Idempotency-Key": "d1"})
    assert replay.json == gone.json and replay.json["is_active"] is False
    assert merchant.ok("GET", path)["is_active"] is True


def test_concurrent_creates_with_one_key_make_one_link(merchant):
    price = merchant.price()["id"]
    body = {"line_items": items(price)}
    barrier = threading.Barrier(2)
    results = []

    def send():
        barrier.wait()
        results.append(merchant.post("/payment-links", body, headers={"Idempotency-Key": "race"}))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [r.status_code for r in results] == [200, 200]
    assert results[0].json == results[1].json
    assert [link["id"] for link in all_links(merchant)] == [results[0].json["id"]]


def test_openapi_documents_the_routes(client):
    paths = client.simulate_get("/openapi.json").json["paths"]
    assert set(paths["/api/{account_id}/payment-links"]) == {"get", "post"}
    assert set(paths["/api/{account_id}/payment-links/{link_id}"]) == {"get", "patch", "delete"}
    names = [p["name"] for p in paths["/api/{account_id}/payment-links"]["get"]["parameters"]]
    assert {"is_active", "mode", "customer_id", "created[gte]", "created[lte]", "limit"} <= set(names)


def test_a_link_with_several_independent_mistakes_is_told_them_all(merchant):
    """The first mistake stays in SPEC 5's fields; `errors` lists every independent one, so a form
    can show each next to its field. A check that needs a failed one (the cart's prices) is skipped."""
    eur = merchant.price(currency="EUR")
    usd = merchant.price(currency="USD")
    result = merchant.post("/payment-links", json={
        "line_items": [{"price_id": usd["id"]}, {"price_id": eur["id"]}], "free_trial_days": 7,
        "customer_id": "cus_test_0000000000000000"})
    assert result.status_code == 400
    error = result.json["error"]
    assert [e["param"] for e in error["errors"]] == ["free_trial_days", "line_items[1].price_id", "customer_id"]
    assert (error["param"], error["message"]) == ("free_trial_days", error["errors"][0]["message"])
    assert merchant.ok("GET", "/payment-links")["data"] == []
