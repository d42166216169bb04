"""The pure parts of expiry: the lag a sweep reports, and how beat and the queues are set up."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import celeryconfig
from domain.expiry import SweepResult

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_lag_is_how_long_the_oldest_expired_session_waited():
    assert SweepResult(ran=True, expired=3, oldest_expires_at=NOW - timedelta(seconds=42.5)).lag_seconds(NOW) == 42.5


def test_lag_is_zero_when_nothing_was_expired_or_the_clock_is_behind():
    assert SweepResult(ran=True).lag_seconds(NOW) == 0.0
    assert SweepResult(ran=False).lag_seconds(NOW) == 0.0
    assert SweepResult(ran=True, expired=1, oldest_expires_at=NOW + timedelta(seconds=1)).lag_seconds(NOW) == 0.0


def test_beat_sweeps_often_enough_to_record_an_expiry_within_a_minute():
    entry = celeryconfig.beat_schedule["checkout_sessions.expire_due"]
    assert entry["task"] == "checkout_sessions.expire_due"
    assert 0 < entry["schedule"] <= 30
    # Nothing is scheduled ahead of time: no ETA or countdown on the beat's messages.
    assert not {"eta", "countdown"} & set(entry.get("options", {}))


def test_sweeps_and_follow_ups_share_the_expiry_queue_and_sweeps_go_first():
    routes = celeryconfig.task_routes
    assert routes["checkout_sessions.expire_due"]["queue"] == "expiry"
    assert routes["checkout_sessions.expired"]["queue"] == "expiry"
    # On Redis the lowest priority number is served first; a sweep has the default, 0.
    assert routes["checkout_sessions.expired"]["priority"] > routes["checkout_sessions.expire_due"].get("priority", 0)
    assert "expiry" in {queue.name for queue in celeryconfig.task_queues}
