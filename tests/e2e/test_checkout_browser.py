"""The hosted checkout in a real headless Chromium, against the app served over real HTTP with a
real Celery worker: open a share URL, edit the cart, pay, cancel, and the expired page."""
from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta

import pytest

from domain import checkout_sessions
from domain.checkout_tokens import new_checkout_token
from domain.ids import new_id
from tests.conftest import find_share_link, make_merchant

# `base_url` (the app over HTTP, with /shop/thanks and /shop/cart) and `browser` (skipped without
# /usr/bin/chromium) come from tests/e2e/conftest.py.
pytestmark = pytest.mark.e2e


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 800, "height": 720})
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    yield opened
    context.close()


def stored(uow_factory, token: str):
    with uow_factory() as uow:
        session = checkout_sessions.find_by_token(uow, token)
        if session is not None:
            uow.session.expunge(session)
        return session


@pytest.fixture
def merchant(client, uow_factory):
    """Test mode: the built-in test processor takes the payments."""
    return make_merchant(client, uow_factory).in_test_mode()


def fill_card(page, number: str = "4242 4242 4242 4242") -> None:
    page.fill('input[name="email"]', "ada@example.com")
    page.fill('input[name="card_number"]', number)
    page.fill('input[name="exp"]', "12/34")
    page.fill('input[name="cvc"]', "123")


def pay_button(page):
    return page.get_by_role("button", name=re.compile(r"^(Pay|Save payment method|Start trial|Confirm)"))


def test_open_edit_the_cart_and_pay(page, base_url, merchant, uow_factory, celery_worker, tmp_path):
    mug = merchant.price(1999, product_id=merchant.product("Coffee mug")["id"])
    beans = merchant.price(1450, product_id=merchant.product("Coffee beans")["id"])
    coupon = merchant.ok("POST", "/coupons", {"name": "Welcome", "percent_off": 10, "duration": "once"})
    link = merchant.ok("POST", "/payment-links", {
        "name": "Coffee starter kit", "allow_cart_edit": True, "coupon_id": coupon["id"],
        "line_items": [{"price_id": mug["id"], "quantity": 2, "description": "Coffee mug, 350 ml"},
                       {"price_id": beans["id"], "quantity": 1, "description": "Single-origin beans, 1 kg"}],
        "accepted_payment_methods": ["credit_card", "apple_pay", "google_pay"],
        "success_url": f"{base_url}/shop/thanks?session={{CHECKOUT_SESSION_ID}}",
        "return_url": f"{base_url}/shop/cart",
    })

    page.goto(f"{base_url}/api/pay/share/{link['secure_token']}")  # 303 -> /checkout/{token}
    pay_button(page).wait_for()  # through "Preparing your checkout…" if the worker is slower
    token = page.url.rsplit("/", 1)[-1]
    assert page.url == f"{base_url}/checkout/{token}"
    summary = page.locator("table.summary")
    assert "Total 49.03 USD" in " ".join(summary.inner_text().split())  # (2 × 19.99 + 14.50) − 10 %
    page.screenshot(path=os.environ.get("CHECKOUT_SCREENSHOT") or str(tmp_path / "checkout.png"), full_page=True)

    page.fill('input[name="line_items[1].quantity"]', "3")
    page.get_by_role("button", name="Update").click()
    page.wait_for_function("document.querySelector('table.summary').innerText.includes('75.13 USD')")
    assert page.url == f"{base_url}/checkout/{token}"  # back on the page after the update
    assert "Pay 75.13 USD" in pay_button(page).inner_text()  # (2 × 19.99 + 3 × 14.50) − 10 %

    fill_card(page)
    pay_button(page).click()
    page.wait_for_url(re.compile(re.escape(f"{base_url}/shop/thanks?session=") + r"cs_test_\w+$"))
    assert page.locator("h1").inner_text() == "Thanks for your order"
    session = stored(uow_factory, token)
    assert page.url.endswith(f"session={session.id}")
    assert (session.status, session.amount_total_atom) == ("complete", 7513)
    assert session.completed_at is not None

    page.goto(f"{base_url}/checkout/{token}")
    assert page.locator("h1").inner_text() == "Payment complete"
    assert pay_button(page).count() == 0


def test_cancel_returns_to_the_shop(page, base_url, merchant, uow_factory, celery_worker):
    link = merchant.ok("POST", "/payment-links", {
        "line_items": [{"price_id": merchant.price(500, "JPY")["id"], "quantity": 1}],
        "return_url": f"{base_url}/shop/cart"})
    page.goto(f"{base_url}/api/pay/share/{link['secure_token']}")
    pay_button(page).wait_for()
    assert pay_button(page).inner_text() == "Pay 500 JPY"
    token = page.url.rsplit("/", 1)[-1]

    page.get_by_role("button", name="Cancel").click()
    page.wait_for_url(f"{base_url}/shop/cart")
    assert page.locator("h1").inner_text() == "Your cart"
    assert stored(uow_factory, token).status == "open"


def test_an_expired_checkout_offers_to_start_again(page, base_url, merchant, uow_factory, settings, celery_worker):
    link = merchant.ok("POST", "/payment-links", {
        "line_items": [{"price_id": merchant.price(1005, "KWD")["id"]}], "expires_in_hours": 1})
    opened_at = datetime.now(UTC) - timedelta(hours=2)
    token = new_checkout_token(settings.secret_key, opened_at)
    with uow_factory() as uow:
        row = find_share_link(uow.session.get_bind(), link["secure_token"])
        checkout_sessions.store(uow, checkout_sessions.new_session(row, session_id=new_id("cs", True),
                                                                   checkout_token=token, now=opened_at))
        uow.commit()

    page.goto(f"{base_url}/checkout/{token}")
    assert page.locator("h1").inner_text() == "This checkout has expired"
    assert pay_button(page).count() == 0

    page.get_by_role("link", name="Start again").click()
    pay_button(page).wait_for()
    assert pay_button(page).inner_text() == "Pay 1.005 KWD"
    fresh = page.url.rsplit("/", 1)[-1]
    assert fresh != token and page.url == f"{base_url}/checkout/{fresh}"
    assert stored(uow_factory, token).status == "open"  # the old row is untouched (the sweep records expiry)
