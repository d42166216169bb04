"""`GET /metrics`: every counter is exposed, and each one moves when what it counts happens."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import wait_for
from tests.integration.test_checkout_page import make_link, open_session, post

JSON = {"Accept": "application/json"}
NAMES = ("paymentkit_share_opens_total", "paymentkit_share_not_available_total", "paymentkit_share_rate_limited_total",
         "paymentkit_enqueue_failures_total", "paymentkit_checkout_sessions_created_total",
         "paymentkit_checkout_sessions_completed_total", "paymentkit_checkout_sessions_expired_total",
         "paymentkit_expiry_lag_seconds")


def value(client, name: str) -> float:
    """The sample `name` of this process's metrics, read over HTTP as Prometheus would."""
    text = client.simulate_get("/metrics").text
    return float(next(line for line in text.splitlines() if line.startswith(name + " ")).split()[1])


def test_metrics_are_prometheus_text_with_every_name(client):
    answer = client.simulate_get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    for name in NAMES:
        assert f"\n{name} " in answer.text, name


def test_an_unknown_token_counts_as_not_available(client):
    before = value(client, "paymentkit_share_not_available_total")
    client.simulate_get("/api/pay/share/unknown-token", headers=JSON, remote_addr="10.9.9.9")
    assert value(client, "paymentkit_share_not_available_total") == before + 1


def test_an_open_counts_one_share_open(client, merchant):
    link = make_link(merchant)
    before = value(client, "paymentkit_share_opens_total")
    opened = client.simulate_get(f"/api/pay/share/{link['secure_token']}", headers=JSON, remote_addr="10.9.9.10")
    assert opened.status_code == 200
    assert value(client, "paymentkit_share_opens_total") == before + 1


def test_a_refused_open_counts_as_rate_limited_and_nothing_else(client, settings):
    ip = "10.9.9.11"
    for _ in range(settings.share_rate_capacity):
        assert client.simulate_get("/api/pay/share/nothing", headers=JSON, remote_addr=ip).status_code == 404
    limited, not_available = (value(client, "paymentkit_share_rate_limited_total"),
                              value(client, "paymentkit_share_not_available_total"))
    assert client.simulate_get("/api/pay/share/nothing", headers=JSON, remote_addr=ip).status_code == 429
    assert value(client, "paymentkit_share_rate_limited_total") == limited + 1
    assert value(client, "paymentkit_share_not_available_total") == not_available


def test_a_session_stored_by_the_worker_counts_as_created(client, merchant, celery_worker):
    link = make_link(merchant)
    before = value(client, "paymentkit_checkout_sessions_created_total")
    opened = client.simulate_get(f"/api/pay/share/{link['secure_token']}", headers=JSON, remote_addr="10.9.9.12")
    wait_for(lambda: merchant.get(f"/checkout-sessions/{opened.json['checkout_session_id']}").status_code == 200)
    # At least: the worker thread may also be storing sessions that earlier tests queued.
    assert value(client, "paymentkit_checkout_sessions_created_total") >= before + 1


def test_expiring_by_hand_counts_one_expiry(client, merchant, uow_factory, settings):
    link = make_link(merchant)
    open_session(uow_factory, settings, link)
    session_id = merchant.ok("GET", f"/checkout-sessions?payment_link_id={link['id']}")["data"][0]["id"]
    before = value(client, "paymentkit_checkout_sessions_expired_total")
    merchant.ok("POST", f"/checkout-sessions/{session_id}/expire")
    assert value(client, "paymentkit_checkout_sessions_expired_total") == before + 1


def test_the_sweep_counts_what_it_expired_and_sets_the_lag(client, merchant, uow_factory, settings):
    from domain.db import utcnow
    from workers.tasks import sweep_and_follow_up

    link = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": merchant.price()["id"]}],
                                                  "expires_in_hours": 1})
    open_session(uow_factory, settings, link, now=datetime.now(UTC) - timedelta(hours=2))
    before = value(client, "paymentkit_checkout_sessions_expired_total")
    result = sweep_and_follow_up(utcnow(), budget_seconds=None)
    assert result.ran and result.expired >= 1  # this test's session, and any earlier test left due
    assert value(client, "paymentkit_checkout_sessions_expired_total") == before + result.expired
    assert value(client, "paymentkit_expiry_lag_seconds") >= 3600


def test_paying_at_the_hosted_checkout_counts_one_completed_session(client, merchant, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant.in_test_mode()))
    before = value(client, "paymentkit_checkout_sessions_completed_total")
    assert post(client, token, "pay").status_code == 303
    assert value(client, "paymentkit_checkout_sessions_completed_total") == before + 1
