"""An event's `data.object` is the object as the API shows it (SPEC 9). Events are written by
the domain (domain/views.py, since the workers write events too and may not import api/); these
tests hold each view equal to what the API answers for the same object at the same moment."""
from __future__ import annotations

import pytest

from tests.conftest import make_merchant, pay_session
from tests.integration.test_paying import make_link, open_session


@pytest.fixture
def merchant(client, uow_factory):
    return make_merchant(client, uow_factory).in_test_mode()


def event_object(merchant, type_: str, object_id: str) -> dict:
    found = [e for e in merchant.ok("GET", "/events", query_string=f"type={type_}&limit=100")["data"]
             if e["data"]["object"]["id"] == object_id]
    assert len(found) == 1, (type_, object_id, found)
    return found[0]["data"]["object"]


def test_a_payment_links_events_show_it_as_the_api_did(merchant):
    link = make_link(merchant, metadata={"order": {"n": 1}}, success_url="https://shop.example/ok")
    assert event_object(merchant, "payment_link.created", link["id"]) == link
    changed = merchant.ok("PATCH", f"/payment-links/{link['id']}", {"name": "New name", "metadata": {}})
    assert event_object(merchant, "payment_link.updated", link["id"]) == changed
    gone = merchant.ok("DELETE", f"/payment-links/{link['id']}")
    assert event_object(merchant, "payment_link.deactivated", link["id"]) == gone
    merchant.ok("DELETE", f"/payment-links/{link['id']}")  # no change: no event
    assert len(merchant.ok("GET", "/events", query_string="type=payment_link.deactivated")["data"]) == 1


def test_a_customers_event_shows_it_as_the_api_does(merchant):
    customer = merchant.ok("POST", "/customers", {"email": "ada@example.com", "name": "Ada", "metadata": {"k": "v"}})
    assert event_object(merchant, "customer.created", customer["id"]) == customer


def test_a_completed_and_an_expired_session_show_as_the_api_does(merchant, uow_factory, settings, deps):
    from domain import checkout_sessions

    link = make_link(merchant)
    token = open_session(uow_factory, settings, link)
    pay_session(deps, token)
    with uow_factory() as uow:
        session_id = checkout_sessions.find_by_token(uow, token).id
    assert event_object(merchant, "checkout.session.completed", session_id) == \
        merchant.ok("GET", f"/checkout-sessions/{session_id}")
    other = open_session(uow_factory, settings, link)
    with uow_factory() as uow:
        other_id = checkout_sessions.find_by_token(uow, other).id
    expired = merchant.ok("POST", f"/checkout-sessions/{other_id}/expire")
    assert event_object(merchant, "checkout.session.expired", other_id) == expired
