"""Webhook endpoints and the delivery of events to them (SPEC 9).

An endpoint is a merchant's URL with the event types it takes and a signing secret (encrypted
at rest with the processors' SecretBox; opened to sign). Each delivery (one event owed to one
endpoint, written with the event) is due work: attempted by a job of its own, and while it
fails, due again after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (each with jitter, never
sooner than a `Retry-After`), then given up. A beat sweep hands out what is due; no job waits
in the broker for hours.

One attempt at a time per endpoint (`busy_until`, a lease): a slow or dead endpoint holds one
worker slot, never the slots the other endpoints' deliveries need. A delivery whose endpoint is
busy waits, due, and the attempt in flight hands the next one out when it ends.

The HTTP itself is not here: `begin_attempt` says what to send, the caller sends it (no lock or
transaction held meanwhile), and `record_attempt` applies what came back.
"""
from __future__ import annotations

import base64
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, tuple_, update

from domain import events, listing
from domain.db import UnitOfWork, locked, utcnow
from domain.errors import Conflict, NotFound, invalid
from domain.ids import new_id
from domain.listing import get_owned
from domain.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from domain.processors import SecretBox
from domain.queries import LIMIT_MAX, Owner, Page, PageQuery
from domain.rules import MAX_URL_CHARS, require_text, require_url

# After the n-th failed attempt, the next comes this long after (then the delivery is given up).
RETRY_SCHEDULE = (timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                  timedelta(hours=5), timedelta(hours=10), timedelta(hours=10))
JITTER = 0.1  # each wait is stretched or shrunk by up to 10%, so failed deliveries do not retry in step
MAX_RETRY_AFTER = timedelta(hours=10)  # a Retry-After is honoured up to the schedule's longest wait
FAILING_DISABLES_AFTER = timedelta(days=5)
PREVIOUS_SECRET_SIGNS_FOR = timedelta(hours=24)
# An attempt takes at most 10 s (runtime/webhook_http.py); its lease is longer, and a worker that
# died in it frees it then.
ATTEMPT_LEASE = timedelta(seconds=15)
MAX_DESCRIPTION_CHARS = 500
DISABLED_REASONS = ("merchant", "gone", "failing")

UrlCheck = Callable[[str], str | None]  # a URL -> why it is refused (SSRF guard), or None


def new_secret() -> str:
    """`whsec_` and 32 random bytes in base64, the Standard Webhooks form."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


# ---- endpoints --------------------------------------------------------------------------------

@dataclass
class NewEndpoint:
    url: str
    enabled_events: list[str]
    description: str | None = None


@dataclass
class EndpointUpdate:
    url: str | None = None
    enabled_events: list[str] | None = None
    description: str | None = None
    disabled: bool | None = None


def check_url(url: str, owner: Owner, refuse: UrlCheck) -> None:
    require_text(url, "url", MAX_URL_CHARS)
    require_url(url, "url")
    if owner.livemode and not url.lower().startswith("https://"):
        raise invalid("url", "a live-mode endpoint must use https", "url_not_allowed")
    reason = refuse(url)
    if reason is not None:
        raise invalid("url", reason, "url_not_allowed")


def check_enabled_events(types: list[str]) -> list[str]:
    if not types:
        raise invalid("enabled_events", "enabled_events must name at least one event type, or be [\"*\"]")
    for index, type_ in enumerate(types):
        if type_ != "*" and type_ not in events.TYPES:
            raise invalid(f"enabled_events[{index}]", f"unknown event type {type_!r}")
    if "*" in types and len(types) > 1:
        raise invalid("enabled_events", "\"*\" takes every event: give it alone")
    if len(set(types)) != len(types):
        raise invalid("enabled_events", "enabled_events must not repeat a type")
    return list(types)


def create(uow: UnitOfWork, owner: Owner, cmd: NewEndpoint, box: SecretBox, refuse: UrlCheck,
           now: datetime | None = None) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (shown this once)."""
    check_url(cmd.url, owner, refuse)
    require_text(cmd.description, "description", MAX_DESCRIPTION_CHARS, required=False)
    types = check_enabled_events(cmd.enabled_events)
    now = now or utcnow()
    secret = new_secret()
    endpoint = WebhookEndpoint(id=new_id("we", owner.livemode), account_id=owner.account_id,
                               livemode=owner.livemode, created_at=now, updated_at=now, url=cmd.url,
                               description=cmd.description, enabled_events=types, disabled=False,
                               secret_encrypted=box.seal(secret))
    uow.session.add(endpoint)
    uow.session.flush()
    return endpoint, secret


def get(uow: UnitOfWork, owner: Owner, endpoint_id: str, *, lock: bool = False) -> WebhookEndpoint:
    return get_owned(uow.session, WebhookEndpoint, owner, endpoint_id, lock=lock)


def page(uow: UnitOfWork, owner: Owner, query: PageQuery) -> Page:
    return listing.page(uow.session, WebhookEndpoint, owner, query)


def update_endpoint(uow: UnitOfWork, owner: Owner, endpoint_id: str, changes: EndpointUpdate, refuse: UrlCheck,
                    now: datetime | None = None) -> WebhookEndpoint:
    """Change the URL, types or description; `disabled` stops (or restarts) deliveries."""
    now = now or utcnow()
    endpoint = get(uow, owner, endpoint_id, lock=True)
    if changes.url is not None:
        check_url(changes.url, owner, refuse)
        endpoint.url = changes.url
    if changes.enabled_events is not None:
        endpoint.enabled_events = check_enabled_events(changes.enabled_events)
    if changes.description is not None:
        require_text(changes.description, "description", MAX_DESCRIPTION_CHARS, required=False)
        endpoint.description = changes.description or None
    if changes.disabled is True and not endpoint.disabled:
        disable(uow, endpoint, "merchant", now)
    elif changes.disabled is False and endpoint.disabled:
        endpoint.disabled, endpoint.disabled_reason, endpoint.disabled_at = False, None, None
        endpoint.failing_since = None
    endpoint.updated_at = now
    uow.session.flush()
    return endpoint


def delete_endpoint(uow: UnitOfWork, owner: Owner, endpoint_id: str) -> str:
    """Gone for good, with its deliveries and their attempts."""
    endpoint = get(uow, owner, endpoint_id, lock=True)
    uow.session.delete(endpoint)
    uow.session.flush()
    return endpoint_id


def rotate_secret(uow: UnitOfWork, owner: Owner, endpoint_id: str, box: SecretBox,
                  now: datetime | None = None) -> tuple[WebhookEndpoint, str]:
    """A new secret (shown this once); the one it replaces keeps signing beside it for 24 h."""
    now = now or utcnow()
    endpoint = get(uow, owner, endpoint_id, lock=True)
    secret = new_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_expires_at = now + PREVIOUS_SECRET_SIGNS_FOR
    endpoint.secret_encrypted = box.seal(secret)
    endpoint.updated_at = now
    uow.session.flush()
    return endpoint, secret


def signing_secrets(endpoint: WebhookEndpoint, box: SecretBox, now: datetime) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous one for 24 h after a rotation."""
    found = [box.open(endpoint.secret_encrypted)]
    if endpoint.previous_secret_encrypted and endpoint.previous_secret_expires_at \
            and endpoint.previous_secret_expires_at > now:
        found.append(box.open(endpoint.previous_secret_encrypted))
    return found


def disable(uow: UnitOfWork, endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    """No more deliveries to it: the ones still owed are canceled (an event can be sent again by hand)."""
    endpoint.disabled, endpoint.disabled_reason, endpoint.disabled_at = True, reason, now
    endpoint.updated_at = now
    uow.session.execute(update(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id,
                                                      WebhookDelivery.status == "pending")
                        .values(status="canceled", next_attempt_at=None, updated_at=now)
                        .execution_options(synchronize_session=False))


# ---- delivering -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Begun:
    """What to send for one attempt (read in its claiming transaction)."""

    delivery_id: str
    attempt: int  # attempts made before this one
    endpoint_id: str
    url: str
    secrets: list[str]
    event_id: str
    body: dict[str, Any]  # the event, as the API shows it


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to. `status_code` None: no answer (`error` says why)."""

    status_code: int | None
    duration_ms: int
    body: str | None = None
    error: str | None = None
    retry_after: timedelta | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def begin_attempt(uow: UnitOfWork, delivery_id: str, attempt: int, box: SecretBox, now: datetime) -> Begun | None:
    """Claim attempt number `attempt` of a delivery (None: nothing to do now). A job for an
    attempt already made, a delivery done, or an endpoint disabled does nothing; an endpoint
    busy with another attempt leaves this delivery due, for that attempt to hand out when it ends."""
    delivery = locked(uow, WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != "pending" or delivery.attempts != attempt:
        return None
    return _claim(uow, delivery, box, now)


def begin_next(uow: UnitOfWork, endpoint_id: str, box: SecretBox, now: datetime) -> Begun | None:
    """Claim the endpoint's longest-waiting due delivery (a worker that has just delivered to it
    goes on with the next, without a job in between); None when none is due."""
    delivery = uow.session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending",
                                      WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at).limit(1).with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)).first()
    return _claim(uow, delivery, box, now) if delivery is not None else None


def _claim(uow: UnitOfWork, delivery: WebhookDelivery, box: SecretBox, now: datetime) -> Begun | None:
    endpoint = locked(uow, WebhookEndpoint, delivery.endpoint_id)
    if endpoint.disabled:
        delivery.status, delivery.next_attempt_at, delivery.updated_at = "canceled", None, now
        return None
    if endpoint.busy_until is not None and endpoint.busy_until > now:
        delivery.next_attempt_at = min(delivery.next_attempt_at or now, now)
        return None
    endpoint.busy_until = now + ATTEMPT_LEASE
    delivery.next_attempt_at = now + ATTEMPT_LEASE  # its worker dies in the attempt: due again then
    delivery.updated_at = now
    event = uow.session.get(Event, delivery.event_id)
    uow.session.flush()
    return Begun(delivery.id, delivery.attempts, endpoint.id, endpoint.url, signing_secrets(endpoint, box, now), event.id,
                 events.as_json(event))


def retry_wait(attempts: int, retry_after: timedelta | None, rng: random.Random | None = None) -> timedelta | None:
    """How long after the `attempts`-th failed attempt the next one comes; None: give up."""
    if attempts > len(RETRY_SCHEDULE):
        return None
    wait = RETRY_SCHEDULE[attempts - 1] * (1 + (rng or random).uniform(-JITTER, JITTER))
    if retry_after is not None:
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
    return wait


def record_attempt(uow: UnitOfWork, begun: Begun, outcome: Outcome, now: datetime, *,
                   hand_out_next: bool = True) -> WebhookAttempt | None:
    """Apply an attempt's outcome: the attempt row, the delivery done, due again or given up, the
    endpoint free again (failing since when, disabled on 410 or after 5 days of failures), and
    (unless the caller goes on with it itself) the endpoint's next due delivery handed out.

    An attempt that got no answer at all (a timeout, a refused connection) says the endpoint is
    down, not that this event is unwelcome: the endpoint's other due deliveries wait with it until
    its retry, instead of each spending its own 10 s on a dead endpoint."""
    delivery = locked(uow, WebhookDelivery, begun.delivery_id)
    endpoint = locked(uow, WebhookEndpoint, begun.endpoint_id)
    if delivery is None or endpoint is None:  # the endpoint was deleted meanwhile
        return None
    endpoint.busy_until = None
    if delivery.status != "pending" or delivery.attempts != begun.attempt:
        return None  # recorded already (the job ran twice)
    delivery.attempts += 1
    delivery.updated_at = now
    if outcome.succeeded:
        delivery.status, delivery.next_attempt_at = "succeeded", None
        endpoint.failing_since = None
    else:
        endpoint.failing_since = endpoint.failing_since or now
        wait = None if outcome.status_code == 410 else retry_wait(delivery.attempts, outcome.retry_after)
        if wait is None:
            delivery.status, delivery.next_attempt_at = "failed", None
        else:
            delivery.next_attempt_at = now + wait
            if outcome.status_code is None:
                uow.session.execute(update(WebhookDelivery).where(
                    WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending",
                    WebhookDelivery.id != delivery.id, WebhookDelivery.next_attempt_at < delivery.next_attempt_at)
                    .values(next_attempt_at=delivery.next_attempt_at).execution_options(synchronize_session=False))
        if outcome.status_code == 410:
            disable(uow, endpoint, "gone", now)
        elif now - endpoint.failing_since >= FAILING_DISABLES_AFTER:
            disable(uow, endpoint, "failing", now)
    attempt = WebhookAttempt(id=new_id("wha", delivery.livemode), delivery_id=delivery.id, endpoint_id=endpoint.id,
                             event_id=delivery.event_id, account_id=delivery.account_id, livemode=delivery.livemode,
                             attempt=delivery.attempts, succeeded=outcome.succeeded, status_code=outcome.status_code,
                             duration_ms=outcome.duration_ms, response_body=outcome.body, error=outcome.error,
                             next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
                             created_at=now)
    uow.session.add(attempt)
    uow.session.flush()
    if hand_out_next and not endpoint.disabled:
        _hand_out_next(uow, endpoint.id, now)
    return attempt


def _hand_out_next(uow: UnitOfWork, endpoint_id: str, now: datetime) -> None:
    """The endpoint is free: send its longest-waiting due delivery (the rest follow one by one)."""
    found = uow.session.execute(
        select(WebhookDelivery.id, WebhookDelivery.attempts)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending",
               WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at).limit(1)).first()
    if found is not None:
        _send(uow, found.id, found.attempts, now)


def _send(uow: UnitOfWork, delivery_id: str, attempts: int, now: datetime) -> None:
    uow.session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                        .values(next_attempt_at=now + events.HANDOUT_LEASE)
                        .execution_options(synchronize_session=False))
    uow.send_after_commit("webhooks.deliver", [delivery_id, attempts],
                          task_id=f"{delivery_id}.{attempts}.{secrets.token_hex(4)}")


def hand_out_due(uow: UnitOfWork, now: datetime, limit: int = 1000) -> int:
    """The sweep: for each endpoint not busy, its longest-waiting due delivery goes to a job (the
    others follow as each attempt ends). Each handed out is leased, so the next sweep skips it."""
    due = select(WebhookDelivery.id, WebhookDelivery.endpoint_id, WebhookDelivery.attempts,
                 WebhookDelivery.next_attempt_at) \
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now) \
        .order_by(WebhookDelivery.next_attempt_at).limit(limit * 10) \
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    rows = uow.session.execute(due).all()
    if not rows:
        return 0
    endpoint_ids = {row.endpoint_id for row in rows}
    free = set(uow.session.scalars(select(WebhookEndpoint.id).where(
        WebhookEndpoint.id.in_(endpoint_ids), WebhookEndpoint.disabled.is_(False),
        (WebhookEndpoint.busy_until.is_(None)) | (WebhookEndpoint.busy_until <= now))))
    handed = 0
    for row in rows:
        if row.endpoint_id in free and handed < limit:
            free.discard(row.endpoint_id)
            _send(uow, row.id, row.attempts, now)
            handed += 1
    return handed


def redeliver(uow: UnitOfWork, owner: Owner, event_id: str, endpoint_id: str, now: datetime | None = None
              ) -> WebhookDelivery:
    """Send an event again to one endpoint (a new delivery, whatever became of the others)."""
    now = now or utcnow()
    event = events.get(uow, owner, event_id)
    try:
        endpoint = get(uow, owner, endpoint_id)
    except NotFound as missing:  # a field of the body: named like any other missing object
        raise invalid("endpoint_id", missing.message, "resource_missing") from None
    if endpoint.disabled:
        raise Conflict("This webhook endpoint is disabled: enable it before sending it events.",
                       code="endpoint_disabled", param="endpoint_id")
    delivery_id = events.new_delivery(uow, event, endpoint.id, now)
    return uow.session.get(WebhookDelivery, delivery_id)


# ---- reading --------------------------------------------------------------------------------

@dataclass(frozen=True)
class AttemptView:
    attempt: WebhookAttempt
    event_type: str
    delivery_status: str


def attempts_page(uow: UnitOfWork, owner: Owner, endpoint_id: str, query: PageQuery) -> tuple[list[AttemptView], bool]:
    """An endpoint's attempts, newest first, by cursor (an attempt id)."""
    get(uow, owner, endpoint_id)
    if not 1 <= query.limit <= LIMIT_MAX:
        raise invalid("limit", f"limit must be an integer from 1 to {LIMIT_MAX}")
    if query.starting_after and query.ending_before:
        raise invalid("ending_before", "give starting_after or ending_before, not both", "parameters_exclusive")
    a = WebhookAttempt
    stmt = select(a, Event.type, WebhookDelivery.status).join(Event, Event.id == a.event_id) \
        .join(WebhookDelivery, WebhookDelivery.id == a.delivery_id).where(a.endpoint_id == endpoint_id)
    cursor_id = query.ending_before or query.starting_after
    backwards = bool(query.ending_before)
    if cursor_id:
        param = "ending_before" if backwards else "starting_after"
        cursor = uow.session.scalars(select(a).where(a.id == cursor_id, a.endpoint_id == endpoint_id)).first()
        if cursor is None:
            raise invalid(param, f"No such delivery attempt: {cursor_id!r}", "resource_missing")
        key, at = tuple_(a.created_at, a.id), tuple_(cursor.created_at, cursor.id)
        stmt = stmt.where(key > at if backwards else key < at)
    order = (a.created_at.asc(), a.id.asc()) if backwards else (a.created_at.desc(), a.id.desc())
    rows = uow.session.execute(stmt.order_by(*order).limit(query.limit + 1)).all()
    has_more = len(rows) > query.limit
    rows = rows[: query.limit]
    if backwards:
        rows.reverse()
    return [AttemptView(row[0], row[1], row[2]) for row in rows], has_more


def notices(uow: UnitOfWork, owner: Owner) -> list[WebhookEndpoint]:
    """Endpoints we disabled ourselves (410, or 5 days of failures): what the dashboard warns about."""
    return list(uow.session.scalars(select(WebhookEndpoint).where(
        WebhookEndpoint.account_id == owner.account_id, WebhookEndpoint.livemode == owner.livemode,
        WebhookEndpoint.disabled.is_(True), WebhookEndpoint.disabled_reason.in_(("gone", "failing")))
        .order_by(WebhookEndpoint.disabled_at.desc())))
