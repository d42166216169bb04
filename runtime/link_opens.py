"""The opens of each payment link, counted in Redis on the share path and read back by the rollup.

The share path's one script call (runtime/share_cache.py) does, for every share request it
accepts, `HINCRBY {REDIS_KEY_PREFIX}link_opens:{YYYY-MM-DD} <payment link id> 1` on the rate
limiter's Redis, with the request's UTC day (`day_key`), and an `EXPIRE` of KEY_TTL_SECONDS: no
SQL and no round trip of its own.

The `link_opens.rollup` beat job copies today's and yesterday's hashes into PostgreSQL
(`link_daily_opens`, domain/funnel.py). A Redis that restarts empty (or from an older snapshot)
would count a day from zero again, so the rollup first raises each field back to what PostgreSQL
already holds (`FLOOR_LUA`, atomic, by HINCRBY so concurrent opens are kept) and then stores the
field's value, never lowering a stored one. A restart so loses the opens between the last rollup
before it and the first one after it (about a minute's worth with the beat every 60 s), never the
day, and never counts an open twice (which adding the stored count back would, after a restore
from an older snapshot).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

import redis

KEY_TTL_SECONDS = 40 * 24 * 3600  # a day's hash outlives the dashboard's 30 days

# KEYS[1] the day's hash; ARGV pairs of (field, floor). Each field below its floor is raised to it.
# Returns the whole hash after the repair, as HGETALL does.
FLOOR_LUA = """
for i = 1, #ARGV, 2 do
  local floor = tonumber(ARGV[i + 1])
  local now = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if now < floor then
    redis.call('HINCRBY', KEYS[1], ARGV[i], floor - now)
  end
end
if redis.call('TTL', KEYS[1]) == -1 then
  redis.call('EXPIRE', KEYS[1], %d)
end
return redis.call('HGETALL', KEYS[1])
""" % KEY_TTL_SECONDS


def day_key(prefix: str, day: date) -> str:
    return f"{prefix}link_opens:{day.isoformat()}"


class OpenReader:
    """The rollup's side: a day's counts, repaired up to what is stored already."""

    def __init__(self, redis_client: redis.Redis, prefix: str):
        self._prefix = prefix
        self._floor = redis_client.register_script(FLOOR_LUA)

    def read(self, day: date, floors: dict[str, int]) -> dict[str, int]:
        args: list[str | int] = []
        for link_id, floor in floors.items():
            args += [link_id, floor]
        flat = self._floor(keys=[day_key(self._prefix, day)], args=args)
        return {flat[i].decode(): int(flat[i + 1]) for i in range(0, len(flat), 2)}


def rollup_days(now: datetime) -> list[date]:
    """Today and yesterday (UTC): yesterday's last opens land after midnight's first rollup."""
    today = now.date()
    return [today - timedelta(days=1), today]
