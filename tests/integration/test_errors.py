"""The error model (SPEC section 5) end to end, and the health endpoints."""
import json
from dataclasses import replace

import falcon
import msgspec
import pytest
import redis
from falcon import testing
from sqlalchemy import func, select

from api.http import read_json, respond
from domain import catalog, models

MIB = 1024 * 1024


def assert_error(result, status: int, code: str | None = None, param=...) -> dict:
    """Exactly `{"error": {"type","code","message","param"}}`, as JSON, with the status."""
    assert result.status_code == status, (result.status, result.text)
    assert result.headers["content-type"].startswith("application/json")
    body = json.loads(result.text)
    assert list(body) == ["error"]
    error = body["error"]
    assert set(error) == {"type", "code", "message", "param"}
    assert all(isinstance(error[k], str) and error[k] for k in ("type", "code", "message"))
    assert error["param"] is None or isinstance(error["param"], str)
    if code is not None:
        assert error["code"] == code, error
    if param is not ...:
        assert error["param"] == param, error
    return error


def post_raw(merchant, body: bytes, content_type: str | None = "application/json", path="/products", headers=None):
    headers = {**({"Content-Type": content_type} if content_type else {}), **(headers or {})}
    return merchant.post(path, body=body, headers=headers)


# ---- request bodies -------------------------------------------------------------------------

@pytest.mark.parametrize("body", [b"{", b'{"name": "x",}', b"{'name': 'x'}", b"", b"nul", b'{"name": "x"} extra',
                                  b'{"name": "\\ud800"}'])
def test_malformed_json(merchant, body):
    assert_error(post_raw(merchant, body), 400, "invalid_json", None)


@pytest.mark.parametrize("body", [b'{"name": "caf\xe9"}', b'{"\xff": 1}', b"\xff\xfe{\x00}\x00"])
def test_non_utf8_body(merchant, body):
    assert_error(post_raw(merchant, body), 400, "invalid_json", None)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/jsonx"])
def test_wrong_content_type_is_415(merchant, content_type):
    assert_error(post_raw(merchant, b'{"name": "x"}', content_type), 415, "unsupported_media_type")


def test_json_with_charset_is_fine(merchant):
    assert post_raw(merchant, b'{"name": "x"}', "application/json; charset=utf-8").status_code == 200


def test_body_over_one_mib_is_413(merchant):
    padded = b'{"name": "x"}'.ljust(MIB + 1, b" ")
    assert_error(post_raw(merchant, padded), 413, "body_too_large")
    assert_error(post_raw(merchant, padded, headers={"Idempotency-Key": "big"}), 413)


def test_body_of_exactly_one_mib_is_read(merchant):
    padded = b'{"name": "x"}'.ljust(MIB, b" ")
    assert post_raw(merchant, padded).status_code == 200


@pytest.mark.parametrize("body", [b"[]", b'[{"name": "x"}]', b'"name"', b"42", b"null", b"true"])
def test_body_must_be_an_object(merchant, body):
    assert_error(post_raw(merchant, body), 400, "parameter_invalid", None)


def test_unknown_field_is_named(merchant):
    error = assert_error(merchant.post("/products", json={"name": "x", "colour": "red"}), 400, param="colour")
    assert "colour" in error["message"]


def test_wrong_type_is_named(merchant):
    assert_error(merchant.post("/products", json={"name": ["x"]}), 400, "parameter_invalid", "name")


class Nested(msgspec.Struct, forbid_unknown_fields=True):
    price_id: str
    quantity: int = 1


class Outer(msgspec.Struct, forbid_unknown_fields=True):
    line_items: list[Nested]


class Echo:
    def on_post(self, req, resp, account_id):
        body = read_json(req, Outer, 1000)
        respond(resp, {"items": len(body.line_items)})


class Boom:
    """Makes a product, then fails: the product must not be kept."""

    def on_post(self, req, resp, account_id):
        catalog.create_product(req.context.uow, req.context.owner, catalog.NewProduct(name="half-made"))
        raise RuntimeError("secret detail: /srv/app/config.py line 42")

    def on_get(self, req, resp, account_id):
        raise redis.ConnectionError("redis at 10.0.0.7:6379 refused")


@pytest.fixture
def extra_client(settings, deps):
    """A fresh app with throwaway routes behind the same middleware and error handlers."""
    from api.app import create_app

    app = create_app(settings, deps)
    app.add_route("/api/{account_id}/echo", Echo())
    app.add_route("/api/{account_id}/boom", Boom())
    return testing.TestClient(app)


def test_nested_unknown_and_missing_fields_are_named(extra_client, merchant):
    merchant.client = extra_client
    body = {"line_items": [{"price_id": "p"}, {"price_id": "p", "qty": 2}]}
    assert_error(merchant.post("/echo", json=body), 400, "parameter_invalid", "line_items[1].qty")
    assert_error(merchant.post("/echo", json={"line_items": [{"quantity": 2}]}), 400, param="line_items[0].price_id")
    assert_error(merchant.post("/echo", json={"line_items": [{"price_id": "p", "quantity": "2"}]}), 400,
                 param="line_items[0].quantity")
    assert merchant.ok("POST", "/echo", {"line_items": [{"price_id": "p"}]}) == {"items": 1}


def test_unexpected_exception_is_500_without_details_and_rolls_back(extra_client, merchant, uow_factory, caplog):
    merchant.client = extra_client
    result = merchant.post("/boom", json={})
    error = assert_error(result, 500, "internal_error", None)
    assert error["type"] == "api_error"
    for leak in ("Traceback", "RuntimeError", "secret detail", "config.py", "half-made"):
        assert leak not in result.text
    assert result.headers["cache-control"] == "no-store"
    assert "secret detail" in caplog.text  # the operator still gets it, in the log
    with uow_factory() as uow:
        assert uow.session.scalar(select(func.count()).select_from(models.Product).where(
            models.Product.account_id == merchant.account_id)) == 0


def test_dependency_down_is_503(extra_client, merchant):
    merchant.client = extra_client
    result = merchant.get("/boom")
    assert_error(result, 503, "service_unavailable", None)
    assert "10.0.0.7" not in result.text
    assert result.headers["retry-after"]


# ---- routes and methods ---------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/nope", "/api", "/api/acct_x/nonsense", "/api/acct_x/products/p/extra"])
def test_unknown_route_is_404_json(client, path):
    result = client.simulate_get(path)
    assert_error(result, 404, "resource_missing", None)


def test_wrong_method_is_405_json(client, merchant):
    result = merchant.delete("/products")
    assert_error(result, 405, "method_not_allowed", None)
    assert set(result.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert_error(client.simulate_post("/healthz"), 405, "method_not_allowed")


def test_unknown_object_is_404_json(merchant):
    assert_error(merchant.get("/products/prod_live_nope000000000000000"), 404, "resource_missing")


# ---- headers --------------------------------------------------------------------------------

def test_api_responses_are_not_cached_or_sniffed(client, merchant):
    made = merchant.product()
    results = [
        merchant.get(f"/products/{made['id']}"),                      # 200
        merchant.post("/products", json={"name": ""}),                # 400
        client.simulate_get(f"/api/{merchant.account_id}/products"),  # 401
        merchant.get("/products/prod_live_nope000000000000000"),      # 404
        client.simulate_get("/api/acct_x/nonsense"),                  # 404 route
        merchant.delete("/products"),                                 # 405
        post_raw(merchant, b"{}", "text/plain"),                      # 415
    ]
    for result in results:
        assert result.headers["cache-control"] == "no-store", result.status
        assert result.headers["x-content-type-options"] == "nosniff", result.status
    assert client.simulate_get("/healthz").headers["x-content-type-options"] == "nosniff"


# ---- health ---------------------------------------------------------------------------------

def test_healthz(client):
    result = client.simulate_get("/healthz")
    assert (result.status_code, result.json) == (200, {"status": "ok"})


def test_readyz_when_everything_answers(client):
    result = client.simulate_get("/readyz")
    assert result.status_code == 200
    assert result.json == {"status": "ready"}  # public: nothing about how the deployment is split


def test_readyz_names_redis_in_the_log_only_when_it_does_not_answer(settings, deps, caplog):
    from api.app import create_app

    dead = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1, socket_timeout=1)
    result = testing.TestClient(create_app(settings, replace(deps, redis=dead))).simulate_get("/readyz")
    assert result.status_code == 503
    assert result.json == {"status": "unavailable"}
    assert "not ready: redis down" in caplog.text


def test_readyz_names_postgresql_in_the_log_only_when_it_does_not_answer(settings, deps, caplog):
    from api.resources.health import Ready
    from domain.db import make_engine

    engine = make_engine("postgresql://postgres@127.0.0.1:1/nothing", 1)
    app = falcon.App()
    app.add_route("/readyz", Ready(engine, deps.redis))
    try:
        result = testing.TestClient(app).simulate_get("/readyz")
    finally:
        engine.dispose()
    assert result.status_code == 503
    assert result.json == {"status": "unavailable"}
    assert "not ready: postgresql down" in caplog.text
