"""Subscriptions and their invoices (SPEC 8): list (filtered, by cursor), retrieve, cancel."""
from __future__ import annotations

from api import schemas, serializers
from api.http import page_query, parse_query, raw_body, read_json, respond
from api.openapi import PAGE_QUERY, Operation, enum_query, id_query, readers
from domain import subscriptions
from domain.db import utcnow

LIST_QUERY = PAGE_QUERY + (
    id_query("customer_id", "only subscriptions of this customer"),
    enum_query("status", subscriptions.STATUSES),
    id_query("payment_link_id", "only subscriptions started from this payment link"),
)
LIST_PARAMS = readers(LIST_QUERY)
INVOICE_QUERY = PAGE_QUERY + (id_query("subscription_id", "only invoices of this subscription"),)
INVOICE_PARAMS = readers(INVOICE_QUERY)


class Collection:
    def __init__(self):
        self.list_shape = schemas.list_of(schemas.SubscriptionOut)

    def on_get(self, req, resp, account_id: str) -> None:
        found = subscriptions.page(req.context.uow, req.context.owner,
                                   page_query(parse_query(req, LIST_PARAMS), subscriptions.LIST_FILTERS))
        respond(resp, self.list_shape(data=[serializers.subscription(s) for s in found.data], has_more=found.has_more))


class Item:
    def on_get(self, req, resp, account_id: str, subscription_id: str) -> None:
        respond(resp, serializers.subscription(subscriptions.get(req.context.uow, req.context.owner, subscription_id)))


class Cancel:
    """`POST .../cancel`: at the period's end unless `{"at_period_end": false}` (an empty body is the default)."""

    def __init__(self, max_body_bytes: int):
        self.max_body_bytes = max_body_bytes

    def on_post(self, req, resp, account_id: str, subscription_id: str) -> None:
        body = read_json(req, schemas.SubscriptionCancel, self.max_body_bytes) \
            if raw_body(req, self.max_body_bytes).strip() else schemas.SubscriptionCancel()
        canceled = subscriptions.cancel(req.context.uow, req.context.owner, subscription_id,
                                        at_period_end=body.at_period_end, now=utcnow())
        respond(resp, serializers.subscription(canceled))


class Invoices:
    def __init__(self):
        self.list_shape = schemas.list_of(schemas.InvoiceOut)

    def on_get(self, req, resp, account_id: str) -> None:
        found = subscriptions.invoice_page(req.context.uow, req.context.owner,
                                           page_query(parse_query(req, INVOICE_PARAMS), subscriptions.INVOICE_FILTERS))
        respond(resp, self.list_shape(data=[serializers.invoice(i) for i in found.data], has_more=found.has_more))


class Invoice:
    def on_get(self, req, resp, account_id: str, invoice_id: str) -> None:
        respond(resp, serializers.invoice(subscriptions.get_invoice(req.context.uow, req.context.owner, invoice_id)))


def add_routes(app, max_body_bytes: int) -> list[Operation]:
    collection_path = "/api/{account_id}/subscriptions"
    item_path = f"{collection_path}/{{subscription_id}}"
    cancel_path = f"{item_path}/cancel"
    invoices_path = "/api/{account_id}/invoices"
    invoice_path = f"{invoices_path}/{{invoice_id}}"
    app.add_route(collection_path, Collection())
    app.add_route(item_path, Item())
    app.add_route(cancel_path, Cancel(max_body_bytes))
    app.add_route(invoices_path, Invoices())
    app.add_route(invoice_path, Invoice())
    out, invoice = schemas.SubscriptionOut, schemas.InvoiceOut
    return [
        Operation("GET", collection_path, "list_subscriptions", "subscriptions", "List subscriptions, newest first",
                  schemas.list_of(out), query=LIST_QUERY),
        Operation("GET", item_path, "retrieve_subscription", "subscriptions", "Retrieve a subscription", out),
        Operation("POST", cancel_path, "cancel_subscription", "subscriptions",
                  "Cancel a subscription at the end of its period (the default) or now; repeating it is harmless",
                  out, schemas.SubscriptionCancel),
        Operation("GET", invoices_path, "list_invoices", "invoices", "List invoices, newest first",
                  schemas.list_of(invoice), query=INVOICE_QUERY),
        Operation("GET", invoice_path, "retrieve_invoice", "invoices", "Retrieve an invoice", invoice),
    ]
