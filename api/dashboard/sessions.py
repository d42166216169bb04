"""Checkout Sessions: the list (by status, or of one link) and a session's snapshot and amounts."""
from __future__ import annotations

from api.dashboard import stats
from api.dashboard.links import owned
from api.dashboard.web import PREFIX, page_query, pager, redirect, render
from domain import expiry, listing
from domain.db import utcnow
from domain.errors import InvalidRequest
from domain.models import CheckoutSession, PaymentLink

SESSIONS = f"{PREFIX}/checkout-sessions"
STATUSES = ("open", "complete", "expired")


class SessionList:
    dashboard = True

    def on_get(self, req, resp) -> None:
        status = req.get_param("status") if req.get_param("status") in STATUSES else ""
        link_id = req.get_param("payment_link_id") or ""
        now = utcnow()
        query = page_query(req, {"payment_link_id": link_id[:64]} if link_id else {})
        if status:  # the effective status, as the page shows it
            query.where.append(expiry.status_condition(status, now))
        try:
            found = listing.page(req.context.uow.session, CheckoutSession, req.context.owner, query)
        except InvalidRequest:
            return redirect(resp, SESSIONS)
        render(req, resp, "sessions.html", sessions=found.data, status_filter=status, statuses=STATUSES,
               link_id=link_id, now=now, section="sessions",
               pages=pager(SESSIONS, {"status": status, "payment_link_id": link_id}, found, query))


class SessionPage:
    dashboard = True

    def on_get(self, req, resp, session_id: str) -> None:
        checkout = owned(req, CheckoutSession, session_id)
        session, owner = req.context.uow.session, req.context.owner
        link = session.get(PaymentLink, checkout.payment_link_id)
        price_ids = [line["price_id"] for line in checkout.line_items]
        render(req, resp, "session.html", checkout=checkout, link=link, now=utcnow(), section="sessions",
               prices=stats.price_labels(session, owner, price_ids) if price_ids else {})
