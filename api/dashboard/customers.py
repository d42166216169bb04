"""Customers: the list (email, name, payments and their total, created), and a customer's page with
their payments, checkout sessions and saved cards (customers are
made at checkout from the email entered, or through the API)."""
from __future__ import annotations

from api.dashboard import labels, subscriptions
from api.dashboard.web import PREFIX, owned, page_query, pager, redirect, render
from domain import catalog, checkout_sessions, payment_records, reports
from domain.db import utcnow
from domain.errors import InvalidRequest
from domain.queries import PageQuery

CUSTOMERS = f"{PREFIX}/customers"


class CustomerList:
    dashboard = True

    def on_get(self, req, resp) -> None:
        query = page_query(req, {})
        try:
            found = catalog.page(req.context.uow, req.context.owner, "customers", query)
        except InvalidRequest:
            return redirect(resp, CUSTOMERS)
        render(req, resp, "customers.html", customers=found.data, pages=pager(CUSTOMERS, {}, found, query),
               stats=reports.customer_stats(req.context.uow, req.context.owner, [c.id for c in found.data]),
               section="customers")


class CustomerPage:
    dashboard = True

    def on_get(self, req, resp, customer_id: str) -> None:
        uow, owner = req.context.uow, req.context.owner
        customer = owned(catalog.get, req, "customers", customer_id)
        payments = payment_records.page(uow, owner, PageQuery(limit=10, filters={"customer_id": customer.id}))
        now = utcnow()
        sessions = checkout_sessions.page(uow, owner, PageQuery(limit=10, filters={"customer_id": customer.id}), now)
        render(req, resp, "customer.html", customer=customer, payments=payments.data, now=now,
               sessions=sessions.data, more_sessions=sessions.has_more,
               stat=reports.customer_stats(uow, owner, [customer.id])[customer.id],
               more_payments=payments.has_more, cards=payment_records.payment_methods_of(uow, owner, customer.id),
               card_label=labels.card_label, section="customers",
               subscriptions=subscriptions.of_customer(uow, owner, customer.id))
