"""The share endpoint's link read (`LinkReader`, on the driver for speed): exactly what the link
sells, on a connection of its own, and a 503 (never a 500) when PostgreSQL is out of reach."""
from __future__ import annotations

import time
from dataclasses import replace

import pytest

from domain.link_reader import LinkReader, ShareLink


@pytest.fixture
def reader(deps):
    made = LinkReader(deps.engine)
    yield made
    made.close()


@pytest.fixture
def links(merchant):
    """A link of line items with a coupon, a link of packages, and a deactivated one."""
    prices = [merchant.price(1999), merchant.price(500)]
    coupon = merchant.ok("POST", "/coupons", {"name": "Tenth", "percent_off": 12.5, "duration": "once"})
    package = merchant.ok("POST", "/packages", {"name": "Bundle", "price_ids": [p["id"] for p in prices]})
    items = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": prices[0]["id"], "quantity": 2}],
                                                   "coupon_id": coupon["id"]})
    bundle = merchant.ok("POST", "/payment-links", {"package_ids": [package["id"]]})
    gone = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": prices[1]["id"]}]})
    merchant.ok("DELETE", f"/payment-links/{gone['id']}")
    return [items, bundle, gone]


def test_the_read_is_the_link_as_stored(reader, merchant, links):
    for link, active in zip(links, (True, True, False)):
        found = reader.find(link["secure_token"])
        assert isinstance(found, ShareLink)
        assert (found.id, found.account_id, found.livemode, found.mode, found.is_active) == \
            (link["id"], merchant.account_id, True, link["mode"], active)
        assert found.expires_in_hours == link["expires_in_hours"] and found.currency == link["currency"]
        assert [item["price_id"] for item in found.line_items] == [item["price_id"] for item in link["line_items"]]
        assert (found.package_ids or []) == link["package_ids"] and found.coupon_id == link["coupon_id"]
    assert reader.find("x" * 32) is None


def test_tokens_that_cannot_be_ours_are_not_looked_up(reader):
    assert reader.find("a\x00b") is None
    assert reader.find("x" * 65) is None
    assert getattr(reader._local, "connection", None) is None  # nothing was even connected


def test_the_read_brings_exactly_the_prices_the_link_sells(reader, merchant, links):
    merchant.price(700)  # another price of the account, sold by neither link
    items, bundle, _ = (reader.find(link["secure_token"]) for link in links)
    assert {p["id"] for p in items.prices} == {items.line_items[0]["price_id"]}
    assert {p["id"] for p in bundle.prices} == set(bundle.packages[0]["price_ids"])
    assert items.coupon["percent_off"] == "12.50" and bundle.coupon is None


def test_the_read_brings_the_names_the_customer_reads(reader, merchant):
    """Each price with its product's name, each package with its name: in the same read."""
    tea = merchant.price(450, product_id=merchant.product("Tea")["id"])
    cups = merchant.price(1200, product_id=merchant.product("Cups")["id"])
    package = merchant.ok("POST", "/packages", {"name": "Tea set", "price_ids": [tea["id"], cups["id"]]})
    items = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": tea["id"]}]})
    bundle = merchant.ok("POST", "/payment-links", {"package_ids": [package["id"]]})
    assert [p["product_name"] for p in reader.find(items["secure_token"]).prices] == ["Tea"]
    found = reader.find(bundle["secure_token"])
    assert {p["id"]: p["product_name"] for p in found.prices} == {tea["id"]: "Tea", cups["id"]: "Cups"}
    assert [(p["id"], p["name"]) for p in found.packages] == [(package["id"], "Tea set")]


def test_the_products_names_are_joined_by_primary_key(reader, deps, merchant, links):
    """With 5,000 more prices and products in the account (statistics up to date), each price's
    product is found by the product's primary key, and neither table is read by a sequential
    scan. (Which index finds the prices is the planner's choice, as before the names were read.)"""
    from sqlalchemy import text

    with deps.engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO products (id, account_id, livemode, name, description, metadata, active, created_at, updated_at)
            SELECT 'prod_live_many' || n, :account, true, 'Product ' || n, null, '{}'::jsonb, true, now(), now()
              FROM generate_series(1, 5000) AS n"""), {"account": merchant.account_id})
        conn.execute(text("""
            INSERT INTO prices (id, account_id, livemode, product_id, active, unit_amount_atom, currency, type,
                                created_at, updated_at)
            SELECT 'price_live_many' || n, :account, true, 'prod_live_many' || n, true, 100 + n, 'USD', 'one_time',
                   now(), now()
              FROM generate_series(1, 5000) AS n"""), {"account": merchant.account_id})
        conn.exec_driver_sql("ANALYZE products")
        conn.exec_driver_sql("ANALYZE prices")
        plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + reader._sql,
                                    {"token": links[1]["secure_token"]}).scalar()

    def nodes(node):
        yield node
        for child in node.get("Plans", []):
            yield from nodes(child)

    every = list(nodes(plan[0]["Plan"]))
    products = [n for n in every if n.get("Relation Name") == "products"]
    assert products and all(n.get("Index Name") == "products_pkey" for n in products), plan
    assert not [n for n in every if n.get("Relation Name") in ("prices", "products") and n["Node Type"] == "Seq Scan"]


def test_the_read_has_its_own_autocommit_connection_and_leaves_the_pool_alone(reader, deps, links):
    """Autocommit is only for this read: the ORM's transactions share the engine's pool."""
    checked_in = deps.engine.pool.checkedin()
    reader.find(links[0]["secure_token"])
    assert reader._local.connection.autocommit is True
    assert deps.engine.pool.checkedin() <= checked_in
    pooled = deps.engine.raw_connection()
    try:
        assert pooled.driver_connection.autocommit is False
        assert pooled.driver_connection is not reader._local.connection
    finally:
        pooled.close()


def test_a_connection_postgresql_dropped_is_replaced_at_once(reader, uow_factory, links):
    """PostgreSQL restarted, a proxy cut the connection: the next open reconnects and answers."""
    from sqlalchemy import text

    token = links[0]["secure_token"]
    before = reader.find(token)
    backend = reader._local.connection.info.backend_pid
    with uow_factory() as uow:
        assert uow.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend}).scalar()
    assert reader.find(token) == before
    assert reader._local.connection.info.backend_pid != backend


def test_postgresql_out_of_reach_is_a_503_with_no_url(settings, deps, links):
    from falcon import testing

    from api.app import create_app
    from domain.db import make_engine

    dead = make_engine("postgresql://postgres@127.0.0.1:1/nothing")
    client = testing.TestClient(create_app(settings, replace(deps, engine=dead, links=LinkReader(dead))))
    started = time.monotonic()
    answer = client.simulate_get(f"/api/pay/share/{links[0]['secure_token']}",
                                 headers={"Accept": "application/json"}, remote_addr="10.200.0.1")
    assert time.monotonic() - started < 2
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert answer.json["error"]["code"] == "service_unavailable"
    assert "/checkout/" not in answer.text and "checkout_session_id" not in answer.text
    dead.dispose()
