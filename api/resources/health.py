"""`/healthz`: the process is alive. `/readyz`: PostgreSQL and Redis answer (and the broker's
Redis too, when the rate limiter has a Redis of its own).

Both are on the public port for load balancers, so they say only ok or not: which dependency is
down (and how the deployment is split) goes to the web log, for the operator.
"""
from __future__ import annotations

import logging

from sqlalchemy import text

from api.http import respond
from api.openapi import Operation

log = logging.getLogger("paymentkit.api")


class Health:
    public = True

    def on_get(self, req, resp) -> None:
        respond(resp, {"status": "ok"})


class Ready:
    public = True

    def __init__(self, engine, redis_client, broker_client=None):
        self._engine = engine
        self._redis = redis_client
        self._broker = broker_client

    def on_get(self, req, resp) -> None:
        checks = {"postgresql": self._postgres_ok(), "redis": self._ping(self._redis)}
        if self._broker is not None:
            checks["broker"] = self._ping(self._broker)
        down = [name for name, ok in checks.items() if not ok]
        if down:
            log.warning("not ready: %s down", ", ".join(down))
        respond(resp, {"status": "unavailable" if down else "ready"}, 503 if down else 200)

    def _postgres_ok(self) -> bool:
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    @staticmethod
    def _ping(client) -> bool:
        try:
            return bool(client.ping())
        except Exception:
            return False


OPERATIONS = [
    Operation("GET", "/healthz", "check_health", "health", "Is the process alive", public=True),
    Operation("GET", "/readyz", "check_readiness", "health", "Do PostgreSQL and Redis answer", public=True,
              extra_responses={503: "A dependency is down"}),
]
