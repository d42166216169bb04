"""The share bench's two baselines, served by gunicorn with the real app's settings.

`io_app` does only the I/O of a share request, through the same client libraries with nothing
around them: one `EVALSHA` of a trivial script, one SELECT of a payment link by its unique
`secure_token` (raw psycopg, autocommit), one `LPUSH` of a message the size of the real Celery
message (BENCH_MESSAGE_BYTES, measured by the bench). `constant_app` answers a constant.
Connections are made lazily, per thread, after gunicorn forks.
"""
from __future__ import annotations

import os
import threading

import falcon

ROUTE = "/api/pay/share/{secure_token}"
BODY = (b'{"checkout_session_id":"cs_live_4mWq8ZrT2bN6yLcX0aPfKd","checkout_url":'
        b'"http://127.0.0.1:8000/checkout/1735689600.cs4mWq8ZrT2bN6yLcX0aPfKd.9tQ2VvB1xYz7uE3wRk5sHcNdLmGa0Jp8"}')
TRIVIAL_LUA = "return {1, 9, 0, 6000000}"
SELECT_LINK = "SELECT * FROM payment_links WHERE secure_token = %s"


class Health:
    def on_get(self, req, resp):
        resp.media = {"status": "ok"}


class Constant:
    def on_get(self, req, resp, secure_token: str) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.data = BODY


class BareIO:
    def __init__(self):
        self._local = threading.local()
        self._prefix = os.environ.get("REDIS_KEY_PREFIX", "") + "bare:"
        self._payload = b"x" * int(os.environ.get("BENCH_MESSAGE_BYTES", "2048"))

    def _clients(self):
        local = self._local
        if not hasattr(local, "db"):
            import psycopg
            import redis

            local.db = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
            local.redis = redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=1, socket_timeout=1)
            local.script = local.redis.register_script(TRIVIAL_LUA)
        return local

    def on_get(self, req, resp, secure_token: str) -> None:
        local = self._clients()
        local.script(keys=[self._prefix + "limit"], args=[10, "6.0"])
        row = local.db.execute(SELECT_LINK, (secure_token,)).fetchone()
        if row is None:
            raise falcon.HTTPNotFound()
        local.redis.lpush(self._prefix + "sessions", self._payload)
        resp.content_type = falcon.MEDIA_JSON
        resp.data = BODY


def _app(resource) -> falcon.App:
    app = falcon.App()
    app.add_route("/healthz", Health())
    app.add_route(ROUTE, resource)
    return app


io_app = _app(BareIO())
constant_app = _app(Constant())
