"""The catalog API (SPEC section 2): products, prices, packages, coupons and customers."""
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from domain import models

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")
OWNED = {"id", "object", "livemode", "created_at", "updated_at"}
MODELS = {"products": models.Product, "prices": models.Price, "packages": models.Package,
          "coupons": models.Coupon, "customers": models.Customer}


def rejected(result, param, status=400, code=None):
    """Assert the response is an error in the SPEC shape naming `param`; return the error object."""
    assert result.status_code == status, (result.status, result.text)
    assert set(result.json) == {"error"}
    error = result.json["error"]
    # SPEC 5's four fields; `errors` beside them only when several fields were wrong at once
    assert set(error) - {"errors"} == {"type", "code", "message", "param"}
    assert error["param"] == param, error
    if code:
        assert error["code"] == code, error
    return error


def count(uow_factory, model, account_id) -> int:
    with uow_factory() as uow:
        return uow.session.scalar(select(func.count()).select_from(model).where(model.account_id == account_id))


def assert_owned(obj, kind, prefix, livemode=True):
    assert obj["object"] == kind
    assert obj["livemode"] is livemode
    assert re.fullmatch(rf"{prefix}_{'live' if livemode else 'test'}_[0-9A-Za-z]{{16,}}", obj["id"]), obj["id"]
    for field in ("created_at", "updated_at"):
        assert RFC3339_UTC.match(obj[field]), obj[field]


# ---- happy paths: every field, create == retrieve == list entry ------------------------------

def round_trip(merchant, noun, made):
    assert merchant.ok("GET", f"/{noun}/{made['id']}") == made
    listed = merchant.ok("GET", f"/{noun}")
    assert listed["object"] == "list" and listed["has_more"] is False
    assert made in listed["data"]


def test_product(merchant):
    made = merchant.ok("POST", "/products", {"name": "Mug", "description": "Blue", "metadata": {"sku": "M-1"}})
    assert set(made) == OWNED | {"name", "description", "metadata", "active"}
    assert_owned(made, "product", "prod")
    assert (made["name"], made["description"], made["metadata"], made["active"]) == ("Mug", "Blue", {"sku": "M-1"}, True)
    assert made["created_at"] == made["updated_at"]
    round_trip(merchant, "products", made)


def test_product_defaults(merchant):
    made = merchant.ok("POST", "/products", {"name": "Plain"})
    assert (made["description"], made["metadata"]) == (None, {})


def test_one_time_price(merchant):
    product = merchant.product()
    made = merchant.ok("POST", "/prices", {"product_id": product["id"], "unit_amount_atom": 1999, "currency": "USD"})
    assert set(made) == OWNED | {"product_id", "unit_amount_atom", "currency", "type", "interval", "interval_count",
                                 "active"}
    assert_owned(made, "price", "price")
    assert made | {} == {**made, "product_id": product["id"], "unit_amount_atom": 1999, "currency": "USD",
                         "type": "one_time", "interval": None, "interval_count": None, "active": True}
    round_trip(merchant, "prices", made)


def test_free_price(merchant):
    assert merchant.price(amount=0)["unit_amount_atom"] == 0


def test_recurring_price_interval_count_defaults_to_one(merchant):
    made = merchant.recurring_price(4900, interval="year")
    assert (made["type"], made["interval"], made["interval_count"]) == ("recurring", "year", 1)
    made = merchant.recurring_price(4900, interval="week", interval_count=2)
    assert made["interval_count"] == 2
    round_trip(merchant, "prices", made)


def test_package(merchant):
    prices = [merchant.price(1000, "EUR"), merchant.recurring_price(500, "EUR")]
    made = merchant.ok("POST", "/packages", {"name": "Bundle", "price_ids": [p["id"] for p in prices]})
    assert set(made) == OWNED | {"name", "price_ids", "currency", "active"}
    assert_owned(made, "package", "pkg")
    assert (made["name"], made["price_ids"], made["currency"], made["active"]) == (
        "Bundle", [p["id"] for p in prices], "EUR", True)
    round_trip(merchant, "packages", made)


def test_package_of_twenty_prices(merchant):
    product = merchant.product()
    ids = [merchant.price(100 + i, product_id=product["id"])["id"] for i in range(20)]
    assert merchant.ok("POST", "/packages", {"name": "Big", "price_ids": ids})["price_ids"] == ids


def test_percent_coupon(merchant):
    redeem_by = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    made = merchant.ok("POST", "/coupons", {"name": "Launch", "percent_off": 12.5, "duration": "repeating",
                                            "duration_in_months": 3, "max_redemptions": 100,
                                            "redeem_by": redeem_by.isoformat()})
    assert set(made) == OWNED | {"name", "percent_off", "amount_off_atom", "currency", "duration",
                                 "duration_in_months", "max_redemptions", "redeem_by", "times_redeemed", "active"}
    assert_owned(made, "coupon", "coupon")
    assert made | {} == {**made, "name": "Launch", "percent_off": 12.5, "amount_off_atom": None, "currency": None,
                         "duration": "repeating", "duration_in_months": 3, "max_redemptions": 100,
                         "times_redeemed": 0, "active": True}
    assert RFC3339_UTC.match(made["redeem_by"])
    assert datetime.fromisoformat(made["redeem_by"]) == redeem_by
    round_trip(merchant, "coupons", made)


@pytest.mark.parametrize("percent", [100, 0.01, 33.33, 50])
def test_percent_coupon_bounds_accepted(merchant, percent):
    assert merchant.ok("POST", "/coupons", {"name": "c", "percent_off": percent})["percent_off"] == percent


def test_amount_coupon(merchant):
    made = merchant.ok("POST", "/coupons", {"name": "Fiver", "amount_off_atom": 500, "currency": "GBP",
                                            "duration": "forever"})
    assert (made["percent_off"], made["amount_off_atom"], made["currency"], made["duration"]) == (
        None, 500, "GBP", "forever")
    assert (made["duration_in_months"], made["max_redemptions"], made["redeem_by"]) == (None, None, None)
    round_trip(merchant, "coupons", made)


def test_coupon_redeem_by_in_another_zone_is_stored_in_utc(merchant):
    made = merchant.ok("POST", "/coupons", {"name": "c", "percent_off": 5, "redeem_by": "2099-01-01T09:00:00+09:00"})
    assert made["redeem_by"] == "2099-01-01T00:00:00Z"
    assert merchant.ok("GET", f"/coupons/{made['id']}")["redeem_by"] == "2099-01-01T00:00:00Z"


def test_customer(merchant):
    made = merchant.ok("POST", "/customers", {"email": "ada@example.com", "name": "Ada", "metadata": {"tier": "gold"}})
    assert set(made) == OWNED | {"email", "name", "metadata", "test_clock_id"}
    assert made["test_clock_id"] is None
    assert_owned(made, "customer", "cus")
    assert (made["email"], made["name"], made["metadata"]) == ("ada@example.com", "Ada", {"tier": "gold"})
    round_trip(merchant, "customers", made)


def test_test_mode_objects_carry_the_mode(merchant):
    key = merchant.test_api_key
    product = merchant.ok("POST", "/products", {"name": "T"}, key=key)
    assert_owned(product, "product", "prod", livemode=False)
    price = merchant.ok("POST", "/prices", {"product_id": product["id"], "unit_amount_atom": 1, "currency": "USD"},
                        key=key)
    assert_owned(price, "price", "price", livemode=False)
    assert_owned(merchant.ok("POST", "/packages", {"name": "P", "price_ids": [price["id"]]}, key=key),
                 "package", "pkg", livemode=False)
    assert_owned(merchant.ok("POST", "/coupons", {"name": "C", "percent_off": 5}, key=key),
                 "coupon", "coupon", livemode=False)
    assert_owned(merchant.ok("POST", "/customers", {"email": "t@example.com"}, key=key),
                 "customer", "cus", livemode=False)


def test_timestamps_are_utc_whatever_the_database_session_zone(settings, deps, merchant):
    """The database may hand times back in its own zone; the API still speaks UTC."""
    from dataclasses import replace

    from falcon import testing
    from sqlalchemy import create_engine

    from api.app import create_app
    from domain.db import sqlalchemy_url
    from domain.link_reader import LinkReader

    engine = create_engine(sqlalchemy_url(settings.database_url),
                           connect_args={"options": "-c TimeZone=Asia/Kolkata"})
    try:
        client = testing.TestClient(create_app(settings, replace(deps, engine=engine, links=LinkReader(engine))))
        made = merchant.product()
        coupon = merchant.ok("POST", "/coupons", {"name": "c", "percent_off": 5, "redeem_by": "2099-01-01T00:00:00Z"})
        auth = {"Authorization": f"Bearer {merchant.api_key}"}
        product = client.simulate_get(f"/api/{merchant.account_id}/products/{made['id']}", headers=auth).json
        assert product == made
        assert client.simulate_get(f"/api/{merchant.account_id}/coupons/{coupon['id']}",
                                   headers=auth).json["redeem_by"] == "2099-01-01T00:00:00Z"
    finally:
        engine.dispose()


# ---- field rules: 400 naming the param, and nothing changes -----------------------------------

def test_price_rules(merchant, other_merchant, uow_factory):
    product = merchant.product()["id"]
    base = {"product_id": product, "unit_amount_atom": 1000, "currency": "USD"}
    recurring = {**base, "type": "recurring", "interval": "month"}
    inactive = merchant.product()["id"]
    merchant.ok("PATCH", f"/products/{inactive}", {"active": False})
    cases = [
        ({**base, "unit_amount_atom": -1}, "unit_amount_atom"),
        ({**base, "unit_amount_atom": 10.5}, "unit_amount_atom"),
        ({**base, "unit_amount_atom": 10.25}, "unit_amount_atom"),  # 10.0 is the integer 10, as in JSON Schema
        ({**base, "unit_amount_atom": "10"}, "unit_amount_atom"),
        ({**base, "unit_amount_atom": True}, "unit_amount_atom"),
        ({**base, "unit_amount_atom": None}, "unit_amount_atom"),
        ({**base, "unit_amount_atom": 10**20}, "unit_amount_atom"),
        ({k: v for k, v in base.items() if k != "unit_amount_atom"}, "unit_amount_atom"),
        ({**base, "currency": "XYZ"}, "currency"),
        ({**base, "currency": "usd"}, "currency"),
        ({**base, "currency": "US"}, "currency"),
        ({**base, "currency": 840}, "currency"),
        ({k: v for k, v in base.items() if k != "currency"}, "currency"),
        ({**base, "type": "metered"}, "type"),
        ({**base, "type": "recurring"}, "interval"),
        ({**recurring, "interval": "fortnight"}, "interval"),
        ({**recurring, "interval_count": 0}, "interval_count"),
        ({**recurring, "interval_count": 13}, "interval_count"),
        ({**recurring, "interval": "day", "interval_count": 366}, "interval_count"),
        ({**recurring, "interval_count": 1.5}, "interval_count"),
        ({**base, "interval": "month"}, "interval"),
        ({**base, "interval_count": 1}, "interval_count"),
        ({**base, "product_id": other_merchant.product()["id"]}, "product_id"),
        ({**base, "product_id": "prod_live_doesnotexist00000"}, "product_id"),
        ({**base, "product_id": inactive}, "product_id"),
        ({**base, "product_id": 7}, "product_id"),
        ({k: v for k, v in base.items() if k != "product_id"}, "product_id"),
        ({**base, "nickname": "x"}, "nickname"),
    ]
    before = count(uow_factory, models.Price, merchant.account_id)
    for body, param in cases:
        rejected(merchant.post("/prices", json=body), param)
    assert count(uow_factory, models.Price, merchant.account_id) == before


def test_price_on_another_accounts_product_does_not_confirm_it_exists(merchant, other_merchant):
    theirs = other_merchant.product()["id"]
    body = {"product_id": theirs, "unit_amount_atom": 1, "currency": "USD"}
    unknown = {**body, "product_id": "prod_live_doesnotexist00000"}
    error = rejected(merchant.post("/prices", json=body), "product_id", code="resource_missing")
    other = rejected(merchant.post("/prices", json=unknown), "product_id", code="resource_missing")
    assert error["message"].replace(theirs, "ID") == other["message"].replace(unknown["product_id"], "ID")


def test_package_rules(merchant, other_merchant, uow_factory):
    usd = [merchant.price(100, "USD")["id"] for _ in range(2)]
    eur = merchant.price(100, "EUR")["id"]
    inactive = merchant.price(100, "USD")["id"]
    merchant.ok("PATCH", f"/prices/{inactive}", {"active": False})
    product = merchant.product()["id"]
    twenty_one = [merchant.price(1, product_id=product)["id"] for _ in range(21)]
    test_mode = merchant.ok("POST", "/prices", {"product_id": merchant.ok(
        "POST", "/products", {"name": "t"}, key=merchant.test_api_key)["id"], "unit_amount_atom": 1,
        "currency": "USD"}, key=merchant.test_api_key)["id"]
    cases = [
        ({"name": "P", "price_ids": []}, "price_ids"),
        ({"name": "P", "price_ids": twenty_one}, "price_ids"),
        ({"name": "P", "price_ids": [usd[0], usd[1], usd[0]]}, "price_ids[2]"),
        ({"name": "P", "price_ids": [usd[0], eur]}, "price_ids[1]"),
        ({"name": "P", "price_ids": [eur, usd[0]]}, "price_ids[1]"),
        ({"name": "P", "price_ids": [usd[0], inactive]}, "price_ids[1]"),
        ({"name": "P", "price_ids": [usd[0], usd[1], "price_live_nope0000000000000"]}, "price_ids[2]"),
        ({"name": "P", "price_ids": [other_merchant.price()["id"]]}, "price_ids[0]"),
        ({"name": "P", "price_ids": [usd[0], test_mode]}, "price_ids[1]"),
        ({"name": "P", "price_ids": [usd[0], 5]}, "price_ids[1]"),
        ({"name": "P", "price_ids": usd[0]}, "price_ids"),
        ({"name": "P"}, "price_ids"),
        ({"name": "", "price_ids": usd}, "name"),
        ({"name": "x" * 256, "price_ids": usd}, "name"),
        ({"price_ids": usd}, "name"),
    ]
    before = count(uow_factory, models.Package, merchant.account_id)
    for body, param in cases:
        rejected(merchant.post("/packages", json=body), param)
    assert count(uow_factory, models.Package, merchant.account_id) == before


def test_coupon_rules(merchant, uow_factory):
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    cases = [
        ({"name": "c", "percent_off": 0}, "percent_off"),
        ({"name": "c", "percent_off": -1}, "percent_off"),
        ({"name": "c", "percent_off": 100.01}, "percent_off"),
        ({"name": "c", "percent_off": 12.345}, "percent_off"),
        ({"name": "c", "percent_off": "10"}, "percent_off"),
        ({"name": "c"}, "percent_off"),
        ({"name": "c", "percent_off": 10, "amount_off_atom": 100, "currency": "USD"}, "percent_off"),
        ({"name": "c", "percent_off": 10, "currency": "USD"}, "currency"),
        ({"name": "c", "amount_off_atom": 100}, "currency"),
        ({"name": "c", "amount_off_atom": 100, "currency": "ABC"}, "currency"),
        ({"name": "c", "amount_off_atom": 0, "currency": "USD"}, "amount_off_atom"),
        ({"name": "c", "amount_off_atom": 1.5, "currency": "USD"}, "amount_off_atom"),
        ({"name": "c", "percent_off": 10, "duration": "repeating"}, "duration_in_months"),
        ({"name": "c", "percent_off": 10, "duration": "repeating", "duration_in_months": 0}, "duration_in_months"),
        ({"name": "c", "percent_off": 10, "duration_in_months": 3}, "duration_in_months"),
        ({"name": "c", "percent_off": 10, "duration": "weekly"}, "duration"),
        ({"name": "c", "percent_off": 10, "redeem_by": past}, "redeem_by"),
        ({"name": "c", "percent_off": 10, "redeem_by": "2099-01-01T00:00:00"}, "redeem_by"),
        ({"name": "c", "percent_off": 10, "redeem_by": "next week"}, "redeem_by"),
        ({"name": "c", "percent_off": 10, "max_redemptions": 0}, "max_redemptions"),
        ({"name": "c", "percent_off": 10, "max_redemptions": -3}, "max_redemptions"),
        ({"percent_off": 10}, "name"),
        ({"name": "c", "percent_off": 10, "times_redeemed": 5}, "times_redeemed"),
    ]
    before = count(uow_factory, models.Coupon, merchant.account_id)
    for body, param in cases:
        rejected(merchant.post("/coupons", json=body), param)
    assert count(uow_factory, models.Coupon, merchant.account_id) == before


def test_customer_rules(merchant, uow_factory):
    cases = [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"email": "a b@example.com"}, "email"),
        ({"email": "a@example.com\n"}, "email"),
        ({"email": ""}, "email"),
        ({"email": "a" * 600 + "@example.com"}, "email"),
        ({}, "email"),
        ({"email": "a@example.com", "name": "x" * 256}, "name"),
        ({"email": "a@example.com", "phone": "555"}, "phone"),
    ]
    before = count(uow_factory, models.Customer, merchant.account_id)
    for body, param in cases:
        rejected(merchant.post("/customers", json=body), param)
    assert count(uow_factory, models.Customer, merchant.account_id) == before


@pytest.mark.parametrize("noun, base", [("products", {"name": "p"}), ("customers", {"email": "m@example.com"})])
def test_metadata_rules(merchant, uow_factory, noun, base):
    cases = [
        {f"k{i}": "v" for i in range(51)},
        {"k" * 41: "v"},
        {"k": "v" * (8 * 1024)},
        {"k": "nul\u0000"},
        ["not", "an", "object"],
        "text",
    ]
    before = count(uow_factory, MODELS[noun], merchant.account_id)
    for metadata in cases:
        result = merchant.post(f"/{noun}", json={**base, "metadata": metadata})
        assert result.status_code == 400, result.text
        param = result.json["error"]["param"]
        assert param == "metadata" or param.startswith("metadata."), param
    assert merchant.post(f"/{noun}", json={**base, "metadata": {"k" * 41: "v"}}).json["error"]["param"] == (
        "metadata." + "k" * 40)
    assert merchant.post(f"/{noun}", json={**base, "metadata": {"": "v"}}).json["error"]["param"] == "metadata"
    assert count(uow_factory, MODELS[noun], merchant.account_id) == before
    at_limits = {f"k{i:02d}": "v" for i in range(49)} | {"k" * 40: {"nested": [1, 2.5, None, True]}}
    assert merchant.ok("POST", f"/{noun}", {**base, "metadata": at_limits})["metadata"] == at_limits


def test_product_rules(merchant, uow_factory):
    cases = [({}, "name"), ({"name": ""}, "name"), ({"name": "   "}, "name"), ({"name": "x" * 256}, "name"),
             ({"name": "a\u0000b"}, "name"), ({"name": 5}, "name"), ({"name": "p", "description": "d" * 5001},
                                                                      "description"),
             ({"name": "p", "active": False}, "active"), ({"name": "p", "id": "prod_live_mine"}, "id")]
    before = count(uow_factory, models.Product, merchant.account_id)
    for body, param in cases:
        rejected(merchant.post("/products", json=body), param)
    assert count(uow_factory, models.Product, merchant.account_id) == before


# ---- PATCH {"active": ...} ------------------------------------------------------------------

def make_one(merchant, noun):
    if noun == "products":
        return merchant.product()
    if noun == "prices":
        return merchant.price()
    if noun == "packages":
        return merchant.ok("POST", "/packages", {"name": "P", "price_ids": [merchant.price()["id"]]})
    return merchant.ok("POST", "/coupons", {"name": "C", "percent_off": 10})


@pytest.mark.parametrize("noun", ["products", "prices", "packages", "coupons"])
def test_deactivate_is_repeatable_and_reversible(merchant, noun):
    made = make_one(merchant, noun)
    off = merchant.ok("PATCH", f"/{noun}/{made['id']}", {"active": False})
    assert off["active"] is False
    assert off["updated_at"] > made["updated_at"]
    assert off == {**made, "active": False, "updated_at": off["updated_at"]}
    again = merchant.ok("PATCH", f"/{noun}/{made['id']}", {"active": False})
    assert again == off
    assert merchant.ok("GET", f"/{noun}/{made['id']}") == off
    assert merchant.ok("PATCH", f"/{noun}/{made['id']}", {"active": True})["active"] is True


def test_patch_of_a_price_accepts_only_active(merchant):
    made = make_one(merchant, "prices")
    path = f"/prices/{made['id']}"
    rejected(merchant.patch(path, json={"active": False, "name": "new"}), "name")
    rejected(merchant.patch(path, json={"unit_amount_atom": 1}), "unit_amount_atom")  # an amount never changes
    rejected(merchant.patch(path, json={}), "active")
    rejected(merchant.patch(path, json={"active": "false"}), "active")
    rejected(merchant.patch(path, json={"active": None}), "active")
    assert merchant.ok("GET", path) == made


@pytest.mark.parametrize("noun, fixed", [("products", "type"), ("packages", "price_ids"),
                                         ("coupons", "percent_off")])
def test_patch_changes_names_but_nothing_a_link_sells_by(merchant, noun, fixed):
    made = make_one(merchant, noun)
    path = f"/{noun}/{made['id']}"
    rejected(merchant.patch(path, json={"name": "new", fixed: made.get(fixed, "x")}), fixed)
    rejected(merchant.patch(path, json={"name": ""}), "name")
    rejected(merchant.patch(path, json={"name": None}), "name")
    rejected(merchant.patch(path, json={"active": "false"}), "active")
    assert merchant.ok("GET", path) == made
    assert merchant.ok("PATCH", path, {}) == made  # nothing given, nothing changed
    renamed = merchant.ok("PATCH", path, {"name": "Renamed", "active": False})
    assert (renamed["name"], renamed["active"]) == ("Renamed", False)
    assert renamed["updated_at"] > made["updated_at"]
    assert merchant.ok("GET", path) == renamed


def test_patch_of_a_product_changes_its_description_and_metadata(merchant):
    made = make_one(merchant, "products")
    path = f"/products/{made['id']}"
    changed = merchant.ok("PATCH", path, {"description": "Roasted weekly", "metadata": {"sku": "T-1"}})
    assert (changed["description"], changed["metadata"]) == ("Roasted weekly", {"sku": "T-1"})
    assert merchant.ok("PATCH", path, {"description": None})["description"] is None
    rejected(merchant.patch(path, json={"metadata": {"k" * 41: 1}}), "metadata." + "k" * 40)


def test_several_bad_fields_are_reported_together(merchant):
    """The first stays in SPEC 5's fields; `errors` lists every one (an extension)."""
    result = merchant.post("/coupons", json={"name": " ", "percent_off": 20, "duration": "repeating",
                                             "max_redemptions": 1, "redeem_by": "2001-01-01T00:00:00Z"})
    error = rejected(result, "name")
    assert [e["param"] for e in error["errors"]] == ["name", "duration_in_months", "redeem_by"]
    assert all(e["message"] and e["code"] for e in error["errors"])
    single = rejected(merchant.post("/coupons", json={"name": " ", "percent_off": 20}), "name")
    assert "errors" not in single


@pytest.mark.parametrize("noun", ["products", "prices", "packages", "coupons"])
def test_patch_someone_elses_object_is_404(merchant, other_merchant, noun):
    theirs = make_one(other_merchant, noun)
    rejected(merchant.patch(f"/{noun}/{theirs['id']}", json={"active": False}), None, 404, "resource_missing")
    rejected(merchant.patch(f"/{noun}/{theirs['id']}", json={"active": False}, key=merchant.test_api_key),
             None, 404)
    assert other_merchant.ok("GET", f"/{noun}/{theirs['id']}")["active"] is True


def test_customers_have_no_patch(merchant):
    made = merchant.ok("POST", "/customers", {"email": "a@example.com"})
    result = merchant.patch(f"/customers/{made['id']}", json={"active": False})
    rejected(result, None, 405)
    assert "PATCH" not in result.headers["allow"]


def test_no_delete_or_put_on_catalog(merchant):
    made = merchant.product()
    for method in ("DELETE", "PUT"):
        rejected(merchant._call(method, f"/products/{made['id']}", json={}), None, 405)
    rejected(merchant.patch("/products", json={"active": False}), None, 405)


# ---- retrieve --------------------------------------------------------------------------------

@pytest.mark.parametrize("noun, prefix", [("products", "prod"), ("prices", "price"), ("packages", "pkg"),
                                          ("coupons", "coupon"), ("customers", "cus")])
def test_retrieve_unknown_is_404(merchant, noun, prefix):
    error = rejected(merchant.get(f"/{noun}/{prefix}_live_doesnotexist000000"), None, 404, "resource_missing")
    assert f"{prefix}_live_doesnotexist000000" in error["message"]


# ---- list ------------------------------------------------------------------------------------

def ids(result) -> list[str]:
    return [obj["id"] for obj in result["data"]]


def test_list_newest_first_with_cursors(merchant):
    made = [merchant.product(f"p{i}")["id"] for i in range(5)]
    newest = made[::-1]
    assert ids(merchant.ok("GET", "/products")) == newest

    first = merchant.ok("GET", "/products", params={"limit": 2})
    assert (ids(first), first["has_more"]) == (newest[0:2], True)
    second = merchant.ok("GET", "/products", params={"limit": 2, "starting_after": newest[1]})
    assert (ids(second), second["has_more"]) == (newest[2:4], True)
    last = merchant.ok("GET", "/products", params={"limit": 2, "starting_after": newest[3]})
    assert (ids(last), last["has_more"]) == (newest[4:5], False)

    back = merchant.ok("GET", "/products", params={"limit": 2, "ending_before": newest[4]})
    assert (ids(back), back["has_more"]) == (newest[2:4], True)
    back = merchant.ok("GET", "/products", params={"limit": 2, "ending_before": newest[2]})
    assert (ids(back), back["has_more"]) == (newest[0:2], False)
    assert ids(merchant.ok("GET", "/products", params={"ending_before": newest[0]})) == []
    assert merchant.ok("GET", "/products", params={"starting_after": newest[4]})["has_more"] is False


def test_list_limit_bounds(merchant):
    for _ in range(3):
        merchant.product()
    assert len(merchant.ok("GET", "/products", params={"limit": 1})["data"]) == 1
    assert len(merchant.ok("GET", "/products", params={"limit": 100})["data"]) == 3
    for bad in ("0", "101", "abc", "-1", "1.5", ""):
        if bad == "":
            continue  # a blank value is the same as leaving it out
        rejected(merchant.get("/products", params={"limit": bad}), "limit")
    rejected(merchant.get("/products", query_string="limit=1&limit=2"), "limit")


def test_list_default_limit_is_ten(merchant):
    for i in range(11):
        merchant.ok("POST", "/customers", {"email": f"c{i}@example.com"})
    page = merchant.ok("GET", "/customers")
    assert (len(page["data"]), page["has_more"]) == (10, True)


def test_list_cursor_errors(merchant, other_merchant):
    mine = merchant.product()["id"]
    theirs = other_merchant.product()["id"]
    rejected(merchant.get("/products", params={"starting_after": "prod_live_nope00000000000000"}), "starting_after",
             code="resource_missing")
    rejected(merchant.get("/products", params={"ending_before": "prod_live_nope00000000000000"}), "ending_before")
    rejected(merchant.get("/products", params={"starting_after": theirs}), "starting_after")
    rejected(merchant.get("/products", params={"starting_after": mine}, key=merchant.test_api_key),
             "starting_after")
    rejected(merchant.get("/products", params={"starting_after": mine, "ending_before": mine}), "ending_before")


def test_list_unknown_query_parameter(merchant):
    error = rejected(merchant.get("/products", params={"colour": "red"}), "colour", code="parameter_unknown")
    assert "colour" in error["message"]
    rejected(merchant.get("/coupons", params={"active": "true"}), "active")


@pytest.mark.parametrize("noun", ["products", "prices", "packages", "coupons", "customers"])
def test_list_shows_only_own_objects_of_own_mode(merchant, other_merchant, noun):
    def make(m, key=None):
        key = key or m.api_key
        if noun == "customers":
            return m.ok("POST", "/customers", {"email": "x@example.com"}, key=key)
        if noun == "coupons":
            return m.ok("POST", "/coupons", {"name": "c", "percent_off": 1}, key=key)
        product = m.ok("POST", "/products", {"name": "p"}, key=key)
        if noun == "products":
            return product
        price = m.ok("POST", "/prices", {"product_id": product["id"], "unit_amount_atom": 1, "currency": "USD"},
                     key=key)
        if noun == "prices":
            return price
        return m.ok("POST", "/packages", {"name": "k", "price_ids": [price["id"]]}, key=key)

    live = make(merchant)
    test = make(merchant, merchant.test_api_key)
    make(other_merchant)
    assert ids(merchant.ok("GET", f"/{noun}")) == [live["id"]]
    assert ids(merchant.ok("GET", f"/{noun}", key=merchant.test_api_key)) == [test["id"]]
