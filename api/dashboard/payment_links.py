"""Payment Links: the list, Create Payment Link, a link's page (share URL, QR code, settings,
sessions, counts and revenue), Edit (what PATCH may change), Deactivate and Reactivate."""
from __future__ import annotations

import segno

from api import serializers
from api.dashboard import forms, funnel_chart, labels
from api.dashboard.auth import csrf_token
from api.dashboard.web import PREFIX, owned, pager, page_query, read_form, redirect, render
from domain import catalog, checkout_sessions, funnel, payment_links, payment_records
from domain.db import utcnow
from domain.errors import Checks, InvalidRequest
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
               sells=labels.link_sells(req.context.uow, req.context.owner, found.data),
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
        uow, owner, checks = req.context.uow, req.context.owner, Checks()
        cmd, rename = forms.link_command(form, checks)
        try:
            link = forms.submit(checks, lambda: payment_links.check_new(uow, owner, cmd),
                                lambda: payment_links.create(uow, owner, cmd))
        except InvalidRequest as error:
            return self._form(req, resp, form.values(), link_errors(req, error, forms.LINK_FIELDS, rename), 400)
        redirect(resp, f"{LINKS}/{link.id}")


def link_errors(req, error: InvalidRequest, fields: set[str], rename: dict[str, str] | None = None) -> dict[str, str]:
    """A refused link form in the merchant's words: labels for parameters, names for ids."""
    names = labels.names_for(req.context.uow, req.context.owner, forms.ids_in(error))
    return forms.errors_of(error, fields, rename, forms.LINK_LABELS, names)


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
               sells=labels.link_sells(uow, owner, [link])[link.id],
               methods=payment_links.PAYMENT_METHODS,
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


class LinkReactivate:
    """PATCH's `is_active: true`: the same URL works again (if what it sells can still be sold)."""

    dashboard = True

    def on_post(self, req, resp, link_id: str) -> None:
        owned(payment_links.get, req, link_id)
        payment_links.update(req.context.uow, req.context.owner, link_id,
                             payment_links.PaymentLinkUpdate(is_active=True))
        redirect(resp, f"{LINKS}/{link_id}")


class LinkEdit:
    """What PATCH may change: name, coupon, success and return URLs, accepted payment methods.
    What the link sells, its mode and its session lifetime stay (a new link changes those)."""

    dashboard = True

    def __init__(self, settings: Settings):
        self._settings = settings

    def _form(self, req, resp, link, values, errors=None, status=200) -> None:
        uow, owner = req.context.uow, req.context.owner
        coupons = [(c.id, labels.coupon_label(c)) for c in catalog.active_coupons(uow, owner)]
        if link.coupon_id and link.coupon_id not in dict(coupons):
            current = catalog.by_id(uow, owner, "coupons", [link.coupon_id]).get(link.coupon_id)
            if current:
                coupons.insert(0, (current.id, labels.coupon_label(current) + " (archived)"))
        render(req, resp, "link_edit.html", status=status, link=link, values=values, errors=errors or {},
               csrf_token=csrf_token(req), coupons=coupons, methods=payment_links.PAYMENT_METHODS, section="links")

    def on_get(self, req, resp, link_id: str) -> None:
        link = owned(payment_links.get, req, link_id)
        self._form(req, resp, link, {
            "name": link.name or "", "coupon_id": link.coupon_id or "", "success_url": link.success_url or "",
            "return_url": link.return_url or "", "methods": "some" if link.accepted_payment_methods else "all",
            "accepted_payment_methods": list(link.accepted_payment_methods or [])})

    def on_post(self, req, resp, link_id: str) -> None:
        link = owned(payment_links.get, req, link_id)
        form = read_form(req, self._settings.max_body_bytes)
        changes = forms.link_update(form, link.mode)
        if changes.coupon_id == link.coupon_id:
            changes.coupon_id = payment_links.UNCHANGED  # keep a coupon that is no longer offered for new links
        try:
            payment_links.update(req.context.uow, req.context.owner, link_id, changes)
        except InvalidRequest as error:
            return self._form(req, resp, link, form.values(), link_errors(req, error, forms.EDIT_FIELDS), 400)
        redirect(resp, f"{LINKS}/{link_id}")
