"""Webhooks and Events: register an endpoint (its secret shown once), change it, disable or
delete it, rotate its secret, read its delivery attempts and send an event again; the events
themselves. The same domain services as the API (domain/webhooks.py, domain/events.py)."""
from __future__ import annotations

import json
from functools import partial

from api.dashboard.auth import csrf_token
from api.dashboard.web import PREFIX, Form, owned, page_query, pager, read_form, redirect, render
from domain import events, webhooks
from domain.errors import Conflict, InvalidRequest
from domain.processors import SecretBox
from domain.queries import PageQuery
from runtime import webhook_http
from runtime.settings import Settings

WEBHOOKS = f"{PREFIX}/webhooks"
EVENTS = f"{PREFIX}/events"
FIELDS = ("url", "description", "enabled_events")
# What a merchant reads when a field is refused (the domain's words name parameters).
MESSAGES = {
    "enabled_events": "Choose the events to send, or All events.",
    "url_not_allowed": "This URL points to a private, loopback or link-local address; webhooks go to public "
                       "addresses only.",
}
REASONS = {"gone": "it answered 410 Gone", "failing": "every delivery to it failed for 5 days",
           "merchant": "you disabled it"}


def form_errors(error: InvalidRequest) -> dict[str, str]:
    field = next((name for name in FIELDS if (error.param or "").startswith(name)), "__form__")
    if field == "enabled_events":
        return {field: MESSAGES["enabled_events"]}
    if field == "url":
        if "live-mode" in error.message:
            return {field: "A live-mode endpoint must use https."}
        if error.code == "url_not_allowed":
            return {field: MESSAGES["url_not_allowed"]}
        message = error.message.replace("url must be", "Enter").replace("url is required", "Enter the endpoint's URL")
        return {field: message[0].upper() + message[1:] + ("" if message.endswith(".") else ".")}
    return {field: error.message}


def chosen_events(form: Form) -> list[str]:
    return ["*"] if form.checked("all_events") else form.getlist("enabled_events")


class _Page:
    dashboard = True

    def __init__(self, settings: Settings, box: SecretBox):
        self._settings = settings
        self._box = box
        self._refuse = partial(webhook_http.refusal, allow_private=settings.webhook_allow_private_urls)


class Endpoints(_Page):
    """The list, the notices of endpoints we disabled, and the form to add one."""

    def _page(self, req, resp, values=None, errors=None, status=200) -> None:
        query = page_query(req, {}, limit=25)
        try:
            found = webhooks.page(req.context.uow, req.context.owner, query)
        except InvalidRequest:
            return redirect(resp, WEBHOOKS)
        render(req, resp, "webhooks.html", status=status, endpoints=found.data, pages=pager(WEBHOOKS, {}, found, query),
               notices=webhooks.notices(req.context.uow, req.context.owner), reasons=REASONS,
               values=values or {"all_events": "on"}, errors=errors or {}, types=events.TYPES,
               csrf_token=csrf_token(req), section="webhooks")

    def on_get(self, req, resp) -> None:
        self._page(req, resp)

    def on_post(self, req, resp) -> None:
        form = read_form(req, self._settings.max_body_bytes)
        cmd = webhooks.NewEndpoint(url=form.get("url"), enabled_events=chosen_events(form),
                                   description=form.optional("description"))
        try:
            made, secret = webhooks.create(req.context.uow, req.context.owner, cmd, self._box, self._refuse)
        except InvalidRequest as error:
            return self._page(req, resp, form.values(), form_errors(error), 400)
        _endpoint_page(req, resp, made, secret=secret)


def _endpoint_page(req, resp, endpoint, *, secret=None, values=None, errors=None, status=200) -> None:
    query = page_query(req, {}, limit=20)
    try:
        attempts, has_more = webhooks.attempts_page(req.context.uow, req.context.owner, endpoint.id, query)
    except InvalidRequest:  # a cursor that names no attempt of this endpoint: the first page
        query = PageQuery(limit=20)
        attempts, has_more = webhooks.attempts_page(req.context.uow, req.context.owner, endpoint.id, query)
    path = f"{WEBHOOKS}/{endpoint.id}"
    pages = {"newer": f"{path}?ending_before={attempts[0].attempt.id}" if attempts and query.starting_after else None,
             "older": f"{path}?starting_after={attempts[-1].attempt.id}" if attempts and has_more else None}
    chosen = list(endpoint.enabled_events)
    render(req, resp, "webhook.html", status=status, endpoint=endpoint, secret=secret, attempts=attempts,
           pages=pages, types=events.TYPES, reasons=REASONS, csrf_token=csrf_token(req), errors=errors or {},
           values=values or {"url": endpoint.url, "description": endpoint.description or "",
                             "all_events": "on" if chosen == ["*"] else "",
                             "enabled_events": [] if chosen == ["*"] else chosen},
           section="webhooks")


class EndpointPage(_Page):
    """An endpoint: its settings (edit), its secret (rotate), enable/disable, delete, and its attempts."""

    def on_get(self, req, resp, endpoint_id: str) -> None:
        _endpoint_page(req, resp, owned(webhooks.get, req, endpoint_id))

    def on_post(self, req, resp, endpoint_id: str) -> None:
        endpoint = owned(webhooks.get, req, endpoint_id)
        form = read_form(req, self._settings.max_body_bytes)
        action = form.get("action")
        uow, owner = req.context.uow, req.context.owner
        try:
            if action == "save":
                webhooks.update_endpoint(uow, owner, endpoint.id, webhooks.EndpointUpdate(
                    url=form.get("url"), enabled_events=chosen_events(form), description=form.get("description")),
                    self._refuse)
            elif action in ("disable", "enable"):
                webhooks.update_endpoint(uow, owner, endpoint.id, webhooks.EndpointUpdate(
                    disabled=action == "disable"), self._refuse)
            elif action == "rotate":
                rotated, secret = webhooks.rotate_secret(uow, owner, endpoint.id, self._box)
                return _endpoint_page(req, resp, rotated, secret=secret)
            elif action == "delete":
                webhooks.delete_endpoint(uow, owner, endpoint.id)
                return redirect(resp, WEBHOOKS)
            elif action == "redeliver":
                webhooks.redeliver(uow, owner, form.get("event_id")[:64], endpoint.id)
            else:
                return redirect(resp, f"{WEBHOOKS}/{endpoint.id}")
        except InvalidRequest as error:
            return _endpoint_page(req, resp, endpoint, values=form.values(), errors=form_errors(error), status=400)
        except Conflict as error:
            return _endpoint_page(req, resp, endpoint, errors={"__form__": error.message}, status=409)
        redirect(resp, f"{WEBHOOKS}/{endpoint.id}")


class EventList:
    dashboard = True

    def on_get(self, req, resp) -> None:
        chosen = req.get_param("type") if req.get_param("type") in events.TYPES else ""
        query = page_query(req, {"type": chosen} if chosen else {})
        try:
            found = events.page(req.context.uow, req.context.owner, query)
        except InvalidRequest:
            return redirect(resp, EVENTS)
        render(req, resp, "events.html", events=found.data, types=events.TYPES, type_filter=chosen,
               pages=pager(EVENTS, {"type": chosen}, found, query), section="events")


class EventPage:
    """An event as its deliveries carry it, and the form to send it again to an endpoint."""

    dashboard = True

    def __init__(self, settings: Settings):
        self._settings = settings

    def _page(self, req, resp, event, errors=None, status=200) -> None:
        endpoints = webhooks.page(req.context.uow, req.context.owner, PageQuery(limit=100)).data
        render(req, resp, "event.html", status=status, event=event, errors=errors or {},
               body=json.dumps(events.as_json(event), indent=2), endpoints=[e for e in endpoints if not e.disabled],
               csrf_token=csrf_token(req), section="events")

    def on_get(self, req, resp, event_id: str) -> None:
        self._page(req, resp, owned(events.get, req, event_id))

    def on_post(self, req, resp, event_id: str) -> None:
        event = owned(events.get, req, event_id)
        form = read_form(req, self._settings.max_body_bytes)
        try:
            delivery = webhooks.redeliver(req.context.uow, req.context.owner, event.id, form.get("endpoint_id")[:64])
        except (InvalidRequest, Conflict):
            return self._page(req, resp, event, {"endpoint_id": "Choose an enabled endpoint of this account."}, 400)
        redirect(resp, f"{WEBHOOKS}/{delivery.endpoint_id}")
