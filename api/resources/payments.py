"""Payments (list, filtered, by cursor; retrieve), refunding one, and a customer's saved payment
methods (SPEC 7).

A refund runs its own transactions (hold the amount, call the processor, record the outcome:
domain/payment_records.py), so the request's unit of work is rolled back before it starts: no
connection or lock of ours is held while the processor answers.
"""
from __future__ import annotations

from api import schemas, serializers
from api.http import page_query, parse_query, read_json, respond
from api.openapi import PAGE_QUERY, Operation, enum_query, id_query, readers
from domain import payment_records
from domain.db import utcnow
from domain.payments.states import PaymentStatus

STATUSES = tuple(status.value for status in PaymentStatus)
LIST_QUERY = PAGE_QUERY + (
    id_query("checkout_session_id", "only payments of this checkout session"),
    id_query("customer_id", "only payments of this customer"),
    enum_query("status", STATUSES),
)
LIST_PARAMS = readers(LIST_QUERY)


class Collection:
    def __init__(self):
        self.list_shape = schemas.list_of(schemas.PaymentOut)

    def on_get(self, req, resp, account_id: str) -> None:
        uow = req.context.uow
        found = payment_records.page(uow, req.context.owner,
                                     page_query(parse_query(req, LIST_PARAMS), payment_records.LIST_FILTERS))
        refunds = payment_records.refunds_of(uow, [p.id for p in found.data])
        respond(resp, self.list_shape(data=[serializers.payment(p, refunds[p.id]) for p in found.data],
                                      has_more=found.has_more))


class Item:
    def on_get(self, req, resp, account_id: str, payment_id: str) -> None:
        uow = req.context.uow
        found = payment_records.get(uow, req.context.owner, payment_id)
        respond(resp, serializers.payment(found, payment_records.refunds_of(uow, [found.id])[found.id]))


class Refunds:
    """`POST .../refunds`: refund all or part of a succeeded payment."""

    runs_own_transactions = True  # api/middleware.py commits an Idempotency-Key's claim up front

    def __init__(self, deps):
        self._deps = deps

    def on_post(self, req, resp, account_id: str, payment_id: str) -> None:
        body = read_json(req, schemas.RefundCreate, self._deps.settings.max_body_bytes)
        owner, uow = req.context.owner, req.context.uow
        taken_by = payment_records.get(uow, owner, payment_id).processor  # refunded where it was paid
        processor = self._deps.processors.for_processor(uow, owner, taken_by)
        uow.rollback()  # the reads above are done: hold no connection while refunding
        refund_id = payment_records.refund(self._deps.units, owner, payment_id,
                                           payment_records.NewRefund(body.amount_atom, body.reason), processor, utcnow)
        respond(resp, serializers.refund(payment_records.get_refund(uow, owner, refund_id)))


class PaymentMethods:
    """`GET /customers/{object_id}/payment-methods`: the customer's saved cards, newest first (the
    customer's id is `object_id`, as on the customer's own route: Falcon wants one name per level)."""

    def __init__(self):
        self.list_shape = schemas.list_of(schemas.PaymentMethodOut)

    def on_get(self, req, resp, account_id: str, object_id: str) -> None:
        parse_query(req, {})
        found = payment_records.payment_methods_of(req.context.uow, req.context.owner, object_id)
        respond(resp, self.list_shape(data=[serializers.payment_method(m) for m in found], has_more=False))


def add_routes(app, deps) -> list[Operation]:
    collection_path = "/api/{account_id}/payments"
    item_path = f"{collection_path}/{{payment_id}}"
    refunds_path = f"{item_path}/refunds"
    methods_path = "/api/{account_id}/customers/{object_id}/payment-methods"
    app.add_route(collection_path, Collection())
    app.add_route(item_path, Item())
    app.add_route(refunds_path, Refunds(deps))
    app.add_route(methods_path, PaymentMethods())
    out = schemas.PaymentOut
    return [
        Operation("GET", collection_path, "list_payments", "payments", "List payments, newest first",
                  schemas.list_of(out), query=LIST_QUERY),
        Operation("GET", item_path, "retrieve_payment", "payments", "Retrieve a payment with its refunds", out),
        Operation("POST", refunds_path, "create_refund", "refunds",
                  "Refund all or part of a succeeded payment (409 `payment_not_refundable` otherwise)",
                  schemas.RefundOut, schemas.RefundCreate),
        Operation("GET", methods_path, "list_payment_methods", "payment_methods",
                  "List a customer's saved payment methods, newest first", schemas.list_of(schemas.PaymentMethodOut)),
    ]
