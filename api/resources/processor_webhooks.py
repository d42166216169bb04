"""`POST /webhooks/stripe/{account_id}/{mode}`: Stripe's notifications about our payments.

The signature is checked with the account's webhook secret (Stripe's library, its 5-minute
tolerance refusing replays) before anything is kept; a notification is kept once by its id and
applied by a job. Anything that is not a notification Stripe signed for this account and mode
(no such account, no Stripe chosen, a bad or old signature, the other mode) is the same 400, so
nothing tells account ids apart. Not in /openapi.json: Stripe calls it, not API clients.
"""
from __future__ import annotations

from api.errors import ApiError
from api.http import raw_body, respond
from domain import processor_events
from domain.db import utcnow
from domain.ids import plausible_token
from domain.payments.stripe import verified_event
from domain.processors import Processors
from domain.queries import Owner
from runtime.settings import Settings

MODES = {"live": True, "test": False}
NOT_SIGNED = ApiError(400, "signature_invalid", "This is not a notification Stripe signed for this endpoint.")


class StripeWebhook:
    public = True

    def __init__(self, settings: Settings, processors: Processors):
        self._max_body_bytes = settings.max_body_bytes
        self._processors = processors

    def on_post(self, req, resp, account_id: str, mode: str) -> None:
        if mode not in MODES or not plausible_token(account_id):
            raise NOT_SIGNED
        owner = Owner(account_id, MODES[mode])
        secret = self._processors.stripe_webhook_secret(req.context.uow, owner)
        payload = raw_body(req, self._max_body_bytes)
        try:
            event = verified_event(payload, req.get_header("Stripe-Signature") or "", secret or "")
        except ValueError:
            raise NOT_SIGNED from None
        if secret is None or event.get("livemode") is not owner.livemode or not event.get("id"):
            raise NOT_SIGNED
        kept = processor_events.receive(req.context.uow, owner, "stripe", event, utcnow())
        respond(resp, {"received": True, "duplicate": not kept})


def add_routes(app, settings: Settings, processors: Processors) -> None:
    app.add_route("/webhooks/stripe/{account_id}/{mode}", StripeWebhook(settings, processors))
