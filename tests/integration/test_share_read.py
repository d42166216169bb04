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
