"""One Redis connection per thread, kept, for the share path's two commands.

redis-py's client checks a connection out of its pool and back for every command, through its
retry wrapper and health check: ~40 µs of CPU and ~90 µs of wall time per command on top of the
~18 µs the command itself costs the client (measured on this machine, redis-py 8.1 with
hiredis; bench/README.md). The share path makes two commands per request, so it keeps a
connection per thread (made by the client's pool: same URL, timeouts, socket options) and
speaks to it directly.

A connection found broken (Redis restarted, idle connection closed) is made again and the
command sent once more; a timeout is not retried (a frozen Redis costs one socket timeout) and
drops the connection, whose late reply would otherwise answer the next command.
"""
from __future__ import annotations

import os
import threading
from hashlib import sha1

import redis
from hiredis import pack_command  # redis[hiredis]: C, a third of redis-py's own packing
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError


class HeldRedis:
    def __init__(self, client: redis.Redis):
        self._pool = client.connection_pool
        self._local = threading.local()

    def _connection(self):
        held = getattr(self._local, "held", None)
        if held is None or held[0] != os.getpid():  # never a connection made before a fork
            held = self._local.held = (os.getpid(), self._pool.make_connection())
        return held[1]

    def _once(self, connection, args):
        try:
            connection.send_packed_command([pack_command(args)], check_health=False)
            return connection.read_response()
        except NoScriptError:
            raise
        except redis.ResponseError:
            raise
        except BaseException:
            connection.disconnect()
            raise

    def call(self, *args):
        """The reply to one command; `redis.RedisError` when Redis did not answer."""
        connection = self._connection()
        try:
            return self._once(connection, args)
        except RedisConnectionError:
            return self._once(connection, args)  # send_packed_command connects again

    def close(self) -> None:
        held = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None and held[0] == os.getpid():
            held[1].disconnect()


class HeldScript:
    """A Lua script run with `EVALSHA`, loaded again (`EVAL`) when Redis does not know it."""

    def __init__(self, held: HeldRedis, source: str):
        self._held = held
        self._source = source
        self._sha = sha1(source.encode()).hexdigest()

    def __call__(self, keys: list, args: list):
        try:
            return self._held.call("EVALSHA", self._sha, len(keys), *keys, *args)
        except NoScriptError:
            return self._held.call("EVAL", self._source, len(keys), *keys, *args)
