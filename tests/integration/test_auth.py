"""API keys (SPEC sections 2 and 5): who may call what, in which mode, and how keys are kept."""
import hashlib

import pytest
from sqlalchemy import text


def error_of(result, status: int) -> dict:
    assert result.status_code == status, (result.status, result.text)
    assert set(result.json) == {"error"}
    assert set(result.json["error"]) == {"type", "code", "message", "param"}
    return result.json["error"]


def call(client, path: str, authorization: str | None, method: str = "GET", **kwargs):
    headers = {"Authorization": authorization} if authorization is not None else {}
    return client.simulate_request(method, path, headers=headers, **kwargs)


def test_no_authorization_header_is_401(client, merchant):
    result = call(client, f"/api/{merchant.account_id}/products", None)
    error = error_of(result, 401)
    assert (error["code"], error["type"]) == ("api_key_missing", "authentication_error")
    assert result.headers["www-authenticate"].startswith("Bearer")


def test_no_key_on_a_write_is_401_and_writes_nothing(client, merchant):
    result = call(client, f"/api/{merchant.account_id}/products", None, "POST", json={"name": "x"})
    assert error_of(result, 401)["code"] == "api_key_missing"
    assert merchant.ok("GET", "/products")["data"] == []


@pytest.mark.parametrize("key", ["sk_live_" + "x" * 32, "sk_test_" + "x" * 32, "pk_live_abc", "garbage"])
def test_wrong_key_is_401(client, merchant, key):
    error = error_of(call(client, f"/api/{merchant.account_id}/products", f"Bearer {key}"), 401)
    assert error["code"] == "api_key_invalid"
    assert key not in error["message"]


def test_a_changed_character_is_401(client, merchant):
    tampered = merchant.api_key[:-1] + ("A" if merchant.api_key[-1] != "A" else "B")
    error_of(call(client, f"/api/{merchant.account_id}/products", f"Bearer {tampered}"), 401)


@pytest.mark.parametrize("header", [
    "", "Bearer", "Bearer ", "Bearer    ", "Basic dXNlcjpwYXNz", "Token sk_live_abc", "sk_live_abc",
    "Bearer sk_live_" + "a" * 10_000, "Bearer sk_live_\u00e9\u00e8", "Bearer sk_live_abc def",
    "Bearer\tsk_live_abc", "Bearer sk_live_abc\x00", "Bearer sk_live_\x7f\x01", "Bearer Bearer sk_live_abc",
])
def test_malformed_authorization_never_500s(client, merchant, header):
    result = call(client, f"/api/{merchant.account_id}/products", header)
    assert error_of(result, 401)["type"] == "authentication_error"


def test_scheme_is_case_insensitive(client, merchant):
    result = call(client, f"/api/{merchant.account_id}/products", f"bearer {merchant.api_key}")
    assert result.status_code == 200, result.text


def test_another_accounts_key_is_404_with_no_data(client, merchant, other_merchant):
    product = merchant.product()
    other_key = f"Bearer {other_merchant.api_key}"
    for method, path, body in [("GET", "/products", None), ("GET", f"/products/{product['id']}", None),
                               ("POST", "/products", {"name": "intruder"}),
                               ("PATCH", f"/products/{product['id']}", {"active": False})]:
        result = call(client, f"/api/{merchant.account_id}{path}", other_key, method, json=body)
        error = error_of(result, 404)
        assert product["id"] not in result.text and "Widget" not in result.text
        assert error["code"] == "resource_missing"
    # The answer is the same as for an account that does not exist: nothing is confirmed.
    known = call(client, f"/api/{merchant.account_id}/products", other_key).json
    unknown = call(client, "/api/acct_doesnotexist0000000000/products", other_key).json
    assert known["error"]["message"].replace(merchant.account_id, "ID") == \
        unknown["error"]["message"].replace("acct_doesnotexist0000000000", "ID")
    assert merchant.ok("GET", f"/products/{product['id']}")["active"] is True
    assert [p["name"] for p in merchant.ok("GET", "/products")["data"]] == ["Widget"]


def test_another_accounts_objects_are_404_through_own_url(merchant, other_merchant):
    theirs = other_merchant.product()
    error = error_of(merchant.get(f"/products/{theirs['id']}"), 404)
    assert error["code"] == "resource_missing"
    assert merchant.ok("GET", "/products")["data"] == []


def test_test_key_never_sees_live_objects_and_back(merchant):
    live = merchant.product("Live thing")
    test = merchant.ok("POST", "/products", {"name": "Test thing"}, key=merchant.test_api_key)
    assert live["id"].startswith("prod_live_") and live["livemode"] is True
    assert test["id"].startswith("prod_test_") and test["livemode"] is False

    error_of(merchant.get(f"/products/{live['id']}", key=merchant.test_api_key), 404)
    error_of(merchant.get(f"/products/{test['id']}"), 404)
    assert [p["id"] for p in merchant.ok("GET", "/products", key=merchant.test_api_key)["data"]] == [test["id"]]
    assert [p["id"] for p in merchant.ok("GET", "/products")["data"]] == [live["id"]]
    error_of(merchant.patch(f"/products/{live['id']}", json={"active": False}, key=merchant.test_api_key), 404)
    assert merchant.ok("GET", f"/products/{live['id']}")["active"] is True


def test_a_test_key_cannot_price_a_live_product(merchant):
    live = merchant.product()
    result = merchant.post("/prices", json={"product_id": live["id"], "unit_amount_atom": 1, "currency": "USD"},
                           key=merchant.test_api_key)
    assert error_of(result, 400)["param"] == "product_id"


def test_keys_are_stored_only_as_hashes(merchant, uow_factory):
    with uow_factory() as uow:
        rows = uow.session.execute(text(
            "SELECT row_to_json(k)::text AS row, k.key_hash, k.livemode FROM api_keys k WHERE account_id = :a"),
            {"a": merchant.account_id}).all()
        account = uow.session.execute(text("SELECT row_to_json(a)::text FROM accounts a WHERE id = :a"),
                                      {"a": merchant.account_id}).scalar_one()
    assert sorted(row.livemode for row in rows) == [False, True]
    hashes = {row.livemode: row.key_hash for row in rows}
    assert hashes[True] == hashlib.sha256(merchant.api_key.encode()).hexdigest()
    assert hashes[False] == hashlib.sha256(merchant.test_api_key.encode()).hexdigest()
    for stored in [account] + [row.row for row in rows]:
        for key in (merchant.api_key, merchant.test_api_key):
            assert key not in stored
            assert key.split("_", 2)[2] not in stored  # not even the random part


def test_keys_are_long_random_and_carry_their_mode(merchant, other_merchant):
    assert merchant.api_key.startswith("sk_live_") and merchant.test_api_key.startswith("sk_test_")
    keys = {merchant.api_key, merchant.test_api_key, other_merchant.api_key, other_merchant.test_api_key}
    assert len(keys) == 4
    for key in keys:
        assert len(key.split("_", 2)[2]) >= 32 and key.split("_", 2)[2].isalnum()


def test_public_routes_need_no_key(client):
    for path in ("/healthz", "/readyz", "/openapi.json"):
        assert client.simulate_get(path).status_code == 200, path
