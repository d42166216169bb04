"""An event goes to the endpoints enabled when it is written, even though a transaction reads
its account's endpoints only once (domain/events.py): an endpoint the same transaction adds,
disables or re-enables counts from then on."""
from __future__ import annotations

from sqlalchemy import select, update

from domain import events
from domain.db import utcnow
from domain.ids import new_id
from domain.models import WebhookDelivery, WebhookEndpoint
from domain.queries import Owner
from tests.conftest import make_merchant


def deliveries(uow, event) -> int:
    return len(list(uow.session.scalars(select(WebhookDelivery.id).where(WebhookDelivery.event_id == event.id))))


def test_endpoints_changed_in_the_events_transaction_count_from_then_on(client, uow_factory):
    merchant = make_merchant(client, uow_factory)
    owner = Owner(merchant.account_id, False)
    now = utcnow()
    with uow_factory() as uow:
        record = lambda: events.record(uow, "customer.created", owner, {"id": "cus_x"}, now=now)
        assert deliveries(uow, record()) == 0
        endpoint = WebhookEndpoint(id=new_id("we", False), account_id=owner.account_id, livemode=False,
                                   created_at=now, updated_at=now, url="https://example.com/hook",
                                   enabled_events=["customer.created"], disabled=False, secret_encrypted=b"x")
        uow.session.add(endpoint)
        assert deliveries(uow, record()) == 1
        endpoint.enabled_events = ["payment.succeeded"]
        assert deliveries(uow, record()) == 0
        uow.session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id)
                            .values(enabled_events=["*"]).execution_options(synchronize_session=False))
        assert deliveries(uow, record()) == 1
        endpoint.disabled = True
        assert deliveries(uow, record()) == 0
        uow.commit()
    with uow_factory() as uow:
        assert deliveries(uow, events.record(uow, "customer.created", owner, {"id": "cus_x"}, now=now)) == 0
        uow.commit()
        with uow_factory() as other:
            other.session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id)
                                  .values(disabled=False).execution_options(synchronize_session=False))
            other.commit()
        # the next transaction reads them again
        assert deliveries(uow, events.record(uow, "customer.created", owner, {"id": "cus_x"}, now=now)) == 1
