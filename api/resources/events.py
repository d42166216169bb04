"""Events (SPEC 9): list (by type, by cursor), retrieve, and send one again to an endpoint."""
from __future__ import annotations

from api import schemas
from api.http import page_query, parse_query, read_json, respond
from api.openapi import PAGE_QUERY, Operation, enum_query, readers
from domain import events, webhooks
from domain.models import Event, WebhookDelivery
from runtime.settings import Settings

LIST_QUERY = PAGE_QUERY + (enum_query("type", events.TYPES, "only events of this type"),)
LIST_PARAMS = readers(LIST_QUERY)


def event(found: Event) -> schemas.EventOut:
    return schemas.EventOut(id=found.id, type=found.type, data=schemas.EventData(object=found.data["object"]),
                            created_at=found.created_at, livemode=found.livemode)


def delivery(found: WebhookDelivery) -> schemas.WebhookDeliveryOut:
    return schemas.WebhookDeliveryOut(id=found.id, event_id=found.event_id, endpoint_id=found.endpoint_id,
                                      status=found.status, attempts=found.attempts,
                                      next_attempt_at=found.next_attempt_at, livemode=found.livemode,
                                      created_at=found.created_at, updated_at=found.updated_at)


class Collection:
    list_shape = schemas.list_of(schemas.EventOut)

    def on_get(self, req, resp, account_id: str) -> None:
        found = events.page(req.context.uow, req.context.owner,
                            page_query(parse_query(req, LIST_PARAMS), events.LIST_FILTERS))
        respond(resp, self.list_shape(data=[event(e) for e in found.data], has_more=found.has_more))


class Item:
    def on_get(self, req, resp, account_id: str, event_id: str) -> None:
        respond(resp, event(events.get(req.context.uow, req.context.owner, event_id)))


class Redeliver:
    """`POST .../redeliver` with `endpoint_id`: a new delivery of the event to that endpoint."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def on_post(self, req, resp, account_id: str, event_id: str) -> None:
        body = read_json(req, schemas.RedeliverRequest, self.settings.max_body_bytes)
        made = webhooks.redeliver(req.context.uow, req.context.owner, event_id, body.endpoint_id)
        respond(resp, delivery(made))


def add_routes(app, settings: Settings) -> list[Operation]:
    collection_path = "/api/{account_id}/events"
    item_path = f"{collection_path}/{{event_id}}"
    redeliver_path = f"{item_path}/redeliver"
    app.add_route(collection_path, Collection())
    app.add_route(item_path, Item())
    app.add_route(redeliver_path, Redeliver(settings))
    tag = "events"
    return [
        Operation("GET", collection_path, "list_events", tag, "List events, newest first (kept 30 days)",
                  schemas.list_of(schemas.EventOut), query=LIST_QUERY),
        Operation("GET", item_path, "retrieve_event", tag, "Retrieve an event", schemas.EventOut),
        Operation("POST", redeliver_path, "redeliver_event", tag, "Send an event again to one webhook endpoint",
                  schemas.WebhookDeliveryOut, schemas.RedeliverRequest),
    ]
