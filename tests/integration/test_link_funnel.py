"""A link's funnel: every accepted share request is counted in Redis (no SQL on the share path),
the rollup job copies the counts into link_daily_opens, and the funnel read from PostgreSQL only
says exactly how many opens, sessions, completions and expiries each day had. Counts stay exact
under concurrent opens, a second rollup changes nothing, and a Redis that lost the day's counters
does not lower what is stored (the counter is raised back to it)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from domain import funnel
from domain.db import utcnow
from domain.models import CheckoutSession, LinkDailyOpens
from domain.queries import Owner
from runtime.link_opens import day_key
from tests.conftest import pay_session, wait_for
from tests.integration.test_checkout_page import make_link, open_session
from tests.integration.test_share import JSON, fresh_ip


@pytest.fixture
def rollup(celery_worker):
    """The beat job's body, run here (the worker's context points at this run's database and Redis)."""
    from workers.tasks import rollup_link_opens

    return rollup_link_opens


def stored_sessions(uow_factory, link_id: str) -> int:
    with uow_factory() as uow:
        return uow.session.scalar(select(func.count()).select_from(CheckoutSession)
                                  .where(CheckoutSession.payment_link_id == link_id))


def today_of(uow_factory, merchant, link_id: str, livemode=True) -> funnel.Day:
    with uow_factory() as uow:
        return funnel.daily(uow, Owner(merchant.account_id, livemode), link_id, utcnow()).days[-1]


def test_concurrent_opens_are_counted_exactly(client, merchant, uow_factory, rollup, celery_worker):
    link = make_link(merchant)
    token = link["secure_token"]
    opens = 120

    def open_once(_):
        return client.simulate_get(f"/api/pay/share/{token}", headers=JSON, remote_addr=fresh_ip()).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(open_once, range(opens)))
    assert statuses == [200] * opens
    # A refused open (unknown token) and an inactive link's open are not counted.
    assert client.simulate_get("/api/pay/share/nope", headers=JSON, remote_addr=fresh_ip()).status_code == 404
    wait_for(lambda: stored_sessions(uow_factory, link["id"]) == opens, timeout=60)
    assert rollup() >= 1
    day = today_of(uow_factory, merchant, link["id"])
    assert (day.opens, day.sessions, day.completed, day.expired) == (opens, opens, 0, 0)
    assert rollup() >= 1  # again: nothing changes
    assert today_of(uow_factory, merchant, link["id"]).opens == opens


def test_a_redis_that_lost_its_counters_lowers_nothing_and_counts_on(client, merchant, uow_factory, rollup,
                                                                        redis_client, settings):
    link = make_link(merchant)
    for _ in range(5):
        assert client.simulate_get(f"/api/pay/share/{link['secure_token']}", headers=JSON,
                                   remote_addr=fresh_ip()).status_code == 200
    rollup()
    key = day_key(settings.redis_key_prefix, utcnow().date())
    redis_client.hdel(key, link["id"])  # what a restart without persistence does to the day
    client.simulate_get(f"/api/pay/share/{link['secure_token']}", headers=JSON, remote_addr=fresh_ip())
    rollup()
    # Never lower: the counter (1 since the "restart") is raised back to the stored 5; the one open
    # between the restart and this rollup is the price (runtime/link_opens.py), never a double count.
    assert today_of(uow_factory, merchant, link["id"]).opens == 5
    assert int(redis_client.hget(key, link["id"])) == 5
    for _ in range(2):
        client.simulate_get(f"/api/pay/share/{link['secure_token']}", headers=JSON, remote_addr=fresh_ip())
    rollup()
    assert today_of(uow_factory, merchant, link["id"]).opens == 7
    assert redis_client.ttl(key) > 30 * 24 * 3600


def test_yesterdays_late_opens_are_rolled_up_too(merchant, uow_factory, rollup, redis_client, settings):
    link = make_link(merchant)
    yesterday = utcnow().date() - timedelta(days=1)
    redis_client.hincrby(day_key(settings.redis_key_prefix, yesterday), link["id"], 3)
    rollup()
    with uow_factory() as uow:
        row = uow.session.get(LinkDailyOpens, (link["id"], yesterday))
        assert row.opens == 3
        days = funnel.daily(uow, Owner(merchant.account_id, True), link["id"], utcnow()).days
    assert len(days) == 30 and days[-2].day == yesterday and days[-2].opens == 3


def test_completed_expired_and_paid_are_grouped_by_their_day(merchant, uow_factory, deps, settings):
    test = merchant.in_test_mode()
    link = make_link(test)
    now = utcnow()
    paid_token = open_session(uow_factory, settings, link, now - timedelta(days=3))
    open_session(uow_factory, settings, link, now - timedelta(days=5))  # expires 24 h later, unpaid
    open_session(uow_factory, settings, link, now)
    pay_session(deps, paid_token, now - timedelta(days=3) + timedelta(minutes=5))
    with uow_factory() as uow:
        found = funnel.daily(uow, Owner(merchant.account_id, False), link["id"], now)
        other_mode = funnel.daily(uow, Owner(merchant.account_id, True), link["id"], now)
    by_day = {d.day: d for d in found.days}
    assert (found.total("sessions"), found.total("completed"), found.total("expired")) == (3, 1, 1)
    assert by_day[(now - timedelta(days=3)).date()].completed == 1
    assert by_day[(now - timedelta(days=4)).date()].expired == 1
    assert found.paid == {"USD": 1999} and by_day[(now - timedelta(days=3)).date()].paid == {"USD": 1999}
    assert other_mode.total("sessions") == 0 and other_mode.paid == {}
    assert funnel.conversion(1, 3) == "33.3%" and funnel.conversion(0, 0) == "—"
