"""Checkout Sessions: the list (by status and link, with each session's customer and the list's
totals) and a session's snapshot, amounts, customer and payment."""
from __future__ import annotations

from api.dashboard import labels
from api.dashboard.web import PREFIX, owned, page_query, pager, redirect, render
from domain import checkout_sessions, payment_links, payment_records, reports
from domain.db import utcnow
from domain.errors import InvalidRequest

SESSIONS = f"{PREFIX}/checkout-sessions"
STATUSES = tuple(status.value for status in checkout_sessions.Status)


class SessionList:
    dashboard = True

    def on_get(self, req, resp) -> None:
        status = req.get_param("status") if req.get_param("status") in STATUSES else ""
        link_id = (req.get_param("payment_link_id") or "")[:64]
        now = utcnow()
        query = page_query(req, {})
        uow, owner = req.context.uow, req.context.owner
        try:
            found = checkout_sessions.page(uow, owner, query, now, status=status or None,
                                           payment_link_id=link_id or None)
        except InvalidRequest:
            return redirect(resp, SESSIONS)
        links = reports.link_choices(uow, owner)
        render(req, resp, "sessions.html", sessions=found.data, status_filter=status, statuses=STATUSES,
               link_id=link_id, links=links, link_names=dict(links), now=now, section="sessions",
               customers=payment_records.customers_by_id(uow, owner, [s.customer_id for s in found.data]),
               totals=reports.session_totals(uow, owner, now, status=status or None, payment_link_id=link_id or None),
               pages=pager(SESSIONS, {"status": status, "payment_link_id": link_id}, found, query))


class SessionPage:
    dashboard = True

    def on_get(self, req, resp, session_id: str) -> None:
        checkout = owned(checkout_sessions.get, req, session_id)
        uow, owner = req.context.uow, req.context.owner
        link = owned(payment_links.get, req, checkout.payment_link_id)
        payment = owned(payment_records.get, req, checkout.payment_id) if checkout.payment_id else None
        method = owned(payment_records.payment_method, req, checkout.payment_method_id) \
            if checkout.payment_method_id else None
        render(req, resp, "session.html", checkout=checkout, link=link, now=utcnow(), section="sessions",
               prices=labels.price_labels(uow, owner, [line["price_id"] for line in checkout.line_items]),
               customer=payment_records.customers_by_id(uow, owner, [checkout.customer_id]).get(checkout.customer_id),
               payment=payment, method=method, card_label=labels.card_label)
