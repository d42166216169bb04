"""Events (SPEC 9): the outbox. Every change a merchant may act on writes an event in the
transaction of the change, and in that same transaction one webhook delivery per enabled
endpoint subscribed to its type (and, with SMTP, the emails it owes). Jobs go out only after
commit, so nothing is announced for a change that rolled back, and every delivery is a row
before any job exists: a job lost with its broker is found again by the sweep.

Why the fan-out is in the event's transaction rather than a job after commit: the endpoints
that get an event are the ones enabled when it happened (one read of the account's endpoints,
which are few), no second kind of due work is needed for "events not yet fanned out", and the
first attempt's job can be sent the moment the change commits. The cost is one indexed read
per event, and an insert per subscribed endpoint.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import ORMExecuteState, Session

from domain import listing
from domain.db import UnitOfWork, utcnow
from domain.ids import new_id
from domain.listing import get_owned
from domain.models import Event, WebhookDelivery, WebhookEndpoint
from domain.queries import Owner, Page, PageQuery
from domain.views import Urls

TYPES = (
    "payment_link.created", "payment_link.updated", "payment_link.deactivated",
    "checkout.session.completed", "checkout.session.expired",
    "payment.succeeded", "payment.failed", "payment.refunded",
    "customer.created",
    "payment_method.attached",
    "subscription.created", "subscription.updated", "subscription.canceled",
    "invoice.paid", "invoice.payment_failed",
)
RETENTION = timedelta(days=30)
# A delivery's first job is sent after commit; if that job is lost, the sweep hands the delivery
# out once this has passed.
HANDOUT_LEASE = timedelta(seconds=30)
LIST_FILTERS = ("type",)


@dataclass(frozen=True)
class Outbox:
    """What writing an event needs from the process that writes it: where links and checkouts
    are served (an event's object shows its URLs as the API does) and whether emails go out
    (SMTP_URL is set)."""

    urls: Urls
    emails: bool = False


def as_json(event: Event) -> dict[str, Any]:
    """The event as the API shows it and as every delivery's body carries it."""
    return {"id": event.id, "object": "event", "type": event.type, "data": event.data,
            "created_at": event.created_at.isoformat().replace("+00:00", "Z"), "livemode": event.livemode}


def record(uow: UnitOfWork, type_: str, owner: Any, obj: dict[str, Any], *, now: datetime | None = None,
           dedupe_key: str | None = None) -> Event | None:
    """Write the event `type_` about `obj` (a view from domain/views.py) of `owner` (anything with
    `account_id` and `livemode`), with its deliveries and emails, in the caller's transaction.
    With a `dedupe_key` already used, nothing is written (None)."""
    if type_ not in TYPES:
        raise ValueError(f"unknown event type {type_!r}")
    now = now or utcnow()
    event = Event(id=new_id("evt", owner.livemode), account_id=owner.account_id, livemode=owner.livemode,
                  type=type_, data={"object": obj}, created_at=now, dedupe_key=dedupe_key)
    if dedupe_key is None:
        uow.session.add(event)
        uow.session.flush()
    else:
        values = {column: getattr(event, column) for column in
                  ("id", "account_id", "livemode", "type", "data", "created_at", "dedupe_key")}
        written = uow.session.execute(insert(Event).values(**values).on_conflict_do_nothing(
            index_elements=[Event.dedupe_key]).returning(Event.id)).first()
        if written is None:
            return None
    fan_out(uow, event, now)
    if uow.outbox.emails:
        from domain import emails  # the emails an event owes read the objects it names

        emails.owe(uow, event, now)
    return event


def subscribed(type_: str):
    """SQL: the endpoint takes events of `type_` (listed, or `*`)."""
    return or_(WebhookEndpoint.enabled_events.contains([type_]), WebhookEndpoint.enabled_events.contains(["*"]))


def fan_out(uow: UnitOfWork, event: Event, now: datetime) -> list[str]:
    """One delivery per enabled endpoint of the event's account and mode subscribed to its type,
    each handed to a job of its own once committed."""
    return [new_delivery(uow, event, endpoint_id, now)
            for endpoint_id, types in _enabled_endpoints(uow.session, event.account_id, event.livemode)
            if event.type in types or "*" in types]


# session.info key: {(account_id, livemode): [(endpoint id, enabled_events)]}, read once per
# transaction (a pay writes two or three events of one account). Forgotten when the transaction
# ends and whenever this session writes an endpoint, so it is never staler than the first read.
_ENDPOINTS = "enabled_webhook_endpoints"


def _enabled_endpoints(session: Session, account_id: str, livemode: bool) -> list[tuple[str, list[str]]]:
    known = session.info.setdefault(_ENDPOINTS, {})
    key = (account_id, livemode)
    if key not in known:
        found = list(session.execute(select(WebhookEndpoint.id, WebhookEndpoint.enabled_events).where(
            WebhookEndpoint.account_id == account_id, WebhookEndpoint.livemode == livemode,
            WebhookEndpoint.disabled.is_(False))))
        known = session.info.setdefault(_ENDPOINTS, {})  # the read's autoflush may have forgotten them
        known[key] = found
    return known[key]


@sa_event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, transaction) -> None:
    if transaction.parent is None or transaction.nested:  # not a flush's own subtransaction
        session.info.pop(_ENDPOINTS, None)


@sa_event.listens_for(Session, "before_flush")
def _endpoints_flushed(session: Session, flush_context, instances) -> None:
    if _ENDPOINTS in session.info and any(
            isinstance(obj, WebhookEndpoint) for obj in chain(session.new, session.dirty, session.deleted)):
        session.info.pop(_ENDPOINTS, None)


@sa_event.listens_for(Session, "do_orm_execute")
def _endpoints_written(state: ORMExecuteState) -> None:
    if _ENDPOINTS in state.session.info and not state.is_select:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", WebhookEndpoint.__tablename__) == WebhookEndpoint.__tablename__:
            # a write to the endpoints, or a textual one
            state.session.info.pop(_ENDPOINTS, None)


def new_delivery(uow: UnitOfWork, event: Event, endpoint_id: str, now: datetime) -> str:
    """A delivery of `event` to the endpoint, handed to a job once committed (found by the sweep
    after HANDOUT_LEASE if that job is lost)."""
    delivery = WebhookDelivery(id=new_id("whd", event.livemode), account_id=event.account_id,
                               livemode=event.livemode, event_id=event.id, endpoint_id=endpoint_id,
                               status="pending", attempts=0, next_attempt_at=now + HANDOUT_LEASE, created_at=now,
                               updated_at=now)
    uow.session.add(delivery)
    uow.session.flush()
    uow.send_after_commit("webhooks.deliver", [delivery.id, 0], task_id=f"{delivery.id}.0")
    return delivery.id


# ---- reading --------------------------------------------------------------------------------

def get(uow: UnitOfWork, owner: Owner, event_id: str) -> Event:
    return get_owned(uow.session, Event, owner, event_id)


def page(uow: UnitOfWork, owner: Owner, query: PageQuery) -> Page:
    """Newest first; `query.filters` may hold `type`."""
    return listing.page(uow.session, Event, owner, query)


# ---- retention ------------------------------------------------------------------------------

def purge_expired(uow: UnitOfWork, now: datetime, batch_size: int = 5000) -> int:
    """Delete one batch of events older than 30 days (their deliveries, attempts and emails go
    with them); the number deleted. The caller commits, and calls again while it is a full batch."""
    old = list(uow.session.scalars(select(Event.id).where(Event.created_at < now - RETENTION)
                                   .order_by(Event.created_at).limit(batch_size)))
    if not old:
        return 0
    return uow.session.execute(delete(Event).where(Event.id.in_(old))
                               .execution_options(synchronize_session=False)).rowcount
