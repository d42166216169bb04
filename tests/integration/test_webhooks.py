"""Webhooks end to end (SPEC 9): real HTTP receivers on loopback, the real Celery worker, the
real broker and database. Every event type that anything writes today arrives signed and
verifies with the `standardwebhooks` package; failures are retried on the schedule (time
travel on the sweep), 410 disables, a dead endpoint times out without holding up another,
rotation signs twice, and the SSRF guard refuses private addresses."""
from __future__ import annotations

import json
import socket
import time
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from falcon import testing
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from domain import events, payment_links, payment_records, webhooks
from domain.db import utcnow
from domain.models import Event, WebhookDelivery, WebhookEndpoint
from domain.queries import Owner
from runtime import webhook_http
from tests.conftest import make_merchant, pay_session, wait_for
from tests.integration.test_billing_clocks import advance, on_clock, subscribe
from tests.integration.test_paying import OFF_SESSION_DECLINE, make_link, open_session
from tests.receivers import Receiver, Reply
from workers.tasks import hand_out_due_webhooks

pytestmark = pytest.mark.usefixtures("celery_worker")
DECLINED = "4000000000000002"


@pytest.fixture
def merchant(client, uow_factory):
    return make_merchant(client, uow_factory).in_test_mode()


@pytest.fixture
def receiver():
    with Receiver() as made:
        yield made


def register(merchant, url: str, types=("*",), **fields) -> dict:
    return merchant.ok("POST", "/webhook-endpoints", {"url": url, "enabled_events": list(types), **fields})


def verified(secret: str, received) -> dict:
    return Webhook(secret).verify(received.body, received.headers)


def attempts(merchant, endpoint_id: str) -> list[dict]:
    return merchant.ok("GET", f"/webhook-endpoints/{endpoint_id}/deliveries", query_string="limit=100")["data"]


def delivery_of(uow_factory, endpoint_id: str) -> WebhookDelivery:
    with uow_factory() as uow:
        found = uow.session.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)).one()
        uow.session.expunge(found)
        return found


# ---- every event type, signed ---------------------------------------------------------------

def test_every_event_type_written_today_arrives_signed_and_verifies(merchant, receiver, client, uow_factory,
                                                                     settings, deps):
    hook = register(merchant, receiver.url)
    link = make_link(merchant)
    merchant.ok("PATCH", f"/payment-links/{link['id']}", {"name": "Renamed"})
    merchant.ok("DELETE", f"/payment-links/{link['id']}")
    merchant.ok("POST", "/customers", {"email": "known@example.com"})
    paid = make_link(merchant)
    token = open_session(uow_factory, settings, paid)
    assert pay_session(deps, token).completed
    declined = open_session(uow_factory, settings, paid)
    pay_session(deps, declined, card=DECLINED)
    with uow_factory() as uow:
        session = payment_links_session(uow, token)
        owner = Owner(merchant.account_id, False)
    payment_records.refund(deps.units, owner, session.payment_id, payment_records.NewRefund(amount_atom=500),
                           deps.processors.test_processor(), utcnow)
    sub_link = make_link(merchant, mode="subscription", line_items=[{"price_id": merchant.recurring_price()["id"]}])
    sub_token = open_session(uow_factory, settings, sub_link)
    assert pay_session(deps, sub_token).completed  # its first invoice is paid by the checkout
    with uow_factory() as uow:
        sub_id = payment_links_session(uow, sub_token).subscription_id
    merchant.ok("POST", f"/subscriptions/{sub_id}/cancel")  # at period end: updated
    merchant.ok("POST", f"/subscriptions/{sub_id}/cancel", {"at_period_end": False})
    expiring = open_session(uow_factory, settings, paid)
    with uow_factory() as uow:
        expiring_id = payment_links_session(uow, expiring).id
    merchant.ok("POST", f"/checkout-sessions/{expiring_id}/expire")
    clock, customer = on_clock(merchant)  # a card declined off-session at its renewal: invoice.payment_failed
    renewing = subscribe(merchant, client, uow_factory, settings, customer, card=OFF_SESSION_DECLINE)
    advance(merchant, clock, datetime.fromisoformat(renewing["current_period_end"]) + timedelta(hours=1))

    listed = merchant.ok("GET", "/events", query_string="limit=100")["data"]
    assert len(listed) < 100
    assert {e["type"] for e in listed} == set(events.TYPES)  # a type added to TYPES must be added here
    wait_for(lambda: len(receiver.received) >= len(listed), timeout=30)
    arrived = {}
    for got in receiver.received:
        event = verified(hook["secret"], got)
        assert got.headers["webhook-id"] == event["id"]
        assert got.headers["content-type"] == "application/json"
        arrived[event["id"]] = event
    assert set(arrived) == {e["id"] for e in listed}
    for event in listed:  # the body is the event exactly as the API shows it
        assert arrived[event["id"]] == event == merchant.ok("GET", f"/events/{event['id']}")
    by_type = {e["type"]: e for e in listed}
    assert by_type["payment_link.deactivated"]["data"]["object"]["is_active"] is False
    assert by_type["payment_link.updated"]["data"]["object"]["name"] == "Renamed"
    completed = [e for e in listed if e["type"] == "checkout.session.completed"]
    assert {e["data"]["object"]["status"] for e in completed} == {"complete"}
    assert by_type["payment.refunded"]["data"]["object"]["amount_refunded_atom"] == 500
    assert by_type["payment.failed"]["data"]["object"]["failure_code"] == "card_declined"
    assert by_type["checkout.session.expired"]["data"]["object"]["status"] == "expired"
    assert by_type["invoice.payment_failed"]["data"]["object"]["subscription_id"] == renewing["id"]
    assert all(a["succeeded"] and a["status_code"] == 200 for a in attempts(merchant, hook["id"]))


def payment_links_session(uow, token):
    from domain import checkout_sessions

    found = checkout_sessions.find_by_token(uow, token)
    uow.session.expunge(found)
    return found


def test_an_endpoint_gets_only_the_types_it_takes(merchant, receiver):
    register(merchant, receiver.url, ["customer.created"])
    make_link(merchant)
    customer = merchant.ok("POST", "/customers", {"email": "one@example.com"})
    wait_for(lambda: receiver.received)
    time.sleep(0.5)
    [got] = receiver.received
    assert json.loads(got.body)["data"]["object"]["id"] == customer["id"]


def test_a_change_that_rolled_back_writes_no_event_and_sends_nothing(merchant, receiver, uow_factory):
    register(merchant, receiver.url)
    price = merchant.price()
    owner = Owner(merchant.account_id, False)
    with uow_factory() as uow:
        payment_links.create(uow, owner, payment_links.NewPaymentLink(
            line_items=[payment_links.LineItem(price_id=price["id"])]))
        uow.rollback()
    refused = merchant.post("/payment-links", {"line_items": [{"price_id": price["id"]}], "success_url": "nope"})
    assert refused.status_code == 400
    time.sleep(1)
    with uow_factory() as uow:
        types = list(uow.session.scalars(select(Event.type).where(Event.account_id == merchant.account_id)))
    assert types == []  # nothing committed (products and prices write no event)
    assert receiver.received == []


def test_a_merchant_expire_and_the_sweeps_follow_up_announce_an_expiry_once(merchant, uow_factory, settings):
    link = make_link(merchant)
    token = open_session(uow_factory, settings, link)
    with uow_factory() as uow:
        session_id = payment_links_session(uow, token).id
    merchant.ok("POST", f"/checkout-sessions/{session_id}/expire")
    from workers.tasks import checkout_session_expired

    checkout_session_expired(session_id)  # the follow-up job, run again (a redelivery)
    expired = merchant.ok("GET", "/events", query_string="type=checkout.session.expired")["data"]
    assert [e["data"]["object"]["id"] for e in expired] == [session_id]


# ---- retries ----------------------------------------------------------------------------------

def test_500_twice_then_200_arrives_on_the_third_attempt_on_the_schedule(merchant, receiver, uow_factory):
    receiver.script(Reply(500, body=b"down"), Reply(500, body=b"still down"))
    hook = register(merchant, receiver.url, ["customer.created"])
    merchant.ok("POST", "/customers", {"email": "retry@example.com"})
    wait_for(lambda: len(attempts(merchant, hook["id"])) == 1)
    first = delivery_of(uow_factory, hook["id"])
    [one] = attempts(merchant, hook["id"])
    assert (one["status_code"], one["response_body"], one["succeeded"], one["delivery_status"]) == \
        (500, "down", False, "pending")
    wait = datetime.fromisoformat(one["next_attempt_at"]) - datetime.fromisoformat(one["created_at"])
    assert timedelta(seconds=4.5) <= wait <= timedelta(seconds=5.5)  # 5 s, with up to 10% jitter
    hand_out_due_webhooks(utcnow())  # not due yet: the sweep leaves it
    time.sleep(0.5)
    assert len(attempts(merchant, hook["id"])) == 1
    hand_out_due_webhooks(first.next_attempt_at + timedelta(seconds=1))  # travel to the first retry
    wait_for(lambda: len(attempts(merchant, hook["id"])) == 2)
    two = attempts(merchant, hook["id"])[0]
    wait = datetime.fromisoformat(two["next_attempt_at"]) - datetime.fromisoformat(two["created_at"])
    assert timedelta(minutes=4.5) <= wait <= timedelta(minutes=5.5)
    hand_out_due_webhooks(utcnow() + timedelta(minutes=6))
    wait_for(lambda: len(attempts(merchant, hook["id"])) == 3)
    third = attempts(merchant, hook["id"])[0]
    assert (third["attempt"], third["status_code"], third["succeeded"], third["delivery_status"]) == \
        (3, 200, True, "succeeded")
    bodies = receiver.bodies()
    assert len(bodies) == 3 and len(set(bodies)) == 1  # the same event each time
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1


def test_retry_after_is_honoured(merchant, receiver):
    receiver.script(Reply(503, headers={"Retry-After": "600"}))
    hook = register(merchant, receiver.url, ["customer.created"])
    merchant.ok("POST", "/customers", {"email": "later@example.com"})
    wait_for(lambda: attempts(merchant, hook["id"]))
    [one] = attempts(merchant, hook["id"])
    wait = datetime.fromisoformat(one["next_attempt_at"]) - datetime.fromisoformat(one["created_at"])
    assert timedelta(minutes=10) <= wait < timedelta(minutes=10, seconds=2)


def test_410_disables_the_endpoint(merchant, receiver, uow_factory):
    receiver.script(Reply(410, body=b"gone"))
    hook = register(merchant, receiver.url, ["customer.created"])
    merchant.ok("POST", "/customers", {"email": "a@example.com"})
    wait_for(lambda: merchant.ok("GET", f"/webhook-endpoints/{hook['id']}")["disabled"])
    after = merchant.ok("GET", f"/webhook-endpoints/{hook['id']}")
    assert after["disabled_reason"] == "gone" and after["disabled_at"]
    assert delivery_of(uow_factory, hook["id"]).status == "failed"
    merchant.ok("POST", "/customers", {"email": "b@example.com"})
    time.sleep(1)
    assert len(receiver.received) == 1  # a disabled endpoint gets nothing more


def test_an_endpoint_that_never_answers_times_out_without_holding_up_another(merchant, uow_factory):
    with Receiver(Reply(delay=30)) as dead, Receiver() as alive:
        slow = register(merchant, dead.url, ["customer.created"])
        register(merchant, alive.url, ["customer.created"])
        started = time.monotonic()
        for n in range(6):  # more events than the worker has threads (4)
            merchant.ok("POST", "/customers", {"email": f"c{n}@example.com"})
        wait_for(lambda: len(alive.received) == 6, timeout=10)
        assert time.monotonic() - started < 5  # all six while the dead one still holds its first
        assert dead.most_in_flight == 1  # one attempt at a time to an endpoint
        wait_for(lambda: attempts(merchant, slow["id"]), timeout=20)
        [timed_out] = attempts(merchant, slow["id"])
        assert (timed_out["status_code"], timed_out["error"], timed_out["succeeded"]) == (None, "timeout", False)
        assert 10_000 <= timed_out["duration_ms"] < 11_000
        # No answer at all: the endpoint is down, so the five waiting deliveries wait with the
        # first for its retry (none spends its own 10 s now); none is lost.
        with uow_factory() as uow:
            due = list(uow.session.scalars(select(WebhookDelivery.next_attempt_at).where(
                WebhookDelivery.endpoint_id == slow["id"], WebhookDelivery.status == "pending")))
        retry_at = datetime.fromisoformat(timed_out["next_attempt_at"])
        assert len(due) == 6 and all(at >= retry_at for at in due)
        time.sleep(2)
        assert len(dead.received) == 1


def test_a_worker_that_delivered_goes_on_with_the_endpoints_backlog_in_the_same_job(merchant, receiver, deps):
    from domain.db import UnitOfWork, session_factory
    from workers.tasks import deliver_webhook

    class Held:  # the jobs of these events are not sent: one job must deliver them all
        def send(self, name, args, *, task_id):
            pass

    hook = register(merchant, receiver.url, ["customer.created"])
    owner = Owner(merchant.account_id, False)
    factory = session_factory(deps.engine)
    from domain import catalog

    for n in range(5):
        with UnitOfWork(factory, Held(), outbox=deps.outbox) as uow:
            catalog.create_customer(uow, owner, catalog.NewCustomer(email=f"b{n}@example.com"))
            uow.commit()
    with UnitOfWork(factory, Held(), outbox=deps.outbox) as uow:
        rows = uow.session.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == hook["id"])
                                   .order_by(WebhookDelivery.created_at)).all()
        for row in rows:
            row.next_attempt_at = row.created_at  # due (as a burst waiting behind a busy endpoint is)
        first = rows[0].id
        uow.commit()
    assert deliver_webhook.run(first, 0) == 200
    assert len(receiver.received) == 5
    assert [a["succeeded"] for a in attempts(merchant, hook["id"])] == [True] * 5


def test_five_days_of_failures_disables_the_endpoint(merchant, uow_factory):
    hook = register(merchant, "https://hooks.example.test/", ["customer.created"])  # resolves nowhere
    with uow_factory() as uow:
        endpoint = webhooks.get(uow, Owner(merchant.account_id, False), hook["id"])
        endpoint.failing_since = utcnow() - timedelta(days=4, hours=23)
        uow.commit()
    merchant.ok("POST", "/customers", {"email": "dead@example.com"})
    wait_for(lambda: attempts(merchant, hook["id"]))
    assert attempts(merchant, hook["id"])[0]["error"] == "dns_failure"
    assert not merchant.ok("GET", f"/webhook-endpoints/{hook['id']}")["disabled"]  # 4 days 23 hours
    with uow_factory() as uow:
        endpoint = webhooks.get(uow, Owner(merchant.account_id, False), hook["id"])
        endpoint.failing_since = utcnow() - timedelta(days=5, minutes=1)
        uow.commit()
    hand_out_due_webhooks(utcnow() + timedelta(seconds=6))
    wait_for(lambda: len(attempts(merchant, hook["id"])) == 2)
    after = merchant.ok("GET", f"/webhook-endpoints/{hook['id']}")
    assert (after["disabled"], after["disabled_reason"]) == (True, "failing")
    assert delivery_of(uow_factory, hook["id"]).status == "canceled"


# ---- rotation -----------------------------------------------------------------------------------

def test_after_a_rotation_both_secrets_sign_for_24_hours(merchant, receiver, uow_factory, deps):
    hook = register(merchant, receiver.url, ["customer.created"])
    rotated = merchant.ok("POST", f"/webhook-endpoints/{hook['id']}/rotate-secret")
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != hook["secret"]
    assert "secret" not in merchant.ok("GET", f"/webhook-endpoints/{hook['id']}")
    merchant.ok("POST", "/customers", {"email": "r@example.com"})
    wait_for(lambda: receiver.received)
    [got] = receiver.received
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert verified(hook["secret"], got) == verified(rotated["secret"], got)
    with uow_factory() as uow:
        endpoint = webhooks.get(uow, Owner(merchant.account_id, False), hook["id"])
        box = deps.processors.box
        assert webhooks.signing_secrets(endpoint, box, utcnow() + timedelta(hours=23)) == \
            [rotated["secret"], hook["secret"]]
        assert webhooks.signing_secrets(endpoint, box, utcnow() + timedelta(hours=24, seconds=1)) == \
            [rotated["secret"]]


def test_secrets_are_stored_encrypted(merchant, uow_factory):
    hook = register(merchant, "https://hooks.example.test/x")
    with uow_factory() as uow:
        row = uow.session.get(WebhookEndpoint, hook["id"])
        uow.session.expunge(row)
    assert hook["secret"].encode() not in row.secret_encrypted
    assert hook["secret"][6:].encode() not in row.secret_encrypted


# ---- the SSRF guard -------------------------------------------------------------------------

@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1"])
def test_the_guard_refuses_private_addresses(address, receiver):
    host = f"[{address}]" if ":" in address else address
    answer = webhook_http.post(f"http://{host}:{receiver.port}/hooks", b"{}", {}, allow_private=False)
    assert (answer.status, answer.error) == (None, "refused_address")
    assert receiver.received == []


@pytest.fixture
def fake_dns(monkeypatch):
    """Names of our own, resolved as the test says (counting lookups); any other as usual."""
    names: dict[str, str] = {}
    lookups: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            lookups.append(host)
            family = socket.AF_INET6 if ":" in names[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (names[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names, lookups


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "169.254.169.254"])
def test_the_guard_refuses_a_name_resolving_to_a_private_address(address, receiver, fake_dns):
    names, _ = fake_dns
    names["internal.example.test"] = address
    answer = webhook_http.post(f"http://internal.example.test:{receiver.port}/", b"{}", {}, allow_private=False)
    assert answer.error == "refused_address"
    localhost = webhook_http.post(f"http://localhost:{receiver.port}/", b"{}", {}, allow_private=False)
    assert localhost.error == "refused_address"
    assert receiver.received == []


def test_the_guard_resolves_once_connects_to_that_address_and_keeps_the_host(receiver, fake_dns):
    names, lookups = fake_dns
    names["hooks.example.test"] = "127.0.0.1"
    answer = webhook_http.post(f"http://hooks.example.test:{receiver.port}/in", b"{}", {}, allow_private=True)
    assert answer.status == 200
    assert lookups == ["hooks.example.test"]
    assert receiver.received[0].headers["host"] == f"hooks.example.test:{receiver.port}"


def test_redirects_are_not_followed_and_only_2_kb_of_an_answer_is_kept(receiver):
    with Receiver() as elsewhere:
        receiver.script(Reply(302, headers={"Location": elsewhere.url}), Reply(200, body=b"x" * 100_000))
        moved = webhook_http.post(receiver.url, b"{}", {}, allow_private=True)
        big = webhook_http.post(receiver.url, b"{}", {}, allow_private=True)
        assert moved.status == 302 and elsewhere.received == []
        assert big.status == 200 and big.body == "x" * 2048


def test_the_api_refuses_a_private_url_unless_allowed(settings, deps, merchant):
    strict = testing.TestClient(_app(replace(settings, webhook_allow_private_urls=False), deps))
    for url in ("http://127.0.0.1:9/x", "http://10.0.0.1/x", "http://169.254.169.254/latest/meta-data/",
                "http://localhost:8080/"):
        result = strict.simulate_post(f"/api/{merchant.account_id}/webhook-endpoints",
                                      json={"url": url, "enabled_events": ["*"]},
                                      headers={"Authorization": f"Bearer {merchant.api_key}"})
        assert result.status_code == 400, url
        assert (result.json["error"]["code"], result.json["error"]["param"]) == ("url_not_allowed", "url")
    assert merchant.post("/webhook-endpoints", {"url": "http://127.0.0.1:9/x", "enabled_events": ["*"]}) \
        .status_code == 200  # WEBHOOK_ALLOW_PRIVATE_URLS=1 in these tests


def _app(settings, deps):
    from api.app import create_app

    return create_app(settings, replace(deps, settings=settings))


# ---- the endpoints and events API ----------------------------------------------------------

def test_endpoints_create_list_change_disable_and_delete(merchant, other_merchant):
    made = register(merchant, "https://hooks.example.test/a", ["payment.succeeded"], description="Orders")
    assert made["secret"].startswith("whsec_") and made["id"].startswith("we_test_")
    assert (made["enabled_events"], made["description"], made["disabled"]) == (["payment.succeeded"], "Orders",
                                                                                 False)
    listed = merchant.ok("GET", "/webhook-endpoints")["data"]
    assert [e["id"] for e in listed] == [made["id"]] and "secret" not in listed[0]
    changed = merchant.ok("PATCH", f"/webhook-endpoints/{made['id']}",
                          {"url": "https://hooks.example.test/b", "enabled_events": ["*"], "disabled": True})
    assert (changed["url"], changed["enabled_events"], changed["disabled"], changed["disabled_reason"]) == \
        ("https://hooks.example.test/b", ["*"], True, "merchant")
    enabled = merchant.ok("PATCH", f"/webhook-endpoints/{made['id']}", {"disabled": False})
    assert (enabled["disabled"], enabled["disabled_reason"]) == (False, None)
    assert other_merchant.in_test_mode().get(f"/webhook-endpoints/{made['id']}").status_code == 404
    assert merchant.ok("DELETE", f"/webhook-endpoints/{made['id']}") == \
        {"id": made["id"], "object": "webhook_endpoint", "deleted": True}
    assert merchant.get(f"/webhook-endpoints/{made['id']}").status_code == 404


@pytest.mark.parametrize("body, param", [
    ({"url": "https://h.example.test/", "enabled_events": []}, "enabled_events"),
    ({"url": "https://h.example.test/", "enabled_events": ["nope"]}, "enabled_events[0]"),
    ({"url": "https://h.example.test/", "enabled_events": ["*", "customer.created"]}, "enabled_events"),
    ({"url": "ftp://h.example.test/", "enabled_events": ["*"]}, "url"),
])
def test_endpoint_rules(merchant, body, param):
    result = merchant.post("/webhook-endpoints", body)
    assert result.status_code == 400 and result.json["error"]["param"] == param


def test_a_live_mode_endpoint_must_use_https(client, uow_factory):
    live = make_merchant(client, uow_factory)
    result = live.post("/webhook-endpoints", {"url": "http://hooks.example.test/", "enabled_events": ["*"]})
    assert (result.status_code, result.json["error"]["param"]) == (400, "url")
    assert live.post("/webhook-endpoints", {"url": "https://hooks.example.test/", "enabled_events": ["*"]}) \
        .status_code == 200


def test_events_list_by_type_and_cursor_and_belong_to_their_account_and_mode(merchant, other_merchant):
    ids = [merchant.ok("POST", "/customers", {"email": f"p{n}@example.com"})["id"] for n in range(3)]
    make_link(merchant)
    first = merchant.ok("GET", "/events", query_string="type=customer.created&limit=2")
    assert [e["data"]["object"]["id"] for e in first["data"]] == ids[::-1][:2] and first["has_more"]
    rest = merchant.ok("GET", "/events", query_string=f"type=customer.created&starting_after={first['data'][1]['id']}")
    assert [e["data"]["object"]["id"] for e in rest["data"]] == [ids[0]] and not rest["has_more"]
    event_id = first["data"][0]["id"]
    assert event_id.startswith("evt_test_")
    assert other_merchant.in_test_mode().get(f"/events/{event_id}").status_code == 404
    assert merchant.in_test_mode().get(f"/events/{event_id}", key=merchant.live_api_key).status_code == 404
    assert merchant.get("/events", query_string="type=nope").status_code == 400


def test_redeliver_sends_an_event_again_to_the_endpoint_named(merchant, receiver, other_merchant):
    hook = register(merchant, receiver.url, ["customer.created"])
    merchant.ok("POST", "/customers", {"email": "again@example.com"})
    wait_for(lambda: len(receiver.received) == 1)
    event_id = json.loads(receiver.received[0].body)["id"]
    again = merchant.ok("POST", f"/events/{event_id}/redeliver", {"endpoint_id": hook["id"]})
    assert (again["event_id"], again["endpoint_id"], again["status"]) == (event_id, hook["id"], "pending")
    wait_for(lambda: len(receiver.received) == 2)
    assert receiver.received[1].headers["webhook-id"] == event_id
    foreign = other_merchant.in_test_mode()
    foreign_hook = register(foreign, "https://hooks.example.test/")
    result = merchant.post(f"/events/{event_id}/redeliver", {"endpoint_id": foreign_hook["id"]})
    assert (result.status_code, result.json["error"]["param"]) == (400, "endpoint_id")
    merchant.ok("PATCH", f"/webhook-endpoints/{hook['id']}", {"disabled": True})
    assert merchant.post(f"/events/{event_id}/redeliver", {"endpoint_id": hook["id"]}).status_code == 409


def test_events_older_than_30_days_are_purged(merchant, uow_factory):
    from workers.tasks import purge_expired_events

    merchant.ok("POST", "/customers", {"email": "old@example.com"})
    merchant.ok("POST", "/customers", {"email": "recent@example.com"})
    with uow_factory() as uow:
        old, recent = uow.session.scalars(select(Event).where(Event.account_id == merchant.account_id)
                                          .order_by(Event.created_at)).all()
        old.created_at = utcnow() - timedelta(days=30, minutes=1)
        recent.created_at = utcnow() - timedelta(days=29, hours=23)
        uow.commit()
        old_id, recent_id = old.id, recent.id
    assert purge_expired_events() >= 1
    with uow_factory() as uow:
        assert uow.session.get(Event, old_id) is None and uow.session.get(Event, recent_id) is not None
