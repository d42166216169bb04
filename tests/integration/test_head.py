"""HEAD answers like GET on every GET route, without a body (it was a 405 everywhere)."""
from __future__ import annotations

import pytest


def assert_head_like_get(client, path: str, **kw) -> None:
    got = client.simulate_get(path, **kw)
    head = client.simulate_head(path, **kw)
    assert head.status_code == got.status_code, (path, head.status, head.text[:300])
    assert head.content == b"", path
    assert head.headers.get("content-type") == got.headers.get("content-type"), path
    assert head.headers.get("content-length") == str(len(got.content)), path


def test_head_on_public_routes(client):
    for path in ("/healthz", "/openapi.json", "/checkout/no-such-token", "/dashboard/sign-in",
                 "/dashboard/static/dashboard.css", "/no-such-route"):
        assert_head_like_get(client, path)


def test_head_on_every_documented_merchant_get(client, merchant):
    """Every GET of /openapi.json under /api/{account_id} (new ones are walked automatically)."""
    price = merchant.price()
    link = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": price["id"]}]})
    ids = {"object_id": price["id"], "link_id": link["id"], "session_id": "cs_live_nothing",
           "payment_id": "pay_live_nothing",
           "event_id": "evt_live_nothing", "endpoint_id": "we_live_nothing", "key_id": "key_live_nothing",
           "subscription_id": "sub_live_nothing", "invoice_id": "in_live_nothing", "clock_id": "clock_live_nothing"}
    auth = {"Authorization": f"Bearer {merchant.api_key}"}
    doc = client.simulate_get("/openapi.json").json
    walked = 0
    for template, operations in doc["paths"].items():
        if "get" not in operations or not template.startswith("/api/{account_id}"):
            continue
        path = template.replace("{account_id}", merchant.account_id)
        for name, value in ids.items():
            path = path.replace(f"{{{name}}}", value)
        assert "{" not in path, template
        assert_head_like_get(client, path, headers=auth)
        walked += 1
    assert walked >= 12


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_head_on_the_share_url(client, merchant, accept):
    price = merchant.price()
    link = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": price["id"]}]})
    head = client.simulate_head(f"/api/pay/share/{link['secure_token']}", headers={"Accept": accept},
                                remote_addr=f"198.51.100.{40 + len(accept)}")  # an address of this test's own
    assert head.status_code == (303 if accept == "text/html" else 200), head.status
    assert head.content == b""


def test_methods_without_get_still_refuse_head(client, merchant):
    result = client.simulate_head(f"/api/{merchant.account_id}/checkout-sessions/cs_live_x/expire",
                                  headers={"Authorization": f"Bearer {merchant.api_key}"})
    assert result.status_code == 405
