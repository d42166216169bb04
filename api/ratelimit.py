"""Token-bucket rate limiting in Redis, shared by every web process.

One Lua script does the whole check atomically on the server: read the bucket, refill it by
the time elapsed on the Redis clock (`TIME`, so web hosts' clocks never matter), take a token
if there is one, write it back with a TTL, and answer. One `EVALSHA` round trip per check
(redis-py's `Script` loads the script again on `NOSCRIPT`, e.g. after a Redis restart).
Redis errors propagate: the caller answers 503, it never waits on a dead Redis longer than the
client's socket timeouts.
"""
from __future__ import annotations

from dataclasses import dataclass

import redis

from runtime.share_cache import BUCKET_LUA

# KEYS[1] bucket hash {tokens, ts}; ARGV[1] capacity; ARGV[2] seconds per token (may be
# fractional). Times are integer microseconds: exact in a Lua double until the year 2255.
# Numbers handed to redis.call are truncated to integers, so tokens are written as strings.
# Returns {allowed 0/1, whole tokens left, microseconds until one token, until full}. The share
# path runs the same bucket at the head of its own script (runtime/share_cache.py).
TOKEN_BUCKET_LUA = BUCKET_LUA + "return head\n"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: int  # whole tokens left after this request
    retry_after: int  # seconds until a token is back; >= 1 when refused, 0 when allowed
    reset: int  # seconds until the bucket is full again


def _ceil_seconds(microseconds: int) -> int:
    return -(-microseconds // 1_000_000)


seconds = _ceil_seconds


def retry_seconds(allowed: bool, until_token_us: int) -> int:
    return 0 if allowed else max(1, _ceil_seconds(until_token_us))


class RateLimiter:
    """`capacity` requests in a burst, then one more every `refill_seconds`, per key."""

    def __init__(self, redis_client: redis.Redis, capacity: int, refill_seconds: float,
                 prefix: str = "", scope: str = "share"):
        if capacity < 1 or refill_seconds <= 0:
            raise ValueError("capacity must be at least 1 and refill_seconds positive")
        self.capacity = capacity
        self.refill_seconds = refill_seconds
        self._key_prefix = f"{prefix}ratelimit:{scope}:"
        self._script = redis_client.register_script(TOKEN_BUCKET_LUA)

    def key(self, key: str) -> str:
        return self._key_prefix + key

    def check(self, key: str) -> Decision:
        allowed, remaining, until_token_us, until_full_us = self._script(
            keys=[self.key(key)], args=[self.capacity, repr(float(self.refill_seconds))])
        return Decision(bool(allowed), int(remaining), retry_seconds(allowed, until_token_us),
                        _ceil_seconds(until_full_us))


def rate_limit_headers(decision: Decision, capacity: int, period: float) -> dict[str, str]:
    """Response headers after the IETF RateLimit fields draft (draft-ietf-httpapi-ratelimit-headers-06).

    `period` is the seconds per token (`refill_seconds`), so the policy window is
    `capacity * period` (10 per 60 s by default). Reset is delta-seconds until the bucket is
    full; a refused request also gets `Retry-After`, the seconds until one token is back.
    """
    window = max(1, _ceil_seconds(round(capacity * period * 1_000_000)))
    headers = {
        "RateLimit-Limit": str(capacity),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(decision.reset),
        "RateLimit-Policy": f"{capacity};w={window}",
    }
    if not decision.allowed:
        headers["Retry-After"] = str(decision.retry_after)
    return headers


def share_rate_limiter(settings, redis_client: redis.Redis) -> RateLimiter:
    return RateLimiter(redis_client, settings.share_rate_capacity, settings.share_rate_refill_seconds,
                       settings.redis_key_prefix)
