"""The pure rules of webhook delivery: the retry schedule with its jitter, Retry-After, which
addresses are public, which event types an endpoint may take."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from domain import events, webhooks
from domain.errors import InvalidRequest
from runtime.webhook_http import is_public, retry_after

SCHEDULE = [timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
            timedelta(hours=5), timedelta(hours=10), timedelta(hours=10)]


def test_the_schedule_is_specs_with_at_most_10_percent_jitter_then_gives_up():
    rng = random.Random(7)
    for attempts, step in enumerate(SCHEDULE, start=1):
        waits = [webhooks.retry_wait(attempts, None, rng) for _ in range(200)]
        assert all(step * 0.9 <= wait <= step * 1.1 for wait in waits)
        assert len(set(waits)) > 100  # jittered, not in step
    assert webhooks.retry_wait(len(SCHEDULE) + 1, None) is None  # eight attempts in all


def test_retry_after_waits_longer_never_shorter_and_at_most_the_longest_step():
    assert webhooks.retry_wait(1, timedelta(minutes=2)) == timedelta(minutes=2)
    assert webhooks.retry_wait(2, timedelta(seconds=1)) >= timedelta(minutes=4.5)
    assert webhooks.retry_wait(1, timedelta(days=3)) == timedelta(hours=10)


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert retry_after("120", now) == timedelta(seconds=120)
    assert retry_after("Thu, 01 Jan 2026 12:05:00 GMT", now) == timedelta(minutes=5)
    assert retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == timedelta(0)
    assert retry_after("soon", now) is None and retry_after(None, now) is None and retry_after("١٢", now) is None


@pytest.mark.parametrize("address, public", [
    ("127.0.0.1", False), ("10.0.0.1", False), ("172.16.5.4", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("0.0.0.0", False), ("100.64.0.1", False), ("224.0.0.1", False),
    ("::1", False), ("fe80::1", False), ("fc00::1", False), ("::ffff:10.0.0.1", False), ("::", False),
    ("93.184.216.34", True), ("2606:2800:220:1:248:1893:25c8:1946", True), ("::ffff:93.184.216.34", True),
])
def test_only_public_unicast_addresses_are_public(address, public):
    assert is_public(address) is public


def test_enabled_events_are_known_types_or_star_alone():
    assert webhooks.check_enabled_events(["*"]) == ["*"]
    assert webhooks.check_enabled_events(list(events.TYPES)) == list(events.TYPES)
    for bad in ([], ["*", "customer.created"], ["customer.created", "customer.created"], ["invoice.created"]):
        with pytest.raises(InvalidRequest):
            webhooks.check_enabled_events(bad)


def test_a_secret_is_32_random_bytes_in_the_standard_webhooks_form():
    import base64

    secret = webhooks.new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert secret != webhooks.new_secret()
