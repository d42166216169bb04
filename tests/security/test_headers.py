"""The headers of a careful API: the merchant API is never cached or sniffed, the hosted pages
may not be framed and load nothing from elsewhere, and the server names no version."""
from __future__ import annotations

import http.client
import re

import pytest

from tests.faults.stack import Stack, call, private_dir, remove

JSON = {"Accept": "application/json"}


def assert_api_headers(result, what: str) -> None:
    headers = {k.lower(): v for k, v in result.headers.items()}
    assert headers.get("cache-control") == "no-store", (what, headers)
    assert headers.get("x-content-type-options") == "nosniff", (what, headers)
    assert not re.search(r"\d", headers.get("server", "")), (what, headers.get("server"))


def assert_page_headers(headers: dict[str, str], what: str) -> None:
    headers = {k.lower(): v for k, v in headers.items()}
    assert headers.get("x-content-type-options") == "nosniff", what
    assert headers.get("cache-control") == "no-store", what
    policy = dict(part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";") if part.strip())
    assert policy["default-src"] == "'none'", policy
    assert policy["frame-ancestors"] == "'none'", policy
    assert policy["base-uri"] == "'none'", policy
    assert "script-src" not in policy or "'unsafe-inline'" not in policy["script-src"], policy
    assert "'unsafe-eval'" not in headers["content-security-policy"], policy


def test_merchant_api_answers_are_never_cached_or_sniffed(client, merchant):
    link = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": merchant.price()["id"]}]})
    for what, result in {
        "create": merchant.post("/products", json={"name": "x"}),
        "list": merchant.get("/payment-links"),
        "retrieve": merchant.get(f"/payment-links/{link['id']}"),
        "400": merchant.post("/products", json={"name": 1}),
        "401": client.simulate_get(f"/api/{merchant.account_id}/payment-links"),
        "404": merchant.get("/payment-links/pl_live_nothing"),
        "405": merchant.delete("/products"),
        "share 200": client.simulate_get(f"/api/pay/share/{link['secure_token']}", headers=JSON,
                                         remote_addr="198.19.252.1"),
        "share 303": client.simulate_get(f"/api/pay/share/{link['secure_token']}", headers={"Accept": "text/html"},
                                         remote_addr="198.19.252.2"),
        "share 404": client.simulate_get("/api/pay/share/nothing", headers=JSON, remote_addr="198.19.252.3"),
    }.items():
        assert_api_headers(result, what)


def test_hosted_pages_may_not_be_framed_and_load_nothing_from_elsewhere(client, merchant):
    link = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": merchant.price()["id"]}]})
    opened = client.simulate_get(f"/api/pay/share/{link['secure_token']}", headers={"Accept": "text/html"},
                                 remote_addr="198.19.253.1")
    page_path = "/checkout/" + opened.headers["location"].rsplit("/checkout/", 1)[1]
    for what, result in {
        "preparing or ready": client.simulate_get(page_path),
        "unknown token": client.simulate_get("/checkout/nothing-here"),
        "share 404 page": client.simulate_get("/api/pay/share/nothing", headers={"Accept": "text/html"},
                                              remote_addr="198.19.253.2"),
    }.items():
        assert result.headers["content-type"].startswith("text/html"), what
        assert_page_headers(result.headers, what)


@pytest.fixture(scope="module")
def gunicorn(database_url, server_urls, redis_client):
    """The app as production serves it, on this run's database and Redis key space."""
    folder = private_dir("pkheaders-")
    stack = Stack(database_url=database_url, redis_url=server_urls["REDIS_URL"], folder=folder)
    stack.start_web(workers=1)
    yield stack
    stack.close()
    remove(folder)


def test_gunicorn_names_no_version_and_keeps_the_headers(gunicorn, merchant):
    for path in ("/healthz", f"/api/{merchant.account_id}/payment-links", "/api/pay/share/nothing",
                 "/checkout/nothing", "/no-such-route"):
        answer = call(gunicorn.web_url, "GET", path, headers=JSON)
        server = answer.headers.get("server", "")
        assert not re.search(r"\d", server), f"{path}: Server: {server}"
        assert answer.headers["x-content-type-options"] == "nosniff"
    api = call(gunicorn.web_url, "GET", f"/api/{merchant.account_id}/payment-links",
               headers={"Authorization": f"Bearer {merchant.api_key}"})
    assert api.status == 200 and api.headers["cache-control"] == "no-store"
    assert_page_headers(call(gunicorn.web_url, "GET", "/checkout/nothing").headers, "a page through gunicorn")


def test_a_2_mib_chunked_body_without_length_is_413_through_gunicorn(gunicorn, merchant):
    host, port = gunicorn.web_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    chunks = [b'{"name": "'] + [b"x" * 65536] * 32 + [b'"}']
    conn.request("POST", f"/api/{merchant.account_id}/payment-links", body=iter(chunks), encode_chunked=True,
                 headers={"Authorization": f"Bearer {merchant.api_key}", "Content-Type": "application/json",
                          "Transfer-Encoding": "chunked"})
    answer = conn.getresponse()
    body = answer.read()
    conn.close()
    assert answer.status == 413, body[:300]
    assert b"body_too_large" in body


def test_a_chunked_json_body_is_read_through_gunicorn(gunicorn, merchant):
    host, port = gunicorn.web_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    conn.request("POST", f"/api/{merchant.account_id}/products", body=iter([b'{"name": ', b'"Chunked"}']),
                 encode_chunked=True, headers={"Authorization": f"Bearer {merchant.api_key}",
                                               "Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    answer = conn.getresponse()
    body = answer.read()
    conn.close()
    assert answer.status == 200, body[:300]
    assert b'"name":"Chunked"' in body
