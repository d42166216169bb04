"""The merchant's business pages in a real headless Chromium: a link's 30-day funnel (opens counted
on the real share path, rolled up by the beat job's body), sessions and payments with customers,
a link filter and totals, customers, Settings → Account, API keys and Users. Revoking a key in the
dashboard makes the API refuse it at once. Every page also at 390 px, where nothing may be wider
than the screen.

Screenshots go to $DASHBOARD_SCREENSHOTS (the README's come from
`DASHBOARD_SCREENSHOTS=docs/screenshots pytest tests/e2e/test_dashboard_business_browser.py`),
else a temporary folder.
"""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from datetime import timedelta

from domain import checkout_sessions, funnel, users
from domain.checkout_tokens import new_checkout_token
from domain.db import utcnow
from domain.ids import new_id
from tests.conftest import find_share_link, pay_session, wait_for
from tests.e2e.test_dashboard_payments_browser import DESKTOP, PHONE, fits, paid_session

pytestmark = pytest.mark.e2e

PASSWORD = "a long and secret passphrase"


def call(base_url: str, path: str, key: str) -> int:
    request = urllib.request.Request(f"{base_url}{path}", headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def open_share(base_url: str, token: str) -> dict:
    request = urllib.request.Request(f"{base_url}/api/pay/share/{token}", headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def history(deps, uow_factory, settings, link: dict) -> tuple[int, int, int]:
    """Two weeks of a link's past: opens as the rollup stores them, sessions made on their day, some
    paid on their day. What it added: (opens, sessions, completed)."""
    opens = sessions = completed = 0
    now = utcnow()
    for days_ago in range(1, 15):
        at = now - timedelta(days=days_ago, hours=1)
        visits = 3 + (days_ago * 7) % 6
        with uow_factory() as uow:
            funnel.store_opens(uow, at.date(), {link["id"]: visits}, now)
            uow.commit()
        for n in range(visits - 1):
            token = new_checkout_token(settings.secret_key, at)
            with uow_factory() as uow:
                found = find_share_link(uow.session.get_bind(), link["secure_token"])
                checkout_sessions.store(uow, checkout_sessions.new_session(
                    found, session_id=new_id("cs", False), checkout_token=token, now=at))
                uow.commit()
            sessions += 1
            if n < days_ago % 3 + 1:
                assert pay_session(deps, token, at + timedelta(minutes=3), email=("lin.wei@example.com", "sam.okafor@example.com", "noor@example.com")[days_ago % 3]).completed
                completed += 1
        opens += visits
    return opens, sessions, completed


def sign_in(page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/dashboard/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/dashboard/payment-links")


def both_widths(page, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    page.set_viewport_size(PHONE)
    assert fits(page), f"{name} is wider than a 390 px screen"
    page.screenshot(path=str(shots / f"{name}-390.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def test_funnel_lists_and_settings_and_a_key_revoked_in_the_dashboard(page, base_url, merchant, uow_factory,
                                                                       settings, deps, celery_worker, shots):
    from workers.tasks import rollup_link_opens

    email = f"owner-{merchant.account_id.lower()}@tea-shop.example"
    with uow_factory() as uow:
        users.create_user(uow, merchant.account_id, email, PASSWORD)
        uow.commit()
    shop = merchant.in_test_mode()
    tea = shop.ok("POST", "/payment-links", {"name": "Tea of the month box", "line_items": [
        {"price_id": shop.price(1999, "USD", product_id=shop.product("Tea box")["id"])["id"], "quantity": 2}]})
    mug = shop.ok("POST", "/payment-links", {"name": "Mug", "line_items": [{"price_id": shop.price(1450)["id"]}]})
    for _ in range(9):  # customers open the share URL: counted, and sessions made by the worker
        open_share(base_url, tea["secure_token"])
    wait_for(lambda: len(shop.ok("GET", f"/checkout-sessions?payment_link_id={tea['id']}&limit=20")["data"]) == 9,
             timeout=60)
    paid_session(merchant, uow_factory, settings, deps, tea, email="ada@example.com", name="Ada Lovelace")
    paid_session(merchant, uow_factory, settings, deps, tea, email="ada@example.com", name="Ada Lovelace")
    paid_session(merchant, uow_factory, settings, deps, mug, email="grace.hopper@example.com", card="5555555555554444")
    rollup_link_opens()
    opens, sessions, completed = history(deps, uow_factory, settings, tea)

    sign_in(page, base_url, email)

    # The link's funnel: today 9 opens, 11 sessions (two paid ones were made without the share URL),
    # 2 completed; and the two weeks before.
    page.get_by_role("link", name="Tea of the month box").first.click()
    page.wait_for_url(f"{base_url}/dashboard/payment-links/{tea['id']}")
    assert page.locator("#funnel-opens").inner_text() == str(9 + opens)
    assert page.locator("#funnel-sessions").inner_text() == str(11 + sessions)
    assert page.locator("#funnel-completed").inner_text() == str(2 + completed)
    chart = page.locator("#funnel-chart")
    assert chart.is_visible() and chart.get_attribute("role") == "img"
    assert chart.bounding_box()["width"] > 600
    assert page.locator("#funnel-chart rect.bar.opens").count() == 15  # one a day with opens
    both_widths(page, shots, "dashboard-link-funnel")
    page.get_by_text("Day by day").click()
    assert page.locator("#funnel-days tbody tr").first.inner_text().split("\t")[1:4] == ["9", "11", "2"]
    page.set_viewport_size(PHONE)
    assert 300 < page.locator("#funnel-chart").bounding_box()["width"] <= 390
    page.set_viewport_size(DESKTOP)

    # Sessions of one link, with customers and totals.
    page.goto(f"{base_url}/dashboard/checkout-sessions")
    page.get_by_label("Payment link").select_option(label="Mug")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"payment_link_id=pl_test_"))
    assert page.locator("#list-totals").inner_text() == "1 session · 14.50 USD paid, less refunds"
    assert "grace.hopper@example.com" in page.locator("table tbody").inner_text()
    page.goto(f"{base_url}/dashboard/checkout-sessions")
    page.get_by_label("Payment link").select_option(label="Tea of the month box")
    page.get_by_label("Status").select_option("complete")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"status=complete"))
    assert page.locator("#list-totals").inner_text().startswith(f"{2 + completed} sessions · ")
    both_widths(page, shots, "dashboard-sessions")

    page.goto(f"{base_url}/dashboard/payments")
    assert page.locator("#list-totals").inner_text().startswith(f"{3 + completed} payments · ")
    both_widths(page, shots, "dashboard-payments-list")

    # Customers: payments and their total; a customer's page.
    page.locator(".sidebar").get_by_role("link", name="Customers", exact=True).click()
    row = page.locator("table tbody tr", has_text="Ada Lovelace")
    assert "79.96 USD" in row.inner_text()
    both_widths(page, shots, "dashboard-customers")
    row.get_by_role("link").click()
    assert page.locator("#customer-payments-count").inner_text() == "2"
    assert page.locator("#customer-sessions tbody tr").count() == 2
    both_widths(page, shots, "dashboard-customer")

    # Settings → Account: every error at once, then saved.
    page.goto(f"{base_url}/dashboard/settings")
    page.wait_for_url(f"{base_url}/dashboard/settings/account")
    page.get_by_label("Support email").fill("not an email")
    page.get_by_label("Brand colour").fill("teal")
    page.get_by_role("button", name="Save").click()
    assert page.locator("#error-support_email").inner_text() == "Support email must be an email address"
    assert page.locator("#error-brand_color").is_visible()
    page.get_by_label("Display name").fill("Ada's Teas")
    page.get_by_label("Support email").fill("help@ada-teas.example")
    page.get_by_label("Brand colour").fill("#1a73e8")
    page.get_by_role("button", name="Save").click()
    assert "Saved." in page.get_by_role("status").inner_text()
    both_widths(page, shots, "dashboard-account")

    # Settings → API keys: make one, use it, revoke it, and the API refuses it at once.
    page.locator(".sidebar").get_by_role("link", name="API keys", exact=True).click()
    page.get_by_label("Mode").select_option("test")
    page.get_by_role("button", name="Make key").click()
    secret = page.locator("#new-key-secret").input_value()
    assert secret.startswith("sk_test_")
    assert call(base_url, f"/api/{merchant.account_id}/payment-links", secret) == 200
    both_widths(page, shots, "dashboard-api-keys-new")
    page.locator(".sidebar").get_by_role("link", name="API keys", exact=True).click()
    assert secret not in page.content()
    row = page.locator("#api-keys tbody tr", has_text=f"sk_test_…{secret[-4:]}")
    assert "Used" in row.inner_text()
    row.get_by_role("link", name="Revoke").click()
    page.get_by_role("button", name="Revoke key").click()
    page.wait_for_url(re.compile(r"/dashboard/settings/api-keys\?revoked=key_test_"))
    assert call(base_url, f"/api/{merchant.account_id}/payment-links", secret) == 401
    assert call(base_url, f"/api/{merchant.account_id}/payment-links", merchant.api_key) == 200
    assert page.locator("#api-keys tbody tr").count() == 2
    both_widths(page, shots, "dashboard-api-keys")

    # Settings → Users.
    page.locator(".sidebar").get_by_role("link", name="Users", exact=True).click()
    page.get_by_label("Email").fill("bob@tea-shop.example")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_role("button", name="Add user").click()
    assert page.locator("#error-password").inner_text().startswith("The password must be at least 10")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Add user").click()
    assert "User added" in page.get_by_role("status").inner_text()
    assert "bob@tea-shop.example" in page.locator("#users").inner_text()
    both_widths(page, shots, "dashboard-users")
