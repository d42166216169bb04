"""Payment links: create, list (filtered, by cursor), retrieve, change, deactivate."""
from __future__ import annotations


import msgspec

from api import schemas, serializers
from api.http import page_query, parse_query, read_json, respond
from api.openapi import PAGE_QUERY, Operation, bool_query, enum_query, id_query, readers, time_query
from domain import payment_links
from runtime.settings import Settings

LIST_QUERY = PAGE_QUERY + (
    bool_query("is_active"),
    enum_query("mode", payment_links.MODES),
    id_query("customer_id", "only links of this customer"),
    time_query("created[gte]", "RFC 3339 time or Unix seconds: created at or after"),
    time_query("created[lte]", "RFC 3339 time or Unix seconds: created at or before"),
)
LIST_PARAMS = readers(LIST_QUERY)


def new_link_command(body: schemas.PaymentLinkCreate) -> payment_links.NewPaymentLink:
    fields = msgspec.structs.asdict(body)
    if body.line_items is not None:
        fields["line_items"] = [payment_links.LineItem(**msgspec.structs.asdict(item)) for item in body.line_items]
    return payment_links.NewPaymentLink(**fields)


def update_command(body: schemas.PaymentLinkUpdate) -> payment_links.PaymentLinkUpdate:
    given = {name: value for name, value in msgspec.structs.asdict(body).items() if value is not msgspec.UNSET}
    return payment_links.PaymentLinkUpdate(**given)


class Collection:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.list_shape = schemas.list_of(schemas.PaymentLinkOut)

    def on_post(self, req, resp, account_id: str) -> None:
        body = read_json(req, schemas.PaymentLinkCreate, self.settings.max_body_bytes)
        link = payment_links.create(req.context.uow, req.context.owner, new_link_command(body))
        respond(resp, serializers.payment_link(link, self.settings.public_base_url))

    def on_get(self, req, resp, account_id: str) -> None:
        query = page_query(parse_query(req, LIST_PARAMS), payment_links.LIST_FILTERS)
        found = payment_links.page(req.context.uow, req.context.owner, query)
        data = [serializers.payment_link(link, self.settings.public_base_url) for link in found.data]
        respond(resp, self.list_shape(data=data, has_more=found.has_more))


class Item:
    def __init__(self, settings: Settings):
        self.settings = settings

    def on_get(self, req, resp, account_id: str, link_id: str) -> None:
        link = payment_links.get(req.context.uow, req.context.owner, link_id)
        respond(resp, serializers.payment_link(link, self.settings.public_base_url))

    def on_patch(self, req, resp, account_id: str, link_id: str) -> None:
        body = read_json(req, schemas.PaymentLinkUpdate, self.settings.max_body_bytes)
        link = payment_links.update(req.context.uow, req.context.owner, link_id, update_command(body))
        respond(resp, serializers.payment_link(link, self.settings.public_base_url))

    def on_delete(self, req, resp, account_id: str, link_id: str) -> None:
        link = payment_links.deactivate(req.context.uow, req.context.owner, link_id)
        respond(resp, serializers.payment_link(link, self.settings.public_base_url))


def add_routes(app, settings: Settings) -> list[Operation]:
    collection_path = "/api/{account_id}/payment-links"
    item_path = f"{collection_path}/{{link_id}}"
    app.add_route(collection_path, Collection(settings))
    app.add_route(item_path, Item(settings))
    out = schemas.PaymentLinkOut
    tag = "payment_links"
    return [
        Operation("POST", collection_path, "create_payment_link", tag, "Create a payment link", out,
                  schemas.PaymentLinkCreate),
        Operation("GET", collection_path, "list_payment_links", tag, "List payment links, newest first",
                  schemas.list_of(out), query=LIST_QUERY),
        Operation("GET", item_path, "retrieve_payment_link", tag, "Retrieve a payment link", out),
        Operation("PATCH", item_path, "update_payment_link", tag, "Change a payment link", out,
                  schemas.PaymentLinkUpdate),
        Operation("DELETE", item_path, "deactivate_payment_link", tag,
                  "Deactivate a payment link (soft delete, repeatable)", out),
    ]
