"""Property-based tests (Hypothesis) over the create-link body and the list query: whatever JSON
shape or value a client sends, the answer is a 200 or a 400 in the SPEC's error shape naming a
field that is really there (or really required) - never a 5xx, never a nameless field error."""
from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import payment_links
from tests.hostile.conftest import assert_error

CREATE_FIELDS = ("name", "mode", "line_items", "package_ids", "customer_id", "coupon_id", "free_trial_days",
                 "success_url", "return_url", "expires_in_hours", "allow_cart_edit", "accepted_payment_methods",
                 "metadata")
LIST_PARAMS = ("limit", "starting_after", "ending_before", "is_active", "mode", "customer_id", "created[gte]",
               "created[lte]")
PROPERTY_SETTINGS = settings(max_examples=120, deadline=None, database=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

leaf = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-2 ** 80, max_value=2 ** 80)
        | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
any_json = st.recursive(leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                          max_size=3), max_leaves=6)
integers = st.integers(min_value=-3, max_value=1000) | st.integers(min_value=-2 ** 70, max_value=2 ** 70)
urls = st.sampled_from(["https://shop.example/thanks", "http://shop.example/{CHECKOUT_SESSION_ID}", "ftp://x.example",
                        "javascript:alert(1)", "https://", "/relative", "https://a.example/" + "x" * 2100,
                        "https://a.example/\u0000", "https://exa mple.com"]) | st.text(max_size=40)


@pytest.fixture
def catalog(merchant, other_merchant) -> dict[str, list[str]]:
    """Ids a fuzzed body may name: good ones, of other kinds, of another account and of test mode."""
    usd = merchant.price(1000, "USD")
    eur = merchant.price(900, "EUR")
    monthly = merchant.recurring_price(2000, "USD")
    package = merchant.ok("POST", "/packages", {"name": "Kit", "price_ids": [usd["id"]]})
    customer = merchant.ok("POST", "/customers", {"email": "a@b.example"})
    coupon = merchant.ok("POST", "/coupons", {"name": "Ten", "percent_off": 10})
    foreign = other_merchant.price(1000, "USD")
    test_mode = merchant.ok("POST", "/products", {"name": "T"}, key=merchant.test_api_key)
    return {"prices": [usd["id"], eur["id"], monthly["id"], foreign["id"], package["id"]],
            "packages": [package["id"], usd["id"]], "customers": [customer["id"], foreign["id"], test_mode["id"]],
            "coupons": [coupon["id"], customer["id"]]}


def ids(known: list[str]):
    return st.sampled_from(known) | st.text(max_size=70)


def field_values(catalog) -> dict:
    line_item = st.fixed_dictionaries({}, optional={
        "price_id": ids(catalog["prices"]), "quantity": integers, "description": st.text(max_size=520)})
    plausible = {
        "name": st.text(max_size=300),
        "mode": st.sampled_from([*payment_links.MODES, "PAYMENT", ""]),
        "line_items": st.lists(line_item | any_json, max_size=22),
        "package_ids": st.lists(ids(catalog["packages"]), max_size=22),
        "customer_id": ids(catalog["customers"]),
        "coupon_id": ids(catalog["coupons"]),
        "free_trial_days": integers,
        "success_url": urls,
        "return_url": urls,
        "expires_in_hours": integers,
        "allow_cart_edit": st.booleans(),
        "accepted_payment_methods": st.lists(st.sampled_from([*payment_links.PAYMENT_METHODS, "cash"]), max_size=10),
        "metadata": st.dictionaries(st.text(max_size=45), any_json, max_size=55),
    }
    return {name: strategy | any_json for name, strategy in plausible.items()}


def root_of(param: str) -> str:
    return re.split(r"[.\[]", param, maxsplit=1)[0]


@PROPERTY_SETTINGS
@given(data=st.data())
def test_any_create_link_body_is_a_200_or_a_400_naming_a_real_field(merchant, catalog, data):
    values = field_values(catalog)
    body = data.draw(st.fixed_dictionaries({}, optional=values), label="body")
    body.update(data.draw(st.dictionaries(st.text(max_size=12), any_json, max_size=2), label="unknown fields"))
    result = merchant.post("/payment-links", json=body)
    if result.status_code == 200:
        made = result.json
        assert made["object"] == "payment_link" and made["livemode"] is True
        assert made["name"] == body.get("name") and made["metadata"] == (body.get("metadata") or {})
        assert made["mode"] == body.get("mode", "payment")
        assert made["expires_in_hours"] == body.get("expires_in_hours", 24)
        if not made["package_ids"]:
            assert made["total_amount_atom"] == sum(item["amount_atom"] for item in made["line_items"])
        return
    error = assert_error(result, 400)
    assert error["param"] is not None, error
    # The field named is one the body has (or one a rule needs), never a made-up place.
    # An unknown field is named whole (its name may itself hold "[" or ".").
    for each in error.get("errors", [error]):  # every field error names a real place too
        assert each["param"] in body or root_of(each["param"]) in set(body) | set(CREATE_FIELDS), (each, sorted(body))


@PROPERTY_SETTINGS
@given(raw=st.binary(max_size=300) | st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")))
def test_any_bytes_as_a_body_are_a_4xx(merchant, raw):
    result = merchant.post("/payment-links", body=raw, headers={"Content-Type": "application/json"})
    assert 400 <= result.status_code < 500, (result.status, result.text[:300])
    assert_error(result, result.status_code)


query_values = (st.text(max_size=30) | st.sampled_from(["10", "0", "101", "-1", "99999999999999", "true", "false",
                                                         "payment", "2026-01-01T00:00:00Z", "2026-01-01", "1700000000",
                                                         "9999-12-31T23:59:59-14:00", "", "\u0000"])
                | integers.map(str))


@pytest.fixture
def listed_links(merchant, catalog) -> list[str]:
    price = catalog["prices"][0]
    return [merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": price}]})["id"] for _ in range(3)]


@PROPERTY_SETTINGS
@given(params=st.lists(st.tuples(st.sampled_from(LIST_PARAMS) | st.text(max_size=10), query_values), max_size=5))
def test_any_list_query_is_a_200_or_a_400_naming_a_parameter_it_has(merchant, listed_links, params):
    query = urlencode(params)
    result = merchant.get("/payment-links", query_string=query)
    if result.status_code == 200:
        page = result.json
        assert page["object"] == "list" and isinstance(page["has_more"], bool)
        assert {link["id"] for link in page["data"]} <= set(listed_links)
        limit = dict(params).get("limit")
        assert len(page["data"]) <= (int(limit) if limit else 10)
        return
    error = assert_error(result, 400)
    assert error["param"] in {name for name, _ in params}, (error, params)


@PROPERTY_SETTINGS
@given(raw=st.text(max_size=80))
def test_any_raw_query_string_is_a_200_or_a_400(merchant, listed_links, raw):
    result = merchant.get("/payment-links", query_string=raw.lstrip("?"))
    assert result.status_code in (200, 400), (result.status, result.text[:300])
    if result.status_code == 400:
        assert assert_error(result, 400)["param"] is not None
