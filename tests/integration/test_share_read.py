"""The share endpoint's link read, which runs on the driver for speed: the same answer as the
domain's `find_link_for_share`, and a 503 (never a 500) when PostgreSQL is out of reach."""
from __future__ import annotations

import time
from dataclasses import replace

import pytest

from api.ratelimit import share_rate_limiter
from api.resources.share import Share
from domain import checkout_sessions


def share_resource(settings, deps, engine=None) -> Share:
    return Share(settings, engine or deps.engine, share_rate_limiter(settings, deps.redis), deps.sender)


def domain_read(uow_factory, token: str):
    with uow_factory() as uow:
        return checkout_sessions.find_link_for_share(uow.session.connection(), token)


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


def test_the_read_is_the_domains_read(settings, deps, uow_factory, links):
    share = share_resource(settings, deps)
    for link in links:
        found = share._find_link(link["secure_token"])
        assert found == domain_read(uow_factory, link["secure_token"])
        assert found["id"] == link["id"]
    assert share._find_link("x" * 32) is None


def test_the_read_brings_exactly_the_prices_the_link_sells(settings, deps, merchant, links):
    merchant.price(700)  # another price of the account, sold by neither link
    share = share_resource(settings, deps)
    items, bundle, _ = (share._find_link(link["secure_token"]) for link in links)
    assert {p["id"] for p in items["prices"]} == {items["line_items"][0]["price_id"]}
    assert {p["id"] for p in bundle["prices"]} == set(bundle["packages"][0]["price_ids"])
    assert items["coupon"]["percent_off"] == "12.50" and bundle["coupon"] is None


def test_the_read_has_its_own_autocommit_connection_and_leaves_the_pool_alone(settings, deps, links):
    """Autocommit is only for this read: the ORM's transactions share the engine's pool."""
    share = share_resource(settings, deps)
    checked_in = deps.engine.pool.checkedin()
    share._find_link(links[0]["secure_token"])
    assert share._local.connection.autocommit is True
    assert deps.engine.pool.checkedin() <= checked_in
    pooled = deps.engine.raw_connection()
    try:
        assert pooled.driver_connection.autocommit is False
        assert pooled.driver_connection is not share._local.connection
    finally:
        pooled.close()


def test_a_connection_postgresql_dropped_is_replaced_at_once(settings, deps, uow_factory, links):
    """PostgreSQL restarted, a proxy cut the connection: the next open reconnects and answers."""
    from sqlalchemy import text

    share = share_resource(settings, deps)
    token = links[0]["secure_token"]
    share._find_link(token)
    backend = share._local.connection.info.backend_pid
    with uow_factory() as uow:
        assert uow.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend}).scalar()
    found = share._find_link(token)
    assert found == domain_read(uow_factory, token)
    assert share._local.connection.info.backend_pid != backend


def test_postgresql_out_of_reach_is_a_503_with_no_url(settings, deps, links):
    from falcon import testing

    from api.app import create_app
    from domain.db import make_engine

    dead = make_engine("postgresql://postgres@127.0.0.1:1/nothing")
    client = testing.TestClient(create_app(settings, replace(deps, engine=dead)))
    started = time.monotonic()
    answer = client.simulate_get(f"/api/pay/share/{links[0]['secure_token']}",
                                 headers={"Accept": "application/json"}, remote_addr="10.200.0.1")
    assert time.monotonic() - started < 2
    assert answer.status_code == 503
    assert answer.json["error"]["code"] == "service_unavailable"
    assert "/checkout/" not in answer.text and "checkout_session_id" not in answer.text
    dead.dispose()
