"""Payment Links: the list, Create Payment Link, a link's page (share URL, QR code, settings,
sessions, counts and revenue) and Deactivate."""
from __future__ import annotations

import segno

from api import serializers
from api.dashboard import forms, funnel_chart, labels
from api.dashboard.auth import csrf_token
from api.dashboard.web import PREFIX, owned, pager, page_query, read_form, redirect, render
from domain import catalog, checkout_sessions, funnel, payment_links, payment_records
from domain.db import utcnow
from domain.errors import InvalidRequest
from domain.queries import PageQuery
from runtime.settings import Settings

LINKS = f"{PREFIX}/payment-links"


class LinkList:
    dashboard = True

    def on_get(self, req, resp) -> None:
        active = req.get_param("active") if req.get_param("active") in ("true", "false") else ""
        mode = req.get_param("mode") if req.get_param("mode") in payment_links.MODES else ""
        filters = {}
        if active:
            filters["is_active"] = active == "true"
        if mode:
            filters["mode"] = mode
        query = page_query(req, filters)
        try:
            found = payment_links.page(req.context.uow, req.context.owner, query)
        except InvalidRequest:  # a cursor from the other mode, or made up
            return redirect(resp, LINKS)
        render(req, resp, "links.html", links=found.data, active=active, mode=mode, modes=payment_links.MODES,
               pages=pager(LINKS, {"active": active, "mode": mode}, found, query), section="links")


class LinkNew:
    dashboard = True

    def __init__(self, settings: Settings):
        self._settings = settings

    def _form(self, req, resp, values, errors=None, status=200) -> None:
        uow, owner = req.context.uow, req.context.owner
        render(req, resp, "link_new.html", status=status, values=values, errors=errors or {},
               csrf_token=csrf_token(req), prices=labels.price_labels(uow, owner, active_only=True),
               packages=catalog.active_packages(uow, owner),
               coupons=[(c.id, labels.coupon_label(c)) for c in catalog.active_coupons(uow, owner)],
               methods=payment_links.PAYMENT_METHODS, rows=forms.LINK_ROWS, modes=payment_links.MODES,
               section="links")

    def on_get(self, req, resp) -> None:
        self._form(req, resp, {"mode": "payment", "cart": "prices", "methods": "all",
                               "expires_in_hours": str(payment_links.DEFAULT_EXPIRES_IN_HOURS)})

    def on_post(self, req, resp) -> None:
        form = read_form(req, self._settings.max_body_bytes)
        rename: dict[str, str] = {}
        try:
            cmd, rename = forms.link_command(form)
            link = payment_links.create(req.context.uow, req.context.owner, cmd)
        except InvalidRequest as error:
            return self._form(req, resp, form.values(), forms.errors_of(error, forms.LINK_FIELDS, rename), 400)
        redirect(resp, f"{LINKS}/{link.id}")


class LinkPage:
    dashboard = True

    def __init__(self, settings: Settings):
        self._settings = settings

    def on_get(self, req, resp, link_id: str) -> None:
        uow, owner, now = req.context.uow, req.context.owner, utcnow()
        link = owned(payment_links.get, req, link_id)
        url = serializers.payment_link(link, self._settings.public_base_url).url
        qr = segno.make(url, error="m")
        sessions = checkout_sessions.page(uow, owner, PageQuery(limit=10), now, payment_link_id=link.id)
        coupon = owned(catalog.get, req, "coupons", link.coupon_id) if link.coupon_id else None
        days = funnel.daily(uow, owner, link.id, now)
        render(req, resp, "link.html", link=link, url=url, csrf_token=csrf_token(req),
               qr_svg=qr.svg_data_uri(scale=5, border=2), qr_png=qr.png_data_uri(scale=10, border=2),
               prices=labels.price_labels(uow, owner, [item["price_id"] for item in link.line_items]),
               coupon=labels.coupon_label(coupon) if coupon else None,
               counts=payment_links.counts(uow, owner, link.id, now), sessions=sessions.data,
               revenue=payment_records.link_revenue(uow, owner, link.id),
               more_sessions=sessions.has_more, now=now, section="links", funnel=days,
               funnel_bars=funnel_chart.bars(days), funnel_text=funnel_chart.description(days),
               conversion=funnel.conversion)


class LinkDeactivate:
    """A confirmation page, then the POST that deactivates (shared URLs stop working)."""

    dashboard = True

    def on_get(self, req, resp, link_id: str) -> None:
        link = owned(payment_links.get, req, link_id)
        render(req, resp, "link_deactivate.html", link=link, csrf_token=csrf_token(req), section="links")

    def on_post(self, req, resp, link_id: str) -> None:
        owned(payment_links.get, req, link_id)
        payment_links.deactivate(req.context.uow, req.context.owner, link_id)
        redirect(resp, f"{LINKS}/{link_id}")
