"""Settings → Processor: which processor takes this mode's payments (keys shown masked), and
the form that chooses one, through the same domain service as `PUT /processor`."""
from __future__ import annotations

from api.dashboard import forms
from api.dashboard.auth import csrf_token
from api.dashboard.web import PREFIX, read_form, redirect, render
from domain import processors
from domain.errors import InvalidRequest
from runtime.settings import Settings

SETTINGS = f"{PREFIX}/settings"
PROCESSOR = f"{SETTINGS}/processor"


class SettingsHome:
    dashboard = True

    def on_get(self, req, resp) -> None:
        redirect(resp, f"{SETTINGS}/account")


class ProcessorPage:
    dashboard = True

    def __init__(self, settings: Settings, chosen: processors.Processors):
        self._settings = settings
        self._processors = chosen

    def _page(self, req, resp, values=None, errors=None, status=200, saved=False) -> None:
        uow, owner = req.context.uow, req.context.owner
        current = processors.choice(uow, owner, self._processors.box)
        render(req, resp, "processor.html", status=status, current=current,
               taking_payments=self._processors.for_owner(uow, owner) is not None,
               values=values or {"processor": current.processor or "stripe"}, errors=errors or {},
               csrf_token=csrf_token(req), saved=saved, section="settings")

    def on_get(self, req, resp) -> None:
        self._page(req, resp, saved=req.get_param("saved") == "1")

    def on_post(self, req, resp) -> None:
        form = read_form(req, self._settings.max_body_bytes)
        try:
            processors.choose(req.context.uow, req.context.owner, forms.processor_command(form),
                              self._processors.box)
        except InvalidRequest as error:
            values = {k: v for k, v in form.values().items() if k in ("processor", "publishable_key")}
            return self._page(req, resp, values, forms.errors_of(error, forms.PROCESSOR_FIELDS, None,
                                                                 forms.PROCESSOR_LABELS), 400)
        redirect(resp, f"{PROCESSOR}?saved=1")
