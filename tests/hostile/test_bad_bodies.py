"""Bodies and paths that a careless or hostile client sends: each is a 4xx that names the place
(never a 500 from the database or the JSON layer), and nothing is written."""
from __future__ import annotations

import json

import pytest

from tests.hostile.conftest import assert_error

MIB = 1024 * 1024


def post(merchant, path: str, raw: bytes):
    return merchant.post(path, body=raw, headers={"Content-Type": "application/json"})


def test_a_2_mib_body_is_413(merchant):
    raw = json.dumps({"name": "x" * (2 * MIB)}).encode()
    assert_error(post(merchant, "/payment-links", raw), 413, "body_too_large")


@pytest.mark.parametrize("kind", ["array", "object"])
@pytest.mark.parametrize("depth", [6, 100, 5000])
def test_deeply_nested_metadata_is_400_naming_metadata(merchant, link_body, kind, depth):
    opening, closing = ("[", "]") if kind == "array" else ('{"k":', "}")
    deep = opening * depth + "1" + closing * depth
    raw = json.dumps({**link_body, "metadata": "HERE"}).replace('"HERE"', '{"deep": %s}' % deep).encode()
    assert_error(post(merchant, "/payment-links", raw), 400, param="metadata")


def test_metadata_five_deep_is_fine(merchant, link_body):
    metadata = {"a": {"b": [{"c": [1]}]}}
    assert merchant.post("/payment-links", json={**link_body, "metadata": metadata}).json["metadata"] == metadata


@pytest.mark.parametrize("depth", [100, 5000])
def test_deep_nesting_anywhere_is_a_4xx(merchant, depth):
    raw = ("[" * depth + "]" * depth).encode()
    result = post(merchant, "/products", raw)
    assert 400 <= result.status_code < 500, result.status


@pytest.mark.parametrize("raw", [b'{"name": "caf\xe9"}', b'{"name": "\xed\xa0\x80"}', b'\xef\xbb\xbf{"name": "x"}',
                                 b'{"name": "x\xc3"}', b"\xff\xfe{\x00}\x00"])
def test_not_utf8_is_400(merchant, raw):
    assert_error(post(merchant, "/products", raw), 400)


@pytest.mark.parametrize("field, value", [
    ("name", "Mug\u0000"), ("success_url", "https://shop.example/\u0000"), ("return_url", "https://a.example/\u0000x"),
    ("customer_id", "cus_\u0000"), ("coupon_id", "coupon_live_\u0000"),
])
def test_nul_in_a_link_string_is_400_naming_it(merchant, link_body, field, value):
    assert_error(post(merchant, "/payment-links", json.dumps({**link_body, field: value}).encode()), 400, param=field)


def test_nul_in_a_line_item_is_400_naming_it(merchant, link_body):
    body = {**link_body, "line_items": [{**link_body["line_items"][0], "description": "a\u0000b"}]}
    assert_error(post(merchant, "/payment-links", json.dumps(body).encode()), 400, param="line_items[0].description")
    body = {**link_body, "line_items": [link_body["line_items"][0], {"price_id": "price_\u0000"}]}
    assert_error(post(merchant, "/payment-links", json.dumps(body).encode()), 400, param="line_items[1].price_id")


def test_nul_in_metadata_key_or_value_is_400_naming_metadata(merchant, link_body):
    for metadata in ({"a": "x\u0000"}, {"k\u0000": "v"}, {"a": ["ok", {"b": "\u0000"}]}):
        result = post(merchant, "/payment-links", json.dumps({**link_body, "metadata": metadata}).encode())
        assert_error(result, 400, param="metadata")


@pytest.mark.parametrize("path, body, param", [
    ("/products", {"name": "\u0000"}, "name"),
    ("/products", {"name": "ok", "description": "\u0000"}, "description"),
    ("/customers", {"email": "a\u0000@b.example"}, "email"),
    ("/customers", {"email": "a@b.example", "name": "\u0000"}, "name"),
    ("/packages", {"name": "p", "price_ids": ["price_\u0000"]}, "price_ids[0]"),
    ("/coupons", {"name": "\u0000", "percent_off": 10}, "name"),
    ("/coupons", {"name": "c", "amount_off_atom": 5, "currency": "US\u0000"}, "currency"),
    ("/prices", {"product_id": "prod_\u0000", "unit_amount_atom": 5, "currency": "USD"}, "product_id"),
])
def test_nul_in_a_catalog_string_is_400_naming_it(merchant, path, body, param):
    assert_error(post(merchant, path, json.dumps(body).encode()), 400, param=param)


@pytest.mark.parametrize("value", ['"1000"', "1000.5", "1e-3", "true", "null", "[1000]", '{"v": 1}',
                                   str(2 ** 70), str(-2 ** 70), str(2 ** 63), "99999999999999999999999999", "1e400"])
def test_money_must_be_an_integer_in_range(merchant, value):
    product = merchant.product()
    raw = ('{"product_id": "%s", "unit_amount_atom": %s, "currency": "USD"}' % (product["id"], value)).encode()
    assert_error(post(merchant, "/prices", raw), 400, param="unit_amount_atom")


@pytest.mark.parametrize("value", ["1000.0", "1e3", "1000.000", "10E2"])
def test_a_whole_number_is_an_integer_however_it_is_written(merchant, value):
    """As in JSON Schema (so in /openapi.json): 1000.0 and 1e3 are the integer 1000, not a float."""
    product = merchant.product()
    raw = ('{"product_id": "%s", "unit_amount_atom": %s, "currency": "USD"}' % (product["id"], value)).encode()
    result = post(merchant, "/prices", raw)
    assert result.status_code == 200, result.text
    assert result.json["unit_amount_atom"] == 1000 and '"unit_amount_atom":1000,' in result.text


@pytest.mark.parametrize("value", ['"1"', "1e3", "1.5", "2.5", str(2 ** 70), "0", "1000", "-1"])
def test_quantity_must_be_an_integer_from_1_to_999(merchant, link_body, value):
    raw = json.dumps(link_body).replace('"quantity": 1', f'"quantity": {value}').encode()
    assert_error(post(merchant, "/payment-links", raw), 400, param="line_items[0].quantity")


@pytest.mark.parametrize("field", ["expires_in_hours", "free_trial_days"])
@pytest.mark.parametrize("value", [str(2 ** 70), '"24"', "24.5", "1e3"])
def test_other_integers_are_checked_too(merchant, link_body, field, value):
    raw = (json.dumps(link_body)[:-1] + f', "{field}": {value}}}').encode()
    assert_error(post(merchant, "/payment-links", raw), 400, param=field)


@pytest.mark.parametrize("field, value", [("max_redemptions", str(2 ** 70)), ("percent_off", "1e400"),
                                          ("percent_off", '"10"'), ("duration_in_months", str(2 ** 64))])
def test_coupon_numbers(merchant, field, value):
    raw = ('{"name": "c", "duration": "repeating", "percent_off": 10, "%s": %s}' % (field, value)).encode()
    raw = raw.replace(b'"percent_off": 10, "percent_off"', b'"percent_off"')
    assert_error(post(merchant, "/coupons", raw), 400, param=field)


@pytest.mark.parametrize("path", ["/payment-links/pl_live_%00", "/payment-links/%00", "/products/prod_%00x",
                                  "/checkout-sessions/cs_%00", "/payment-links/" + "x" * 5000,
                                  "/payment-links/%FF%FE", "/payment-links/%C0%AF"])
def test_hostile_ids_in_paths_are_404(merchant, path):
    result = merchant.get(path)
    assert result.status_code in (400, 404), (result.status, result.text)
    assert_error(result, result.status_code)


@pytest.mark.parametrize("token", ["%00", "abc%00def", "x" * 5000, "%FF", "..%2F..%2Fetc%2Fpasswd"])
def test_hostile_share_tokens_are_the_generic_404(client, token):
    result = client.simulate_get(f"/api/pay/share/{token}", headers={"Accept": "application/json"},
                                 remote_addr="198.19.99.1")
    assert result.status_code == 404, (result.status, result.text)


@pytest.mark.parametrize("token", ["%00", "abc%00def", "x" * 5000, "%FF"])
def test_hostile_checkout_tokens_are_404(client, token):
    result = client.simulate_get(f"/checkout/{token}")
    assert result.status_code == 404, (result.status, result.text)
