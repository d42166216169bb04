"""`GET /api/pay/share/{secure_token}`: the public door of a payment link.

Rate limit (one Redis round trip) -> the link and what it sells (one SQL round trip, no
transaction) -> the session snapshot, id and checkout token chosen here -> enqueue its creation
-> answer at once: 303 to the hosted page for a browser, JSON for an API client.
"""
from __future__ import annotations

import logging
import threading

import psycopg
from psycopg.rows import dict_row

from api import schemas
from api.client_ip import client_ip
from api.enqueue import EnqueueFailed, TaskSender
from api.errors import ApiError, error_body
from api.http import respond
from api.openapi import Operation
from api.pages import render, wants_html
from api.ratelimit import RateLimiter, rate_limit_headers
from domain import checkout_sessions
from domain.checkout_tokens import new_checkout_token
from domain.db import utcnow
from domain.ids import new_id
from runtime import metrics
from runtime.settings import Settings

log = logging.getLogger("paymentkit.share")
MAX_TOKEN_CHARS = 64
NOT_AVAILABLE = error_body("invalid_request_error", "payment_link_unavailable",
                           "This payment link is not available.", None)


class Share:
    public = True

    def __init__(self, settings: Settings, engine, limiter: RateLimiter, sender: TaskSender):
        self._settings = settings
        self._engine = engine
        self._link_sql = checkout_sessions.link_for_share_sql(engine.dialect)
        self._local = threading.local()  # one connection per thread (gthread workers have several)
        self._limiter = limiter
        self._sender = sender

    def _find_link(self, secure_token: str) -> dict | None:
        """`checkout_sessions.find_link_for_share`, run on the driver over this thread's own
        connection: SQLAlchemy's execution layer, the pool's checkout and its pre-ping round trip
        were half this endpoint's CPU (bench/README.md). A connection found broken (PostgreSQL
        restarted) is replaced and the read tried once more; PostgreSQL out of reach is a 503."""
        held = getattr(self._local, "connection", None)
        try:
            try:
                return self._read_link(held or self._connect(), secure_token)
            except psycopg.OperationalError:
                self._drop_connection()
                if held is None:
                    raise
            return self._read_link(self._connect(), secure_token)
        except psycopg.OperationalError:
            self._drop_connection()
            raise ApiError(503, "service_unavailable",
                           "A service this request needs is unavailable; try again shortly.",
                           headers={"Retry-After": "5"}) from None

    def _read_link(self, connection, secure_token: str) -> dict | None:
        with connection.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(self._link_sql, {"token": secure_token}).fetchone()

    def _connect(self):
        """A connection made by the engine (its URL, connect arguments and events), taken out of
        its pool for good and kept in autocommit: a single read needs no BEGIN/ROLLBACK."""
        pooled = self._engine.raw_connection()
        connection = pooled.driver_connection
        pooled.detach()
        connection.autocommit = True
        self._local.connection = connection
        return connection

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    def on_get(self, req, resp, secure_token: str) -> None:
        decision = self._limiter.check(client_ip(req, self._settings.trusted_proxy_count))
        for name, value in rate_limit_headers(decision, self._limiter.capacity, self._limiter.refill_seconds).items():
            resp.set_header(name, value)
        if not decision.allowed:
            metrics.SHARE_RATE_LIMITED.inc()
            raise ApiError(429, "rate_limited", "Too many requests; try again shortly.",
                           headers={"Retry-After": str(decision.retry_after)})

        now = utcnow()
        link = None
        if len(secure_token) <= MAX_TOKEN_CHARS and "\x00" not in secure_token:  # PostgreSQL refuses NUL
            link = self._find_link(secure_token)
        session_id = new_id("cs", link["livemode"]) if link else ""
        checkout_token = new_checkout_token(self._settings.secret_key, now)
        snapshot = checkout_sessions.new_session(link, session_id=session_id, checkout_token=checkout_token, now=now)
        if snapshot is None:
            return self._not_available(req, resp)

        try:
            self._sender.send("checkout_sessions.create", [snapshot], task_id=session_id)
        except EnqueueFailed as failure:
            metrics.ENQUEUE_FAILURES.inc()
            log.warning("could not enqueue a checkout session: %s", failure)
            raise ApiError(503, "service_unavailable", "Checkout is unavailable right now; try again shortly.",
                           headers={"Retry-After": "5"}) from None

        metrics.SHARE_OPENS.inc()
        checkout_url = f"{self._settings.checkout_base_url}/checkout/{checkout_token}"
        if wants_html(req):
            resp.status = 303
            resp.location = checkout_url
            resp.set_header("Cache-Control", "no-store")
            return
        respond(resp, schemas.ShareOut(checkout_session_id=session_id, checkout_url=checkout_url))

    @staticmethod
    def _not_available(req, resp) -> None:
        """One answer for unknown, inactive and unsellable links: nothing tells them apart."""
        metrics.SHARE_NOT_AVAILABLE.inc()
        if wants_html(req):
            render(resp, "link_unavailable.html", status=404)
        else:
            resp.status = 404
            resp.content_type = "application/json"
            resp.data = NOT_AVAILABLE


OPERATIONS = [
    Operation("GET", "/api/pay/share/{secure_token}", "open_share_link", "share",
              "Open a payment link: make a checkout session", schemas.ShareOut, public=True, extra_responses={303: "Browser: redirect to the hosted checkout",
                                                              503: "The session could not be enqueued"}),
]
