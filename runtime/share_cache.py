"""The share path's Redis: the token bucket, the cached `ShareLink` of each link, its generations
and the daily open counter, in one script call per open (docs/scaling.md, "The share cache").

Keys (all under `redis_key_prefix`):
- `share:link:{secure_token}`: `account \\t F \\t link id \\t JSON`, the link as `LinkReader` read
  it (an empty JSON: not available), with a TTL. F is the value of `share:seq` that the reader's
  miss saw before it read PostgreSQL.
- `share:seq`: a counter, incremented by every invalidation.
- `share:gen:{account}` (and `share:gen:*`): the `share:seq` value of that account's (every
  account's) last invalidation. An entry is valid while both are <= its F; a fill is written
  only while that holds, so a reader that read PostgreSQL before a change and fills after its
  invalidation writes nothing.
- `link_opens:{YYYY-MM-DD}`: a hash, payment link id -> sessions enqueued that UTC day (the
  dashboard's funnel reads it); kept ~40 days.

The gen keys are read by name inside the scripts (not passed as KEYS): fine on one Redis, not
on Redis Cluster.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import msgspec
import redis

from domain.link_reader import ShareLink
from runtime.held_redis import HeldRedis, HeldScript
from runtime.link_opens import KEY_TTL_SECONDS, day_key

log = logging.getLogger("paymentkit.share_cache")

ENTRY_TTL_SECONDS = 60  # bounds staleness if an invalidation is lost (Redis unreachable after a commit)

# The token bucket (api/ratelimit.py explains it; its script is this plus `return head`).
# KEYS[1] bucket hash {tokens, ts}; ARGV[1] capacity; ARGV[2] seconds per token. Leaves `head` =
# {allowed 0/1, whole tokens left, microseconds until one token, until full}.
BUCKET_LUA = """
local capacity = tonumber(ARGV[1])
local period_us = tonumber(ARGV[2]) * 1000000
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
elseif now > ts then
  tokens = math.min(capacity, tokens + (now - ts) / period_us)
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
local until_full = (capacity - tokens) * period_us
local until_token = 0
if tokens < 1 then
  until_token = (1 - tokens) * period_us
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%d', now))
redis.call('EXPIRE', KEYS[1], math.max(1, math.ceil(until_full / 1000000)))
local head = {allowed, math.floor(tokens), math.ceil(until_token), math.ceil(until_full)}
"""

# The bucket, then the cached link. KEYS: bucket, entry, seq, opens; ARGV: capacity, seconds per
# token, gen key prefix, opens TTL. Returns the bucket's four numbers, then a state (0 refused,
# 1 sellable hit: counted, 2 not available, 3 miss) and the link's JSON (1) or the seq a miss
# saw (3).
OPEN_LUA = BUCKET_LUA + """if allowed == 0 then
  head[5] = 0
  return head
end
local entry = redis.call('GET', KEYS[2])
if entry then
  local a = string.find(entry, '\\t', 1, true)
  local b = string.find(entry, '\\t', a + 1, true)
  local c = string.find(entry, '\\t', b + 1, true)
  local filled = tonumber(string.sub(entry, a + 1, b - 1))
  local mine = tonumber(redis.call('GET', ARGV[3] .. string.sub(entry, 1, a - 1)) or '0')
  local every = tonumber(redis.call('GET', ARGV[3] .. '*') or '0')
  if mine <= filled and every <= filled then
    if c == #entry then
      head[5] = 2
      return head
    end
    redis.call('HINCRBY', KEYS[4], string.sub(entry, b + 1, c - 1), 1)
    redis.call('EXPIRE', KEYS[4], ARGV[4])
    head[5] = 1
    head[6] = string.sub(entry, c + 1)
    return head
  end
end
head[5] = 3
head[6] = redis.call('GET', KEYS[3]) or '0'
return head
"""

# After a miss: write the entry if no invalidation of its account came after the miss, and
# count the open if it is sellable. KEYS: entry, gen of the account, gen of every account,
# opens; ARGV: the miss's seq, account, link id, JSON ('' not available), entry TTL, count 0/1,
# opens TTL.
FILL_LUA = """
local seen = tonumber(ARGV[1])
local mine = tonumber(redis.call('GET', KEYS[2]) or '0')
local every = tonumber(redis.call('GET', KEYS[3]) or '0')
if mine <= seen and every <= seen then
  redis.call('SET', KEYS[1], ARGV[2] .. '\\t' .. ARGV[1] .. '\\t' .. ARGV[3] .. '\\t' .. ARGV[4], 'EX', ARGV[5])
end
if ARGV[6] == '1' then
  redis.call('HINCRBY', KEYS[4], ARGV[3], 1)
  redis.call('EXPIRE', KEYS[4], ARGV[7])
end
return 1
"""

# KEYS: seq; ARGV: gen key prefix, then the accounts. Every gen named takes the new seq.
FORGET_LUA = """
local seq = redis.call('INCR', KEYS[1])
for i = 2, #ARGV do
  redis.call('SET', ARGV[1] .. ARGV[i], seq)
end
return seq
"""

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(list).decode


@dataclass(frozen=True, slots=True)
class Opened:
    """What the script answered: the bucket's numbers, and the link when known."""

    allowed: bool
    remaining: int
    until_token_us: int
    until_full_us: int
    state: int  # 0 refused, 1 sellable hit (counted), 2 not available, 3 miss
    link: ShareLink | None
    seen: str  # the seq a miss saw


def encode_link(link: ShareLink) -> bytes:
    return _encode([getattr(link, name) for name in ShareLink.__slots__])


class ShareCache:
    """The web side: `open` (limit + cached link + count, one call) and `fill` after a miss."""

    REFUSED, HIT, NOT_AVAILABLE, MISS = 0, 1, 2, 3

    def __init__(self, redis_client: redis.Redis, prefix: str = ""):
        self._prefix = prefix
        held = HeldRedis(redis_client)  # one connection per thread: redis-py's client costs 3x the command
        self._open = HeldScript(held, OPEN_LUA)
        self._fill = HeldScript(held, FILL_LUA)

    def open(self, client_key: str, secure_token: str, capacity: int, refill_seconds: float, now: datetime,
             scope: str = "share") -> Opened:
        p = self._prefix
        reply = self._open(keys=[f"{p}ratelimit:{scope}:{client_key}", f"{p}share:link:{secure_token}",
                                 f"{p}share:seq", day_key(p, now.date())],
                           args=[capacity, repr(float(refill_seconds)), f"{p}share:gen:", KEY_TTL_SECONDS])
        state = int(reply[4])
        link = ShareLink(*_decode(reply[5])) if state == self.HIT else None
        seen = reply[5].decode() if state == self.MISS else ""
        return Opened(bool(reply[0]), int(reply[1]), int(reply[2]), int(reply[3]), state, link, seen)

    def fill(self, secure_token: str, seen: str, link: ShareLink, sellable: bool, now: datetime) -> None:
        p = self._prefix
        self._fill(keys=[f"{p}share:link:{secure_token}", f"{p}share:gen:{link.account_id}", f"{p}share:gen:*",
                         day_key(p, now.date())],
                   args=[seen, link.account_id, link.id, encode_link(link) if sellable else b"", ENTRY_TTL_SECONDS,
                         "1" if sellable else "0", KEY_TTL_SECONDS])


class RedisLinkCache:
    """The writers' side (`domain.link_changes.LinkCache`): after a commit, every cached link of
    the accounts changed is stale. Tried twice; a failure is logged, never raised (the change is
    committed): such entries live at most ENTRY_TTL_SECONDS."""

    def __init__(self, redis_client: redis.Redis, prefix: str = ""):
        self._prefix = prefix
        self._forget = redis_client.register_script(FORGET_LUA)

    def forget(self, accounts: set[str]) -> None:
        for attempt in (1, 2):
            try:
                self._forget(keys=[f"{self._prefix}share:seq"], args=[f"{self._prefix}share:gen:", *sorted(accounts)])
                return
            except redis.RedisError as error:
                if attempt == 2:
                    log.error("could not invalidate the share cache of %d account(s): %s; their cached links "
                              "may be served for up to %d s", len(accounts), type(error).__name__,
                              ENTRY_TTL_SECONDS)


def link_cache(settings) -> RedisLinkCache:
    """The cache the rate limiter's Redis holds (RATE_LIMIT_REDIS_URL), for this process."""
    client = redis.Redis.from_url(settings.rate_limit_redis_url, socket_connect_timeout=1, socket_timeout=1)
    return RedisLinkCache(client, settings.redis_key_prefix)
