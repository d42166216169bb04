"""The share URL end to end: rate limit, one generic 404, enqueue, a real worker persisting."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select, text

from domain.models import CheckoutSession
from tests.conftest import wait_for, find_share_link

JSON = {"Accept": "application/json"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


class RecordingSender:
    """The real sender, plus a record of what was sent (to prove that nothing was)."""

    def __init__(self, real):
        self.real = real
        self.sent: list[tuple[str, str]] = []

    def send(self, name, args, *, task_id):
        self.sent.append((name, task_id))
        self.real.send(name, args, task_id=task_id)


@pytest.fixture
def recorder(deps):
    return RecordingSender(deps.sender)


@pytest.fixture
def share_client(settings, deps, recorder):
    """An app whose sender records; each test opens links from its own client address."""
    from dataclasses import replace

    from falcon import testing

    from api.app import create_app

    return testing.TestClient(create_app(settings, replace(deps, sender=recorder)))


_ip_counter = iter(range(1, 1_000_000))


def fresh_ip() -> str:
    n = next(_ip_counter)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def open_link(client, url_or_token: str, headers=JSON, ip: str | None = None):
    token = url_or_token.rsplit("/", 1)[-1]
    return client.simulate_get(f"/api/pay/share/{token}", headers=headers, remote_addr=ip or fresh_ip())


def stored_session(uow_factory, session_id: str):
    with uow_factory() as uow:
        found = uow.session.get(CheckoutSession, session_id)
        if found is not None:
            uow.session.expunge(found)
        return found


def count_sessions(uow_factory, link_id: str) -> int:
    with uow_factory() as uow:
        return uow.session.scalar(select(func.count()).select_from(CheckoutSession)
                                  .where(CheckoutSession.payment_link_id == link_id))


@pytest.fixture
def link(merchant):
    price = merchant.price(1999, "USD")
    return merchant.ok("POST", "/payment-links", {
        "name": "Mug", "line_items": [{"price_id": price["id"], "quantity": 2}],
        "success_url": "https://shop.example/thanks?session={CHECKOUT_SESSION_ID}",
        "return_url": "https://shop.example/cart", "expires_in_hours": 48,
    })


def test_api_client_gets_json_and_the_worker_persists_the_session(share_client, link, uow_factory, celery_worker,
                                                                 settings):
    result = open_link(share_client, link["url"])
    assert result.status_code == 200, result.text
    body = result.json
    assert set(body) == {"checkout_session_id", "checkout_url"}
    assert body["checkout_session_id"].startswith("cs_live_")
    assert body["checkout_url"].startswith(f"{settings.checkout_base_url}/checkout/")
    assert result.headers["ratelimit-limit"] == "10"

    session = wait_for(lambda: stored_session(uow_factory, body["checkout_session_id"]))
    assert session.payment_link_id == link["id"]
    assert session.status == "open"
    assert session.checkout_token == body["checkout_url"].rsplit("/", 1)[-1]
    assert session.amount_subtotal_atom == 3998 and session.amount_total_atom == 3998
    assert session.line_items[0]["quantity"] == 2 and session.line_items[0]["unit_amount_atom"] == 1999
    assert session.success_url == link["success_url"]
    assert (session.expires_at - session.created_at).total_seconds() == 48 * 3600


def test_browser_is_redirected_with_303(share_client, link, recorder):
    result = open_link(share_client, link["url"], headers=BROWSER)
    assert result.status_code == 303
    assert "/checkout/" in result.headers["location"]
    assert len(recorder.sent) == 1


def test_each_open_makes_a_new_session(share_client, link, uow_factory, celery_worker):
    ids = {open_link(share_client, link["url"]).json["checkout_session_id"] for _ in range(3)}
    assert len(ids) == 3
    wait_for(lambda: count_sessions(uow_factory, link["id"]) == 3)


def test_unknown_inactive_and_unsellable_links_get_one_generic_404_and_no_task(share_client, merchant, link,
                                                                               recorder):
    unknown = open_link(share_client, "x" * 32)
    too_long = open_link(share_client, "x" * 500)

    inactive = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": merchant.price()["id"]}]})
    merchant.ok("DELETE", f"/payment-links/{inactive['id']}")
    deactivated = open_link(share_client, inactive["url"])

    price = merchant.price(500)
    unsellable = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": price["id"]}]})
    merchant.ok("PATCH", f"/prices/{price['id']}", {"active": False})
    no_longer_sellable = open_link(share_client, unsellable["url"])

    answers = [unknown, too_long, deactivated, no_longer_sellable]
    assert {a.status_code for a in answers} == {404}
    assert len({a.content for a in answers}) == 1
    assert unknown.json["error"]["code"] == "payment_link_unavailable"
    assert recorder.sent == []

    page = open_link(share_client, inactive["url"], headers=BROWSER)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "not available" in page.text


def test_deactivating_a_link_leaves_its_sessions_alone(share_client, merchant, link, uow_factory, celery_worker):
    session_id = open_link(share_client, link["url"]).json["checkout_session_id"]
    wait_for(lambda: stored_session(uow_factory, session_id))
    merchant.ok("DELETE", f"/payment-links/{link['id']}")
    assert stored_session(uow_factory, session_id).status == "open"


def test_the_session_snapshots_the_coupon_and_leaves_off_one_no_longer_redeemable(share_client, merchant,
                                                                                 uow_factory, celery_worker):
    price = merchant.price(1000)
    coupon = merchant.ok("POST", "/coupons", {"name": "Tenth", "percent_off": 12.5, "duration": "once"})
    made = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": price["id"], "quantity": 3}],
                                                   "coupon_id": coupon["id"]})
    with_coupon = open_link(share_client, made["url"]).json["checkout_session_id"]
    merchant.ok("PATCH", f"/coupons/{coupon['id']}", {"active": False})
    without = open_link(share_client, made["url"]).json["checkout_session_id"]

    first = wait_for(lambda: stored_session(uow_factory, with_coupon))
    assert (first.amount_subtotal_atom, first.amount_discount_atom, first.amount_total_atom) == (3000, 375, 2625)
    assert first.coupon_id == coupon["id"]
    second = wait_for(lambda: stored_session(uow_factory, without))
    assert (second.amount_discount_atom, second.amount_total_atom, second.coupon_id) == (0, 3000, None)


def test_subscription_with_trial_charges_only_one_time_items_today(share_client, merchant, uow_factory,
                                                                   celery_worker):
    monthly = merchant.recurring_price(2000)
    setup_fee = merchant.price(500)
    made = merchant.ok("POST", "/payment-links", {
        "mode": "subscription", "free_trial_days": 14,
        "line_items": [{"price_id": monthly["id"]}, {"price_id": setup_fee["id"]}]})
    session_id = open_link(share_client, made["url"]).json["checkout_session_id"]
    session = wait_for(lambda: stored_session(uow_factory, session_id))
    assert (session.amount_total_atom, session.amount_due_today_atom, session.free_trial_days) == (2500, 500, 14)


def test_the_session_keeps_the_names_it_sold_whatever_the_catalog_says_later(share_client, merchant, uow_factory,
                                                                            celery_worker):
    tea = merchant.price(450, product_id=merchant.product("Tea")["id"])
    cups = merchant.price(1200, product_id=merchant.product("Cups")["id"])
    package = merchant.ok("POST", "/packages", {"name": "Tea set", "price_ids": [tea["id"], cups["id"]]})
    items = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": tea["id"], "description": "Loose leaf"}]})
    bundle = merchant.ok("POST", "/payment-links", {"package_ids": [package["id"]]})
    sold = [open_link(share_client, made["url"]).json["checkout_session_id"] for made in (items, bundle)]
    with uow_factory() as uow:  # the catalog changes after the sessions were made
        uow.session.execute(text("UPDATE products SET name = 'Green tea' WHERE id = :id"), {"id": tea["product_id"]})
        uow.session.execute(text("UPDATE packages SET name = 'Gift set' WHERE id = :id"), {"id": package["id"]})
        uow.commit()

    by_items, by_package = (wait_for(lambda: stored_session(uow_factory, session_id)) for session_id in sold)
    assert [(line["product_name"], line["description"], line["package_name"]) for line in by_items.line_items] == \
        [("Tea", "Loose leaf", None)]
    assert [(line["product_name"], line["package_name"]) for line in by_package.line_items] == \
        [("Tea", "Tea set"), ("Cups", "Tea set")]
    fresh_id = open_link(share_client, items["url"]).json["checkout_session_id"]  # opened once, then awaited
    fresh = wait_for(lambda: stored_session(uow_factory, fresh_id))
    assert fresh.line_items[0]["product_name"] == "Green tea"


def test_a_redelivered_creation_creates_nothing_twice(link, uow_factory, settings):
    from datetime import UTC, datetime

    from domain import checkout_sessions
    from domain.checkout_tokens import new_checkout_token
    from domain.db import session_factory
    from workers import context
    from workers.tasks import create_checkout_session

    with uow_factory() as uow:
        row = find_share_link(uow.session.get_bind(), link["secure_token"])
    now = datetime.now(UTC)
    snapshot = checkout_sessions.new_session(row, session_id="cs_live_redelivered" + fresh_ip().replace(".", ""),
                                             checkout_token=new_checkout_token(settings.secret_key, now), now=now)
    context.use(session_factory(uow_factory().session.get_bind()))
    assert create_checkout_session.run(snapshot) is True
    assert create_checkout_session.run(snapshot) is False
    assert count_sessions(uow_factory, link["id"]) == 1


def test_a_snapshot_that_cannot_be_stored_fails_at_once_and_is_not_retried(uow_factory):
    """Only the database being away is retried; a bad snapshot must not loop forever."""
    from sqlalchemy.exc import OperationalError

    from domain.db import session_factory
    from workers import context
    from workers.tasks import create_checkout_session

    context.use(session_factory(uow_factory().session.get_bind()))
    bad = create_checkout_session.apply(args=[{"id": "cs_live_broken"}])
    assert bad.state == "FAILURE" and isinstance(bad.result, KeyError)
    assert OperationalError in create_checkout_session.autoretry_for


def test_the_eleventh_open_in_a_minute_is_refused(share_client, link, recorder):
    ip = fresh_ip()
    answers = [open_link(share_client, link["url"], ip=ip) for _ in range(11)]
    assert [a.status_code for a in answers] == [200] * 10 + [429]
    refused = answers[-1]
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json["error"]["code"] == "rate_limited"
    assert len(recorder.sent) == 10
    assert open_link(share_client, link["url"], ip=fresh_ip()).status_code == 200  # another client is fine


def test_a_browser_over_the_limit_gets_a_page_saying_how_long_to_wait(share_client, link, recorder):
    ip = fresh_ip()
    for _ in range(10):
        assert open_link(share_client, link["url"], headers=BROWSER, ip=ip).status_code == 303
    refused = open_link(share_client, link["url"], headers=BROWSER, ip=ip)
    wait = int(refused.headers["retry-after"])
    assert refused.status_code == 429 and 1 <= wait <= 6
    assert refused.headers["content-type"].startswith("text/html")
    assert "<h1>Too many requests</h1>" in refused.text and f"Please wait {wait} second" in refused.text
    assert f'href="/api/pay/share/{link["secure_token"]}">Try again</a>' in refused.text
    assert "rate_limited" not in refused.text and "checkout_url" not in refused.text
    assert refused.headers["x-frame-options"] == "DENY" and "default-src 'none'" in refused.headers[
        "content-security-policy"]
    assert len(recorder.sent) == 10


def test_broker_down_is_a_503_within_two_seconds_and_no_url(settings, deps, link):
    from dataclasses import replace

    from celery import Celery
    from falcon import testing

    from api.app import create_app
    from api.enqueue import CelerySender

    dead = Celery("dead-broker")
    dead.config_from_object("celeryconfig")
    dead.conf.broker_url = "redis://127.0.0.1:1/0"
    client = testing.TestClient(create_app(settings, replace(deps, sender=CelerySender(dead))))
    started = time.monotonic()
    result = open_link(client, link["url"])
    assert time.monotonic() - started < 2
    assert result.status_code == 503
    assert "checkout_url" not in result.text and "/checkout/" not in result.text


def test_the_request_id_is_carried_into_the_job_and_no_token_is_logged(share_client, link, uow_factory,
                                                                      celery_worker, caplog):
    import logging

    caplog.set_level(logging.INFO)
    result = share_client.simulate_get(f"/api/pay/share/{link['secure_token']}", remote_addr=fresh_ip(),
                                       headers={**JSON, "X-Request-Id": "req-abc12345"})
    assert result.headers["x-request-id"] == "req-abc12345"
    session_id = result.json["checkout_session_id"]
    def stored_line():
        return next((r for r in caplog.records if f"{session_id} stored" in r.getMessage()), None)

    stored = wait_for(stored_line)
    assert stored.request_id == "req-abc12345"
    checkout_token = result.json["checkout_url"].rsplit("/", 1)[-1]
    for record in caplog.records:
        line = record.getMessage()
        assert link["secure_token"] not in line and checkout_token not in line
