"""The dashboard's Webhooks and Events pages: a merchant registers an endpoint (the secret shown
once), pays a test link, and sees the signed `checkout.session.completed` arrive at a real
receiver and in the delivery log; edits, rotation, disabling and the notice of an endpoint we
disabled; the event page sends an event again."""
from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from domain import users, webhooks
from domain.db import utcnow
from domain.queries import Owner
from tests.conftest import pay_session, wait_for
from tests.integration.test_dashboard import PASSWORD, Browser, error_next_to
from tests.integration.test_paying import make_link, open_session
from tests.receivers import Receiver

pytestmark = pytest.mark.usefixtures("celery_worker")


@pytest.fixture
def browser(client, merchant, uow_factory):
    email = f"hooks-{merchant.account_id.lower()}@example.com"
    with uow_factory() as uow:
        users.create_user(uow, merchant.account_id, email, PASSWORD)
        uow.commit()
    signed = Browser(client)
    assert signed.sign_in(email).status_code == 303
    return signed


@pytest.fixture
def receiver():
    with Receiver() as made:
        yield made


def secret_on(page_text: str) -> str:
    return html.unescape(re.search(r'id="secret" value="([^"]+)"', page_text).group(1))


def test_register_pay_and_see_the_signed_completion_arrive_and_in_the_log(browser, merchant, receiver, uow_factory,
                                                                          settings, deps):
    made = browser.submit("/dashboard/webhooks", {"url": receiver.url, "description": "Orders",
                                                  "enabled_events": ["checkout.session.completed"]})
    assert made.status_code == 200 and "it is not shown again" in made.text
    secret = secret_on(made.text)
    endpoint_id = re.search(r'action="/dashboard/webhooks/(we_test_[A-Za-z0-9]+)"', made.text).group(1)
    assert secret not in browser.get(f"/dashboard/webhooks/{endpoint_id}").text  # shown once
    test_mode = merchant.in_test_mode()
    token = open_session(uow_factory, settings, make_link(test_mode))
    assert pay_session(deps, token).completed
    wait_for(lambda: receiver.received)
    [got] = receiver.received
    event = Webhook(secret).verify(got.body, got.headers)
    assert event["type"] == "checkout.session.completed" and event["data"]["object"]["status"] == "complete"
    # The receiver has the request a moment before the worker records the attempt: wait for the log.
    log = wait_for(lambda: (page := browser.get(f"/dashboard/webhooks/{endpoint_id}")) and
                   '<span class="badge complete">200</span>' in page.text and page)
    assert "checkout.session.completed" in log.text
    assert f'href="/dashboard/events/{event["id"]}"' in log.text
    shown = browser.get(f"/dashboard/events/{event['id']}")
    assert shown.status_code == 200 and html.unescape(event["data"]["object"]["id"]) in shown.text
    listed = browser.get("/dashboard/events?type=checkout.session.completed")
    assert event["id"] in listed.text


def test_form_errors_are_shown_next_to_their_fields(browser):
    refused = browser.submit("/dashboard/webhooks", {"url": "not a url"})
    assert refused.status_code == 400
    assert error_next_to(refused.text, "url") == "Enter an absolute http or https URL."
    none_chosen = browser.submit("/dashboard/webhooks", {"url": "https://hooks.example.test/"})
    assert error_next_to(none_chosen.text, "enabled_events") == "Choose the events to send, or All events."


def test_edit_rotate_disable_enable_and_delete(browser, merchant):
    made = browser.submit("/dashboard/webhooks", {"url": "https://hooks.example.test/a", "all_events": "on"})
    endpoint_id = re.search(r'action="/dashboard/webhooks/(we_test_[A-Za-z0-9]+)"', made.text).group(1)
    first_secret = secret_on(made.text)
    page = f"/dashboard/webhooks/{endpoint_id}"
    saved = browser.submit(page, {"action": "save", "url": "https://hooks.example.test/b",
                                  "enabled_events": ["payment.succeeded", "payment.failed"]})
    assert saved.status_code == 303
    shown = merchant.ok("GET", f"/webhook-endpoints/{endpoint_id}", key=merchant.test_api_key)
    assert (shown["url"], shown["enabled_events"]) == ("https://hooks.example.test/b",
                                                        ["payment.succeeded", "payment.failed"])
    rotated = browser.submit(page, {"action": "rotate"})
    assert rotated.status_code == 200 and secret_on(rotated.text) != first_secret
    assert browser.submit(page, {"action": "disable"}).status_code == 303
    assert merchant.ok("GET", f"/webhook-endpoints/{endpoint_id}", key=merchant.test_api_key)["disabled"]
    assert browser.submit(page, {"action": "enable"}).status_code == 303
    assert not merchant.ok("GET", f"/webhook-endpoints/{endpoint_id}", key=merchant.test_api_key)["disabled"]
    assert browser.submit(page, {"action": "delete"}).status_code == 303
    assert browser.get(page).status_code == 404


def test_an_endpoint_we_disabled_is_announced_on_the_webhooks_page(browser, merchant, uow_factory):
    test_mode = merchant.in_test_mode()
    hook = test_mode.ok("POST", "/webhook-endpoints", {"url": "https://hooks.example.test/", "enabled_events": ["*"]})
    with uow_factory() as uow:
        endpoint = webhooks.get(uow, Owner(merchant.account_id, False), hook["id"])
        webhooks.disable(uow, endpoint, "failing", utcnow() - timedelta(minutes=1))
        uow.commit()
    page = browser.get("/dashboard/webhooks")
    assert "every delivery to it failed for 5 days" in page.text and hook["url"] in page.text
    assert "every delivery to it failed for 5 days" in browser.get(f"/dashboard/webhooks/{hook['id']}").text


def test_the_event_page_sends_the_event_again(browser, merchant, receiver):
    test_mode = merchant.in_test_mode()
    hook = test_mode.ok("POST", "/webhook-endpoints", {"url": receiver.url, "enabled_events": ["customer.created"]})
    test_mode.ok("POST", "/customers", {"email": "again@example.com"})
    wait_for(lambda: receiver.received)
    event_id = json.loads(receiver.received[0].body)["id"]
    sent = browser.submit(f"/dashboard/events/{event_id}", {"endpoint_id": hook["id"]})
    assert sent.status_code == 303 and sent.headers["location"] == f"/dashboard/webhooks/{hook['id']}"
    wait_for(lambda: len(receiver.received) == 2)
    other = browser.submit(f"/dashboard/events/{event_id}", {"endpoint_id": "we_test_nope"})
    assert other.status_code == 400


def test_another_accounts_endpoint_and_event_are_not_found(browser, other_merchant):
    foreign = other_merchant.in_test_mode()
    hook = foreign.ok("POST", "/webhook-endpoints", {"url": "https://hooks.example.test/", "enabled_events": ["*"]})
    customer = foreign.ok("POST", "/customers", {"email": "x@example.com"})
    event_id = foreign.ok("GET", "/events")["data"][0]["id"]
    assert customer and browser.get(f"/dashboard/webhooks/{hook['id']}").status_code == 404
    assert browser.get(f"/dashboard/events/{event_id}").status_code == 404
