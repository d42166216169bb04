"""A merchant looks at a subscription that has billed for months (on a test clock) and cancels
it, in a real headless Chromium: the subscriptions list, the subscription's page with its
invoices, Cancel at period end, the customer's page; each at desktop width and at 390 px, where
nothing may be wider than the screen.

Screenshots go to $DASHBOARD_SCREENSHOTS (docs/ holds the ones the docs show), else a temporary folder.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from domain import users
from tests.conftest import wait_for
from tests.e2e.test_dashboard_payments_browser import DESKTOP, PASSWORD, PHONE, fits
from tests.integration.test_paying import VISA, make_link, open_session, pay, session_of

pytestmark = pytest.mark.e2e


def both_widths(page, shots: Path, name: str) -> None:
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    page.set_viewport_size(PHONE)
    assert fits(page), f"{name} is wider than a 390 px screen"
    page.screenshot(path=str(shots / f"{name}-390.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def test_a_merchant_reads_a_subscriptions_invoices_and_cancels_it(page, base_url, merchant, client, uow_factory,
                                                                  settings, deps, celery_worker, shots):
    email = f"owner-{merchant.account_id.lower()}@tea-club.example"
    with uow_factory() as uow:
        users.create_user(uow, merchant.account_id, email, PASSWORD)
        uow.commit()
    shop = merchant.in_test_mode()
    clock = shop.ok("POST", "/test-clocks", {"frozen_time": "2026-01-05T10:00:00Z"})
    customer = shop.ok("POST", "/customers", {"email": "ada@example.com", "name": "Ada Lovelace",
                                              "test_clock_id": clock["id"]})
    price = shop.ok("POST", "/prices", {"product_id": shop.product("Tea club")["id"], "unit_amount_atom": 2400,
                                        "currency": "USD", "type": "recurring", "interval": "month"})
    coupon = shop.ok("POST", "/coupons", {"name": "Half off, twice", "percent_off": 50, "duration": "repeating",
                                          "duration_in_months": 2})
    link = make_link(shop, name="Tea club", mode="subscription", customer_id=customer["id"], free_trial_days=14,
                     coupon_id=coupon["id"], line_items=[{"price_id": price["id"]}])
    token = open_session(uow_factory, settings, link)
    assert pay(client, token, VISA).status_code == 303
    sub_id = session_of(uow_factory, token).subscription_id
    shop.ok("POST", f"/test-clocks/{clock['id']}/advance", {"frozen_time": "2026-04-25T10:00:00Z"})
    wait_for(lambda: shop.ok("GET", f"/test-clocks/{clock['id']}")["status"] == "ready", timeout=30)

    page.goto(f"{base_url}/dashboard/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/dashboard/payment-links")

    page.locator(".sidebar").get_by_role("link", name="Subscriptions", exact=True).click()
    page.wait_for_url(f"{base_url}/dashboard/subscriptions")
    [row] = page.locator("table tbody tr").all_inner_texts()
    assert "24.00 USD" in row and "every month" in row and "ada@example.com" in row and "active" in row
    both_widths(page, shots, "dashboard-subscriptions")

    page.get_by_role("link", name="24.00 USD").click()
    page.wait_for_url(f"{base_url}/dashboard/subscriptions/{sub_id}")
    invoices = page.locator("#invoices tbody tr").all_inner_texts()
    assert len(invoices) == 4  # newest first: 19 April, 19 March, 19 February, 19 January (the trial's end)
    assert ["24.00 USD" in invoices[0], "24.00 USD" in invoices[1], "12.00 USD off" in invoices[2],
            "12.00 USD off" in invoices[3]] == [True] * 4
    details = page.inner_text("body")
    assert "Half off, twice — 50% off" in details and coupon["id"] not in details  # the coupon by its name
    both_widths(page, shots, "dashboard-subscription")
    renewal_payment = page.locator("#invoices tbody tr").first.locator("a.mono")
    payment_id = renewal_payment.inner_text()
    renewal_payment.click()
    page.wait_for_url(f"{base_url}/dashboard/payments/{payment_id}")
    assert "a renewal of its subscription" in page.inner_text("body")
    page.go_back()
    page.wait_for_url(f"{base_url}/dashboard/subscriptions/{sub_id}")

    page.get_by_role("button", name="Cancel at period end").click()
    page.wait_for_url(f"{base_url}/dashboard/subscriptions/{sub_id}?canceled=later")
    assert "canceled at the end of its current period" in page.get_by_role("status").inner_text()
    assert shop.ok("GET", f"/subscriptions/{sub_id}")["cancel_at_period_end"] is True

    page.get_by_role("link", name="ada@example.com").click()
    page.wait_for_url(f"{base_url}/dashboard/customers/{customer['id']}")
    assert sub_id in page.locator("#customer-subscriptions").inner_text()
    both_widths(page, shots, "dashboard-customer-subscriptions")
