"""The share token bucket against the real Redis (its clock, its atomicity, its TTLs)."""
from __future__ import annotations

import dataclasses
import secrets
import socket
import threading
import time

import pytest
import redis

from api.ratelimit import Decision, RateLimiter, rate_limit_headers, share_rate_limiter


@pytest.fixture
def ip() -> str:
    return f"test-{secrets.token_hex(8)}"


def limiter(redis_client, settings, capacity=10, refill_seconds=6.0) -> RateLimiter:
    return RateLimiter(redis_client, capacity, refill_seconds, settings.redis_key_prefix)


def test_fresh_bucket_allows_capacity_then_refuses(redis_client, settings, ip):
    bucket = limiter(redis_client, settings)
    decisions = [bucket.check(ip) for _ in range(10)]
    assert all(d.allowed for d in decisions)
    assert [d.remaining for d in decisions] == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    assert all(d.retry_after == 0 for d in decisions)

    refused = bucket.check(ip)
    assert refused.allowed is False
    assert refused.remaining == 0
    assert 5 <= refused.retry_after <= 6
    assert 59 <= refused.reset <= 60


def test_share_limiter_uses_settings_and_key_layout(redis_client, settings, ip):
    bucket = share_rate_limiter(settings, redis_client)
    assert bucket.capacity == settings.share_rate_capacity
    assert bucket.refill_seconds == settings.share_rate_refill_seconds
    assert bucket.check(ip).remaining == settings.share_rate_capacity - 1
    key = f"{settings.redis_key_prefix}ratelimit:share:{ip}"
    assert float(redis_client.hget(key, "tokens")) == settings.share_rate_capacity - 1
    assert redis_client.script_exists(bucket._script.sha) == [True]


def test_parallel_checks_allow_exactly_capacity(redis_client, settings, ip):
    bucket = limiter(redis_client, settings)
    threads_count = 50
    barrier = threading.Barrier(threads_count)
    results: list[bool] = []
    lock = threading.Lock()

    def hit() -> None:
        barrier.wait()
        allowed = bucket.check(ip).allowed
        with lock:
            results.append(allowed)

    threads = [threading.Thread(target=hit) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(results) == threads_count
    assert results.count(True) == 10


def test_refill_brings_back_one_token_per_period(redis_client, settings, ip):
    bucket = limiter(redis_client, settings, capacity=2, refill_seconds=0.5)
    assert [bucket.check(ip).allowed for _ in range(3)] == [True, True, False]
    time.sleep(0.6)  # 1.2 tokens: anywhere in [0.5 s, 1.0 s) gives exactly one
    assert bucket.check(ip).allowed is True
    assert bucket.check(ip).allowed is False


def test_fractional_refill_survives_refused_checks(redis_client, settings, ip):
    bucket = limiter(redis_client, settings, capacity=1, refill_seconds=0.4)
    assert bucket.check(ip).allowed is True
    time.sleep(0.2)
    half = bucket.check(ip)
    assert half.allowed is False
    assert half.retry_after == 1  # 0.2 s left, rounded up to whole seconds
    time.sleep(0.25)  # 0.45 s since the token was taken: the half kept above counts
    assert bucket.check(ip).allowed is True


def test_keys_are_isolated(redis_client, settings, ip):
    bucket = limiter(redis_client, settings, capacity=3)
    other = ip + "-b"
    for _ in range(3):
        bucket.check(ip)
    assert bucket.check(ip).allowed is False
    fresh = bucket.check(other)
    assert fresh.allowed is True
    assert fresh.remaining == 2


def test_bucket_key_expires_when_it_would_be_full(redis_client, settings, ip):
    bucket = limiter(redis_client, settings)
    key = bucket.key(ip)
    bucket.check(ip)
    assert 5 <= redis_client.ttl(key) <= 6  # one token short: 6 s to full
    for _ in range(9):
        bucket.check(ip)
    assert 59 <= redis_client.ttl(key) <= 60

    quick = limiter(redis_client, settings, capacity=2, refill_seconds=0.2)
    quick.check(ip + "-q")
    assert redis_client.ttl(quick.key(ip + "-q")) == 1  # 0.2 s rounds up to 1 s


def test_headers_for_allowed_and_refused():
    allowed = rate_limit_headers(Decision(True, 7, 0, 18), 10, 6)
    assert allowed == {"RateLimit-Limit": "10", "RateLimit-Remaining": "7", "RateLimit-Reset": "18",
                       "RateLimit-Policy": "10;w=60"}
    refused = rate_limit_headers(Decision(False, 0, 4, 58), 10, 6)
    assert refused["Retry-After"] == "4"
    assert refused["RateLimit-Remaining"] == "0"
    assert refused["RateLimit-Reset"] == "58"
    assert rate_limit_headers(Decision(True, 1, 0, 1), 3, 0.1)["RateLimit-Policy"] == "3;w=1"


def test_headers_from_a_real_refusal(redis_client, settings, ip):
    bucket = limiter(redis_client, settings, capacity=1)
    bucket.check(ip)
    headers = rate_limit_headers(bucket.check(ip), bucket.capacity, bucket.refill_seconds)
    assert headers["RateLimit-Remaining"] == "0"
    assert 5 <= int(headers["Retry-After"]) <= 6
    assert 5 <= int(headers["RateLimit-Reset"]) <= 6


def test_invalid_configuration_is_rejected(redis_client):
    with pytest.raises(ValueError):
        RateLimiter(redis_client, 0, 6)
    with pytest.raises(ValueError):
        RateLimiter(redis_client, 10, 0)


def _app_redis(settings, url: str) -> redis.Redis:
    """The limiter's client exactly as the app makes it (same timeouts and retry policy)."""
    from api.app import make_dependencies

    deps = make_dependencies(dataclasses.replace(settings, rate_limit_redis_url=url))
    deps.engine.dispose()
    return deps.redis


def test_unreachable_redis_fails_fast(settings):
    bucket = RateLimiter(_app_redis(settings, "redis://127.0.0.1:1"), 10, 6, settings.redis_key_prefix)
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        bucket.check("203.0.113.1")
    assert time.monotonic() - started < 2


def test_silent_redis_times_out_fast(settings):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        bucket = RateLimiter(_app_redis(settings, f"redis://127.0.0.1:{port}"), 10, 6, settings.redis_key_prefix)
        started = time.monotonic()
        with pytest.raises(redis.RedisError):
            bucket.check("203.0.113.1")
        assert time.monotonic() - started < 2


def test_script_missing_on_the_server_is_loaded_again(redis_client, settings, ip):
    # As after a Redis restart: EVALSHA answers NOSCRIPT, the script is loaded and run once more.
    bucket = limiter(redis_client, settings)
    real_sha = bucket._script.sha
    bucket._script.sha = "0" * 40
    assert bucket.check(ip).remaining == 9
    assert bucket._script.sha == real_sha
