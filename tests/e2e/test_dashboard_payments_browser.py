"""A merchant refunds a payment from the dashboard in a real headless Chromium: the payments list,
the payment's page, Refund, the confirmation, the refund on the page; both pages also at 390 px
wide, where nothing may be wider than the screen.

Screenshots go to $DASHBOARD_SCREENSHOTS (the README's come from
`DASHBOARD_SCREENSHOTS=docs pytest tests/e2e/test_dashboard_payments_browser.py`), else a
temporary folder.
"""
from __future__ import annotations

import re

import pytest

from domain import checkout_sessions, users
from domain.checkout_tokens import new_checkout_token
from domain.db import utcnow
from domain.ids import new_id
from domain.models import Payment
from tests.conftest import find_share_link, pay_session
from tests.e2e.conftest import DESKTOP, PHONE

pytestmark = pytest.mark.e2e

PASSWORD = "a long and secret passphrase"


def paid_session(merchant, uow_factory, settings, deps, link: dict, **customer) -> str:
    """A session of the link, made as the share path makes it and paid with a test card: its payment."""
    now = utcnow()
    token = new_checkout_token(settings.secret_key, now)
    with uow_factory() as uow:
        found = find_share_link(uow.session.get_bind(), link["secure_token"])
        checkout_sessions.store(uow, checkout_sessions.new_session(found, session_id=new_id("cs", False),
                                                                   checkout_token=token, now=now))
        uow.commit()
    assert pay_session(deps, token, **customer).completed
    with uow_factory() as uow:
        return checkout_sessions.find_by_token(uow, token).payment_id


def fits(page) -> bool:
    """Nothing on the page is wider than the window (no sideways scrolling of the page)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_merchant_refunds_a_payment_from_the_dashboard(page, base_url, merchant, uow_factory, settings, deps,
                                                         shots):
    email = f"owner-{merchant.account_id.lower()}@tea-shop.example"
    with uow_factory() as uow:
        users.create_user(uow, merchant.account_id, email, PASSWORD)
        uow.commit()
    shop = merchant.in_test_mode()
    tea = shop.ok("POST", "/payment-links", {"name": "Tea of the month box", "line_items": [
        {"price_id": shop.price(1999, "USD", product_id=shop.product("Tea box")["id"])["id"], "quantity": 2}]})
    mug = shop.ok("POST", "/payment-links", {"name": "Mug", "line_items": [{"price_id": shop.price(1450)["id"]}]})
    paid_session(merchant, uow_factory, settings, deps, mug, email="grace.hopper@example.com",
                 card="5555555555554444")
    payment_id = paid_session(merchant, uow_factory, settings, deps, tea, email="ada@example.com",
                              name="Ada Lovelace")

    page.goto(f"{base_url}/dashboard/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/dashboard/payment-links")

    # The payments list: newest first, with customer and card.
    page.locator(".sidebar").get_by_role("link", name="Payments", exact=True).click()
    page.wait_for_url(f"{base_url}/dashboard/payments")
    rows = page.locator("table tbody tr").all_inner_texts()
    assert len(rows) == 2
    assert "39.98 USD" in rows[0] and "ada@example.com" in rows[0] and "Visa •••• 4242" in rows[0]
    assert "14.50 USD" in rows[1] and "Mastercard •••• 4444" in rows[1]
    page.screenshot(path=str(shots / "dashboard-payments.png"), full_page=True)
    page.set_viewport_size(PHONE)
    assert fits(page), "the payments list is wider than a 390 px screen"
    page.screenshot(path=str(shots / "dashboard-payments-390.png"), full_page=True)
    page.set_viewport_size(DESKTOP)

    # The payment's page, and an over-refund refused next to the amount.
    page.get_by_role("link", name="39.98 USD").click()
    page.wait_for_url(f"{base_url}/dashboard/payments/{payment_id}")
    assert page.get_by_label("Amount (USD)").input_value() == "39.98"  # all that is left
    page.get_by_label("Amount (USD)").fill("40")
    page.get_by_role("button", name="Refund…").click()
    assert page.locator("#error-amount").inner_text() == "at most 39.98 USD can be refunded"

    # Refund 12.50: asked first, then made.
    page.get_by_label("Amount (USD)").fill("12.50")
    page.get_by_label("Reason").select_option(label="Requested by customer")
    page.get_by_role("button", name="Refund…").click()
    assert page.locator("h1").inner_text() == "Refund 12.50 USD to Ada Lovelace?"
    with uow_factory() as uow:
        assert uow.session.get(Payment, payment_id).amount_refunded_atom == 0  # asking changes nothing
    page.get_by_role("button", name="Refund 12.50 USD").click()
    page.wait_for_url(re.compile(rf"/dashboard/payments/{payment_id}\?refunded=re_test_\w+$"))
    assert page.get_by_role("status").inner_text() == "Refunded 12.50 USD."
    assert page.locator("#refunded").inner_text() == "12.50 USD"
    assert page.locator("#left").inner_text() == "27.48 USD"
    assert "Requested by customer" in page.locator("#refunds").inner_text()
    with uow_factory() as uow:
        assert uow.session.get(Payment, payment_id).amount_refunded_atom == 1250
    page.screenshot(path=str(shots / "dashboard-payment.png"), full_page=True)
    page.set_viewport_size(PHONE)
    assert fits(page), "the payment page is wider than a 390 px screen"
    page.screenshot(path=str(shots / "dashboard-payment-390.png"), full_page=True)

    # At 390 px the sidebar (behind its Menu button) still leads everywhere, and the list shows the refund.
    page.locator(".sidebar").get_by_text("Menu", exact=True).click()
    page.locator(".sidebar").get_by_role("link", name="Payments", exact=True).click()
    page.wait_for_url(f"{base_url}/dashboard/payments")
    assert "12.50 USD refunded" in page.locator("table tbody tr").first.inner_text()
    assert fits(page)

    # Where the payment came from, and the pages around it, also fit a phone.
    page.goto(f"{base_url}/dashboard/payments/{payment_id}")
    page.get_by_role("link", name=re.compile(r"^cs_test_")).click()
    assert "ada@example.com" in page.locator("#session-customer").inner_text()
    assert "39.98 USD" in page.locator("#session-payment").inner_text()
    assert fits(page), "the checkout session page is wider than a 390 px screen"
    page.get_by_role("link", name="Tea of the month box").click()
    assert page.locator("#revenue [data-currency='USD']").inner_text() == "27.48 USD"
    assert fits(page), "the link page is wider than a 390 px screen"
    for path in ("/dashboard/checkout-sessions", "/dashboard/customers", "/dashboard/settings/processor",
                 "/dashboard/payment-links"):
        page.goto(f"{base_url}{path}")
        assert fits(page), f"{path} is wider than a 390 px screen"
