"""Checkout sessions for merchants: list (filtered, by cursor), retrieve, expire by hand.

Every answer shows the effective status at the moment of the request, so a session past its
`expires_at` reads as expired here whether or not the sweep has recorded it yet.
"""
from __future__ import annotations


from api import schemas, serializers
from api.http import page_query, parse_query, respond
from api.openapi import PAGE_QUERY, Operation, enum_query, id_query, readers
from domain import checkout_sessions
from domain.db import utcnow
from runtime import metrics
from runtime.settings import Settings

STATUSES = tuple(status.value for status in checkout_sessions.Status)
LIST_QUERY = PAGE_QUERY + (
    id_query("payment_link_id", "only sessions made from this link"),
    enum_query("status", STATUSES, "the effective status: `open` leaves out sessions past expires_at, "
                                   "`expired` includes them"),
)
LIST_PARAMS = readers(LIST_QUERY)


class Collection:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.list_shape = schemas.list_of(schemas.CheckoutSessionOut)

    def on_get(self, req, resp, account_id: str) -> None:
        now = utcnow()
        params = parse_query(req, LIST_PARAMS)
        found = checkout_sessions.page(req.context.uow, req.context.owner, page_query(params), now,
                                       status=params.get("status"), payment_link_id=params.get("payment_link_id"))
        data = [serializers.checkout_session(s, self.settings.checkout_base_url, now) for s in found.data]
        respond(resp, self.list_shape(data=data, has_more=found.has_more))


class Item:
    def __init__(self, settings: Settings):
        self.settings = settings

    def on_get(self, req, resp, account_id: str, session_id: str) -> None:
        found = checkout_sessions.get(req.context.uow, req.context.owner, session_id)
        respond(resp, serializers.checkout_session(found, self.settings.checkout_base_url, utcnow()))


class Expire:
    """`POST .../expire`: an open session becomes expired now; any other is a 409 `session_not_open`.
    Once committed, the same follow-up job as the sweep's announces it."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def on_post(self, req, resp, account_id: str, session_id: str) -> None:
        now = utcnow()
        session = checkout_sessions.expire(req.context.uow, req.context.owner, session_id, now)
        req.context.uow.after_commit(metrics.SESSIONS_EXPIRED.inc)
        respond(resp, serializers.checkout_session(session, self.settings.checkout_base_url, now))


def add_routes(app, settings: Settings) -> list[Operation]:
    collection_path = "/api/{account_id}/checkout-sessions"
    item_path = f"{collection_path}/{{session_id}}"
    expire_path = f"{item_path}/expire"
    app.add_route(collection_path, Collection(settings))
    app.add_route(item_path, Item(settings))
    app.add_route(expire_path, Expire(settings))
    out = schemas.CheckoutSessionOut
    tag = "checkout_sessions"
    return [
        Operation("GET", collection_path, "list_checkout_sessions", tag, "List checkout sessions, newest first",
                  schemas.list_of(out), query=LIST_QUERY),
        Operation("GET", item_path, "retrieve_checkout_session", tag, "Retrieve a checkout session", out),
        Operation("POST", expire_path, "expire_checkout_session", tag, "Expire an open checkout session now", out),
    ]
