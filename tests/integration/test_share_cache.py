"""The share cache (runtime/share_cache.py): a cached link is served without PostgreSQL, and
every committed change to what it sells is seen by the very next open (docs/scaling.md)."""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import text

from tests.conftest import find_share_link
from tests.integration.test_share import fresh_ip, open_link


class KeepingSender:
    """The real sender, keeping each snapshot sent."""

    def __init__(self, real):
        self.real = real
        self.snapshots: list[dict] = []

    def send(self, name, args, *, task_id):
        self.snapshots.append(args[0])
        self.real.send(name, args, task_id=task_id)


@pytest.fixture
def sent(deps):
    return KeepingSender(deps.sender)


@pytest.fixture
def cached_client(settings, deps, sent):
    from falcon import testing

    from api.app import create_app

    return testing.TestClient(create_app(settings, replace(deps, sender=sent)))


def token_of(link: dict) -> str:
    return link["url"].rsplit("/", 1)[-1]


def behind_our_back(deps, sql: str, **params) -> None:
    """A change no unit of work sees (nothing invalidates it): shows what the cache serves."""
    with deps.engine.begin() as connection:
        connection.execute(text(sql), params)


def test_a_cached_link_is_served_without_reading_postgresql(cached_client, merchant, deps, sent):
    link = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": merchant.price(700)["id"]}]})
    assert open_link(cached_client, link["url"]).status_code == 200  # the miss fills the cache
    behind_our_back(deps, "UPDATE prices SET unit_amount_atom = 1 WHERE account_id = :a", a=merchant.account_id)
    assert open_link(cached_client, link["url"]).status_code == 200
    assert [s["amount_total_atom"] for s in sent.snapshots] == [700, 700]


def test_deleting_a_link_refuses_the_next_open(cached_client, merchant):
    link = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": merchant.price()["id"]}]})
    assert open_link(cached_client, link["url"]).status_code == 200
    merchant.ok("DELETE", f"/payment-links/{link['id']}")
    assert open_link(cached_client, link["url"]).status_code == 404
    merchant.ok("PATCH", f"/payment-links/{link['id']}", {"is_active": True})
    assert open_link(cached_client, link["url"]).status_code == 200


def test_opens_racing_a_delete_are_refused_from_the_moment_it_answered(cached_client, merchant):
    link = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": merchant.price()["id"]}]})
    assert open_link(cached_client, link["url"]).status_code == 200
    seen: list[tuple[float, int]] = []
    stop = threading.Event()

    def opener():
        while not stop.is_set():
            started = time.monotonic()
            seen.append((started, open_link(cached_client, link["url"]).status_code))

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    merchant.ok("DELETE", f"/payment-links/{link['id']}")
    answered = time.monotonic()
    time.sleep(0.3)
    stop.set()
    for thread in threads:
        thread.join()
    before = [status for started, status in seen if started < answered]
    after = [status for started, status in seen if started > answered]
    assert 200 in before and after, (len(before), len(after))
    assert set(after) == {404}


def test_archiving_a_price_refuses_every_cached_link_that_sells_it(cached_client, merchant):
    price = merchant.price()
    package = merchant.ok("POST", "/packages", {"name": "Set", "price_ids": [price["id"]]})
    by_item = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": price["id"]}]})
    by_package = merchant.ok("POST", "/payment-links", {"package_ids": [package["id"]]})
    other = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": merchant.price()["id"]}]})
    for made in (by_item, by_package, other):
        assert open_link(cached_client, made["url"]).status_code == 200
    merchant.ok("PATCH", f"/prices/{price['id']}", {"active": False})
    assert [open_link(cached_client, made["url"]).status_code for made in (by_item, by_package, other)] == \
        [404, 404, 200]


def test_a_coupon_that_reaches_max_redemptions_is_left_off_cached_links(cached_client, merchant, deps, sent):
    from domain import checkout_sessions
    from domain.models import CheckoutSession

    coupon = merchant.ok("POST", "/coupons", {"name": "One", "amount_off_atom": 100, "currency": "USD",
                                              "duration": "once", "max_redemptions": 1})
    link = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": merchant.price(1000)["id"]}],
                                                  "coupon_id": coupon["id"]})
    assert open_link(cached_client, link["url"]).status_code == 200
    first = sent.snapshots[-1]
    assert first["coupon_id"] == coupon["id"]
    with deps.units() as uow:  # what paying does first: hold the redemption
        checkout_sessions.store(uow, first)
        session = uow.session.get(CheckoutSession, first["id"])
        assert checkout_sessions.hold_coupon(uow, session, datetime.now(UTC))
        uow.commit()
    assert open_link(cached_client, link["url"]).status_code == 200
    assert (sent.snapshots[-1]["coupon_id"], sent.snapshots[-1]["amount_total_atom"]) == (None, 1000)


def test_a_coupon_past_redeem_by_is_left_off_a_cached_link(cached_client, merchant, sent):
    redeem_by = datetime.now(UTC) + timedelta(hours=1)
    coupon = merchant.ok("POST", "/coupons", {"name": "Soon over", "percent_off": 10, "duration": "once",
                                              "redeem_by": redeem_by.isoformat()})
    link = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": merchant.price(1000)["id"]}],
                                                  "coupon_id": coupon["id"]})
    assert open_link(cached_client, link["url"]).status_code == 200
    assert sent.snapshots[-1]["amount_total_atom"] == 900
    with freeze_time(redeem_by + timedelta(seconds=1)):
        assert open_link(cached_client, link["url"]).status_code == 200
    assert (sent.snapshots[-1]["coupon_id"], sent.snapshots[-1]["amount_total_atom"]) == (None, 1000)


def test_a_reader_that_read_before_a_change_cannot_fill_after_its_invalidation(deps, merchant, settings):
    """The race: miss, read PostgreSQL, the change commits and invalidates, then the fill."""
    from runtime.share_cache import ShareCache

    link = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": merchant.price()["id"]}]})
    cache = ShareCache(deps.redis, settings.redis_key_prefix)
    now = datetime.now(UTC)
    missed = cache.open(fresh_ip(), token_of(link), 100, 1.0, now)
    assert missed.state == ShareCache.MISS
    before = find_share_link(deps.engine, token_of(link))
    merchant.ok("DELETE", f"/payment-links/{link['id']}")
    cache.fill(token_of(link), missed.seen, before, True, now)  # too late: not written
    assert cache.open(fresh_ip(), token_of(link), 100, 1.0, now).state == ShareCache.MISS
    fresh = find_share_link(deps.engine, token_of(link))
    again = cache.open(fresh_ip(), token_of(link), 100, 1.0, now)
    cache.fill(token_of(link), again.seen, fresh, False, now)
    assert cache.open(fresh_ip(), token_of(link), 100, 1.0, now).state == ShareCache.NOT_AVAILABLE


def test_every_accepted_open_is_counted_per_link_and_utc_day(cached_client, merchant, deps, settings):
    link = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": merchant.price()["id"]}]})
    gone = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": merchant.price()["id"]}]})
    merchant.ok("DELETE", f"/payment-links/{gone['id']}")
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    key = f"{settings.redis_key_prefix}link_opens:{day}"
    for _ in range(3):  # a miss, then hits
        assert open_link(cached_client, link["url"]).status_code == 200
    ip = fresh_ip()
    refused = [open_link(cached_client, link["url"], ip=ip).status_code for _ in range(12)]
    assert refused.count(429) == 2  # the limit's 10 in a burst
    for _ in range(2):
        assert open_link(cached_client, gone["url"]).status_code == 404
    assert int(deps.redis.hget(key, link["id"])) == 13
    assert deps.redis.hget(key, gone["id"]) is None
    assert 39 * 86400 < deps.redis.ttl(key) <= 40 * 86400


def test_a_unit_of_work_names_the_accounts_whose_sellable_rows_it_changed(deps, merchant, other_merchant):
    from domain import catalog
    from domain.db import UnitOfWork, session_factory
    from domain.queries import Owner

    forgotten: list[set[str]] = []

    class Recorder:
        def forget(self, accounts):
            forgotten.append(set(accounts))

    price = merchant.price()
    factory = session_factory(deps.engine)
    with UnitOfWork(factory, link_cache=Recorder()) as uow:
        catalog.set_active(uow, Owner(merchant.account_id, True), "prices", price["id"], False)
        uow.commit()
    with UnitOfWork(factory, link_cache=Recorder()) as uow:  # rolled back: nothing to forget
        catalog.set_active(uow, Owner(merchant.account_id, True), "prices", price["id"], True)
    with UnitOfWork(factory, link_cache=Recorder()) as uow:
        uow.session.execute(text("UPDATE products SET name = 'x' WHERE account_id = :a"),
                            {"a": other_merchant.account_id})
        uow.commit()
    assert forgotten == [{merchant.account_id}, {"*"}]
