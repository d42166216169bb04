def test_health(client):
    assert client.simulate_get("/healthz").json == {"status": "ok"}


def test_ready(client):
    result = client.simulate_get("/readyz")
    assert result.status_code == 200, result.text
    assert result.json == {"status": "ready"}


def test_product_roundtrip(merchant):
    made = merchant.product("Mug")
    assert made["id"].startswith("prod_live_")
    assert merchant.ok("GET", f"/products/{made['id']}") == made
