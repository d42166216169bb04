"""`GET /api/pay/share/{secure_token}`: the public door of a payment link.

Two round trips when the link is cached: one script call (runtime/share_cache.py) applies the
rate limit, reads the link and what it sells as last read from PostgreSQL, and counts the open;
one `LPUSH` enqueues the session's creation. A miss (cold cache, Redis restarted, the account
changed) reads PostgreSQL (`LinkReader`) and fills the cache, counting the open in that call.
The session snapshot, id and checkout token are chosen here; the answer comes at once: 303 to
the hosted page for a browser, JSON for an API client. A browser over the limit, or at a link
that is not available, gets a page, an API client JSON.
"""
from __future__ import annotations

import logging

from api import schemas
from api.client_ip import client_ip
from api.enqueue import EnqueueFailed, TaskSender
from api.errors import ApiError, error_body
from api.http import respond
from api.openapi import Operation
from api.checkout.pages import not_available, wait_page
from api.html import wants_html
from api.ratelimit import Decision, RateLimiter, rate_limit_headers, retry_seconds, seconds
from domain import checkout_sessions
from domain.checkout_tokens import new_checkout_token
from domain.db import utcnow
from domain.ids import new_id, plausible_token
from domain.link_reader import LinkReader
from runtime import metrics
from runtime.settings import Settings
from runtime.share_cache import ShareCache

log = logging.getLogger("paymentkit.share")
NOT_AVAILABLE = error_body("invalid_request_error", "payment_link_unavailable",
                           "This payment link is not available.", None)


class Share:
    public = True

    def __init__(self, settings: Settings, links: LinkReader, limiter: RateLimiter, sender: TaskSender,
                 cache: ShareCache):
        self._settings = settings
        self._links = links
        self._limiter = limiter
        self._sender = sender
        self._cache = cache

    def on_get(self, req, resp, secure_token: str) -> None:
        now = utcnow()
        plausible = plausible_token(secure_token)
        opened = self._cache.open(client_ip(req, self._settings.trusted_proxy_count),
                                  secure_token if plausible else "-", self._limiter.capacity,
                                  self._limiter.refill_seconds, now)
        decision = Decision(opened.allowed, opened.remaining, retry_seconds(opened.allowed, opened.until_token_us),
                            seconds(opened.until_full_us))
        for name, value in rate_limit_headers(decision, self._limiter.capacity, self._limiter.refill_seconds).items():
            resp.set_header(name, value)
        if not decision.allowed:
            metrics.SHARE_RATE_LIMITED.inc()
            if wants_html(req):
                return wait_page(req, resp, decision.retry_after, title="Too many requests",
                                 what="Payment links have been opened too often from your network.",
                                 back_url=req.relative_uri, back_label="Try again")
            raise ApiError(429, "rate_limited", "Too many requests; try again shortly.",
                           headers={"Retry-After": str(decision.retry_after)})

        if opened.state == ShareCache.NOT_AVAILABLE or not plausible:
            return self._not_available(req, resp)
        link = opened.link
        if link is None:  # a miss: PostgreSQL, then the cache (which counts the open if it is sellable)
            link = self._links.find(secure_token)
            if link is not None:
                self._cache.fill(secure_token, opened.seen, link, checkout_sessions.sellable(link), now)
        session_id = new_id("cs", link.livemode) if link else ""
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
            not_available(req, resp)
        else:
            resp.status = 404
            resp.content_type = "application/json"
            resp.data = NOT_AVAILABLE


OPERATIONS = [
    Operation("GET", "/api/pay/share/{secure_token}", "open_share_link", "share",
              "Open a payment link: make a checkout session", schemas.ShareOut, public=True, extra_responses={303: "Browser: redirect to the hosted checkout",
                                                              503: "The session could not be enqueued"}),
]
