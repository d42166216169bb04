"""The dashboard's subscriptions: the list (by status), a subscription's page with its invoices,
Cancel at period end and now (signed in, with CSRF), and the customer page's subscriptions."""
from __future__ import annotations

import html

from tests.integration.test_dashboard import (  # noqa: F401  (fixtures)
    Browser, browser, csrf_of, sandbox_price, user)
from tests.integration.test_dashboard_payments import new_session, pay, session_of


def subscribed(user, deps, uow_factory, settings, amount=4900, **fields) -> str:
    price = sandbox_price(user, amount, product="Tea club", type="recurring", interval="month")
    link = user.ok("POST", "/payment-links", {"name": "Tea club", "mode": "subscription",
                                              "line_items": [{"price_id": price["id"]}], **fields},
                   key=user.test_api_key)
    token = new_session(uow_factory, settings, link)
    assert pay(deps, token, email="tea@example.com").completed
    return session_of(uow_factory, token).subscription_id


def text(result) -> str:
    return html.unescape(result.text)


def test_the_list_and_a_subscriptions_page_with_its_invoices(browser, user, deps, uow_factory, settings):
    sub_id = subscribed(user, deps, uow_factory, settings)
    listed = browser.get("/dashboard/subscriptions")
    assert listed.status_code == 200 and f'data-subscription="{sub_id}"' in listed.text
    assert "49.00 USD" in listed.text and "every month" in listed.text and "tea@example.com" in listed.text
    assert f'data-subscription="{sub_id}"' not in browser.get("/dashboard/subscriptions?status=canceled").text
    page = browser.get(f"/dashboard/subscriptions/{sub_id}")
    assert page.status_code == 200
    invoice = user.ok("GET", "/invoices", query_string=f"subscription_id={sub_id}", key=user.test_api_key)["data"][0]
    assert f'data-invoice="{invoice["id"]}"' in page.text and "4242" in text(page)
    assert browser.get("/dashboard/subscriptions/sub_test_nosuchthing0000").status_code == 404


def test_cancel_at_period_end_then_now(browser, user, deps, uow_factory, settings):
    sub_id = subscribed(user, deps, uow_factory, settings)
    page = f"/dashboard/subscriptions/{sub_id}"
    later = browser.submit(page, {"when": "period_end"}, action=f"{page}/cancel")
    assert later.status_code == 303 and later.headers["location"] == f"{page}?canceled=later"
    sub = user.ok("GET", f"/subscriptions/{sub_id}", key=user.test_api_key)
    assert (sub["status"], sub["cancel_at_period_end"]) == ("active", True)
    assert "will be canceled at the end of its current period" in text(browser.get(later.headers["location"]))
    now = browser.submit(page, {"when": "now"}, action=f"{page}/cancel")
    assert now.status_code == 303
    assert user.ok("GET", f"/subscriptions/{sub_id}", key=user.test_api_key)["status"] == "canceled"
    shown = text(browser.get(now.headers["location"]))
    assert "The subscription is canceled." in shown and 'value="now"' not in shown
    # Without the CSRF token nothing changes.
    other = subscribed(user, deps, uow_factory, settings)
    refused = browser.post(f"/dashboard/subscriptions/{other}/cancel", {"when": "now"})
    assert refused.status_code in (400, 403)
    assert user.ok("GET", f"/subscriptions/{other}", key=user.test_api_key)["status"] == "active"


def test_the_customer_page_shows_their_subscriptions(browser, user, deps, uow_factory, settings):
    sub_id = subscribed(user, deps, uow_factory, settings)
    customer_id = user.ok("GET", f"/subscriptions/{sub_id}", key=user.test_api_key)["customer_id"]
    page = browser.get(f"/dashboard/customers/{customer_id}")
    assert page.status_code == 200
    assert 'id="customer-subscriptions"' in page.text and f'data-subscription="{sub_id}"' in page.text
