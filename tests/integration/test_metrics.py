"""Prometheus metrics: served on a port of their own (loopback by default), never by the public app;
every counter is exposed there, and each one moves when what it counts happens."""
from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from runtime import metrics
from runtime.settings import Settings
from tests.conftest import wait_for
from tests.integration.test_checkout_page import make_link, open_session, post

JSON = {"Accept": "application/json"}
NAMES = ("paymentkit_share_opens_total", "paymentkit_share_not_available_total", "paymentkit_share_rate_limited_total",
         "paymentkit_enqueue_failures_total", "paymentkit_checkout_sessions_created_total",
         "paymentkit_checkout_sessions_completed_total", "paymentkit_checkout_sessions_expired_total",
         "paymentkit_expiry_lag_seconds")


@pytest.fixture(scope="module")
def metrics_url():
    """This process's metrics, served on a loopback port as `paymentkit metrics serve` does."""
    server, _ = metrics.start_server("127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.server_port}/metrics"
    server.shutdown()
    server.server_close()


def scrape(metrics_url: str) -> str:
    with urllib.request.urlopen(metrics_url, timeout=5) as answer:
        assert answer.status == 200 and answer.headers["content-type"].startswith("text/plain")
        return answer.read().decode()


@pytest.fixture
def value(metrics_url):
    """The sample `name` of this process's metrics, read over HTTP as Prometheus would."""
    def read(name: str) -> float:
        return float(next(line for line in scrape(metrics_url).splitlines() if line.startswith(name + " ")).split()[1])
    return read


def test_metrics_are_not_on_the_public_port(client):
    assert client.simulate_get("/metrics").status_code == 404
    assert "/metrics" not in client.simulate_get("/openapi.json").json["paths"]


def test_the_metrics_port_is_loopback_unless_configured():
    assert (Settings.from_env({}).metrics_host, Settings.from_env({}).metrics_port) == ("127.0.0.1", 9100)
    assert Settings.from_env({"METRICS_HOST": "10.0.0.5", "METRICS_PORT": "9200"}).metrics_port == 9200


def test_metrics_are_prometheus_text_with_every_name(metrics_url):
    text = scrape(metrics_url)
    for name in NAMES:
        assert f"\n{name} " in text, name


def test_an_unknown_token_counts_as_not_available(client, value):
    before = value("paymentkit_share_not_available_total")
    client.simulate_get("/api/pay/share/unknown-token", headers=JSON, remote_addr="10.9.9.9")
    assert value("paymentkit_share_not_available_total") == before + 1


def test_an_open_counts_one_share_open(client, merchant, value):
    link = make_link(merchant)
    before = value("paymentkit_share_opens_total")
    opened = client.simulate_get(f"/api/pay/share/{link['secure_token']}", headers=JSON, remote_addr="10.9.9.10")
    assert opened.status_code == 200
    assert value("paymentkit_share_opens_total") == before + 1


def test_a_refused_open_counts_as_rate_limited_and_nothing_else(client, settings, value):
    ip = "10.9.9.11"
    for _ in range(settings.share_rate_capacity):
        assert client.simulate_get("/api/pay/share/nothing", headers=JSON, remote_addr=ip).status_code == 404
    limited, not_available = (value("paymentkit_share_rate_limited_total"),
                              value("paymentkit_share_not_available_total"))
    assert client.simulate_get("/api/pay/share/nothing", headers=JSON, remote_addr=ip).status_code == 429
    assert value("paymentkit_share_rate_limited_total") == limited + 1
    assert value("paymentkit_share_not_available_total") == not_available


def test_a_session_stored_by_the_worker_counts_as_created(client, merchant, celery_worker, value):
    link = make_link(merchant)
    before = value("paymentkit_checkout_sessions_created_total")
    opened = client.simulate_get(f"/api/pay/share/{link['secure_token']}", headers=JSON, remote_addr="10.9.9.12")
    wait_for(lambda: merchant.get(f"/checkout-sessions/{opened.json['checkout_session_id']}").status_code == 200)
    # At least: the worker thread may also be storing sessions that earlier tests queued.
    assert value("paymentkit_checkout_sessions_created_total") >= before + 1


def test_expiring_by_hand_counts_one_expiry(client, merchant, uow_factory, settings, value):
    link = make_link(merchant)
    open_session(uow_factory, settings, link)
    session_id = merchant.ok("GET", f"/checkout-sessions?payment_link_id={link['id']}")["data"][0]["id"]
    before = value("paymentkit_checkout_sessions_expired_total")
    merchant.ok("POST", f"/checkout-sessions/{session_id}/expire")
    assert value("paymentkit_checkout_sessions_expired_total") == before + 1


def test_the_sweep_counts_what_it_expired_and_sets_the_lag(client, merchant, uow_factory, settings, value):
    from domain.db import utcnow
    from workers.tasks import sweep_and_follow_up

    link = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": merchant.price()["id"]}],
                                                  "expires_in_hours": 1})
    open_session(uow_factory, settings, link, now=datetime.now(UTC) - timedelta(hours=2))
    before = value("paymentkit_checkout_sessions_expired_total")
    result = sweep_and_follow_up(utcnow(), budget_seconds=None)
    assert result.ran and result.expired >= 1  # this test's session, and any earlier test left due
    assert value("paymentkit_checkout_sessions_expired_total") == before + result.expired
    assert value("paymentkit_expiry_lag_seconds") >= 3600


def test_paying_at_the_hosted_checkout_counts_one_completed_session(client, merchant, uow_factory, settings, value):
    token = open_session(uow_factory, settings, make_link(merchant.in_test_mode()))
    before = value("paymentkit_checkout_sessions_completed_total")
    assert post(client, token, "pay").status_code == 303
    assert value("paymentkit_checkout_sessions_completed_total") == before + 1


def test_metrics_serve_adds_up_every_process(tmp_path):
    """`paymentkit metrics serve` (the Procfile's `metrics`) shows what other processes counted."""
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    refused = subprocess.run([str(bin_dir / "paymentkit"), "metrics", "serve"], env=env, capture_output=True,
                             text=True, timeout=30)
    assert refused.returncode == 2 and "PROMETHEUS_MULTIPROC_DIR" in refused.stderr

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env.update(PROMETHEUS_MULTIPROC_DIR=str(tmp_path), METRICS_PORT=str(port))
    counted = "from runtime import metrics; metrics.SHARE_OPENS.inc(3)"
    subprocess.run([sys.executable, "-c", counted], env=env, check=True, timeout=30)
    subprocess.run([sys.executable, "-c", counted], env=env, check=True, timeout=30)
    server = subprocess.Popen([str(bin_dir / "paymentkit"), "metrics", "serve"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        assert f"metrics on http://127.0.0.1:{port}/metrics" in server.stdout.readline()
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
                    text = answer.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, "the metrics server never answered"
                time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(10)
    assert "paymentkit_share_opens_total 6.0" in text
