"""Webhook endpoints (SPEC 9): create (the secret shown once), list, retrieve, change, delete,
rotate the secret, and the attempts to deliver to it."""
from __future__ import annotations

from functools import partial

import msgspec

from api import schemas
from api.http import page_query, parse_query, read_json, respond
from api.openapi import PAGE_PARAMS, PAGE_QUERY, Operation
from domain import webhooks
from domain.models import WebhookEndpoint
from domain.processors import SecretBox
from runtime import webhook_http
from runtime.settings import Settings


def endpoint(found: WebhookEndpoint, secret: str | None = None) -> schemas.WebhookEndpointOut:
    fields = dict(id=found.id, url=found.url, description=found.description,
                  enabled_events=list(found.enabled_events), disabled=found.disabled,
                  disabled_reason=found.disabled_reason, disabled_at=found.disabled_at,
                  failing_since=found.failing_since, livemode=found.livemode, created_at=found.created_at,
                  updated_at=found.updated_at)
    if secret is not None:
        return schemas.WebhookEndpointSecretOut(**fields, secret=secret)
    return schemas.WebhookEndpointOut(**fields)


def attempt(view: webhooks.AttemptView) -> schemas.WebhookAttemptOut:
    a = view.attempt
    return schemas.WebhookAttemptOut(id=a.id, delivery_id=a.delivery_id, event_id=a.event_id,
                                     event_type=view.event_type, endpoint_id=a.endpoint_id, attempt=a.attempt,
                                     succeeded=a.succeeded, status_code=a.status_code, duration_ms=a.duration_ms,
                                     response_body=a.response_body, error=a.error, next_attempt_at=a.next_attempt_at,
                                     delivery_status=view.delivery_status, livemode=a.livemode,
                                     created_at=a.created_at)


class _Resource:
    def __init__(self, settings: Settings, box: SecretBox):
        self.settings = settings
        self.box = box
        self.refuse = partial(webhook_http.refusal, allow_private=settings.webhook_allow_private_urls)


class Collection(_Resource):
    list_shape = schemas.list_of(schemas.WebhookEndpointOut)

    def on_post(self, req, resp, account_id: str) -> None:
        body = read_json(req, schemas.WebhookEndpointCreate, self.settings.max_body_bytes)
        made, secret = webhooks.create(req.context.uow, req.context.owner,
                                       webhooks.NewEndpoint(**msgspec.structs.asdict(body)), self.box, self.refuse)
        respond(resp, endpoint(made, secret))

    def on_get(self, req, resp, account_id: str) -> None:
        found = webhooks.page(req.context.uow, req.context.owner, page_query(parse_query(req, PAGE_PARAMS)))
        respond(resp, self.list_shape(data=[endpoint(e) for e in found.data], has_more=found.has_more))


class Item(_Resource):
    def on_get(self, req, resp, account_id: str, endpoint_id: str) -> None:
        respond(resp, endpoint(webhooks.get(req.context.uow, req.context.owner, endpoint_id)))

    def on_patch(self, req, resp, account_id: str, endpoint_id: str) -> None:
        body = read_json(req, schemas.WebhookEndpointUpdate, self.settings.max_body_bytes)
        given = {name: value for name, value in msgspec.structs.asdict(body).items() if value is not msgspec.UNSET}
        changed = webhooks.update_endpoint(req.context.uow, req.context.owner, endpoint_id,
                                           webhooks.EndpointUpdate(**given), self.refuse)
        respond(resp, endpoint(changed))

    def on_delete(self, req, resp, account_id: str, endpoint_id: str) -> None:
        gone = webhooks.delete_endpoint(req.context.uow, req.context.owner, endpoint_id)
        respond(resp, schemas.DeletedOut(id=gone, object="webhook_endpoint", deleted=True))


class RotateSecret(_Resource):
    def on_post(self, req, resp, account_id: str, endpoint_id: str) -> None:
        rotated, secret = webhooks.rotate_secret(req.context.uow, req.context.owner, endpoint_id, self.box)
        respond(resp, endpoint(rotated, secret))


class Deliveries(_Resource):
    list_shape = schemas.list_of(schemas.WebhookAttemptOut)

    def on_get(self, req, resp, account_id: str, endpoint_id: str) -> None:
        found, has_more = webhooks.attempts_page(req.context.uow, req.context.owner, endpoint_id,
                                                 page_query(parse_query(req, PAGE_PARAMS)))
        respond(resp, self.list_shape(data=[attempt(a) for a in found], has_more=has_more))


def add_routes(app, settings: Settings, box: SecretBox) -> list[Operation]:
    collection_path = "/api/{account_id}/webhook-endpoints"
    item_path = f"{collection_path}/{{endpoint_id}}"
    rotate_path = f"{item_path}/rotate-secret"
    deliveries_path = f"{item_path}/deliveries"
    app.add_route(collection_path, Collection(settings, box))
    app.add_route(item_path, Item(settings, box))
    app.add_route(rotate_path, RotateSecret(settings, box))
    app.add_route(deliveries_path, Deliveries(settings, box))
    out, tag = schemas.WebhookEndpointOut, "webhook_endpoints"
    return [
        Operation("POST", collection_path, "create_webhook_endpoint", tag,
                  "Register a webhook endpoint (its secret is in this answer only)", schemas.WebhookEndpointSecretOut,
                  schemas.WebhookEndpointCreate),
        Operation("GET", collection_path, "list_webhook_endpoints", tag, "List webhook endpoints, newest first",
                  schemas.list_of(out), query=PAGE_QUERY),
        Operation("GET", item_path, "retrieve_webhook_endpoint", tag, "Retrieve a webhook endpoint", out),
        Operation("PATCH", item_path, "update_webhook_endpoint", tag, "Change, disable or enable a webhook endpoint",
                  out, schemas.WebhookEndpointUpdate),
        Operation("DELETE", item_path, "delete_webhook_endpoint", tag, "Delete a webhook endpoint",
                  schemas.DeletedOut),
        Operation("POST", rotate_path, "rotate_webhook_endpoint_secret", tag,
                  "A new signing secret; the previous one keeps signing beside it for 24 h",
                  schemas.WebhookEndpointSecretOut),
        Operation("GET", deliveries_path, "list_webhook_endpoint_deliveries", tag,
                  "Delivery attempts to this endpoint, newest first", schemas.list_of(schemas.WebhookAttemptOut),
                  query=PAGE_QUERY),
    ]
