"""The hosted checkout in a real headless Chromium, against the app served over real HTTP with a
real Celery worker: open a share URL, edit the cart, pay in each mode with the test cards (a
decline and a retry, the 3-D Secure challenge), cancel, the expired page, and every page at 390 px.

Screenshots go to $CHECKOUT_SCREENSHOTS (the README's come from
`CHECKOUT_SCREENSHOTS=docs pytest tests/e2e/test_checkout_browser.py`), else a temporary folder.
"""
from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain import checkout_sessions
from domain.checkout_tokens import new_checkout_token
from domain.ids import new_id
from domain.models import Account
from tests.conftest import find_share_link, make_merchant

# `base_url` (the app over HTTP, with /shop/thanks and /shop/cart) and `browser` (skipped without
# /usr/bin/chromium) come from tests/e2e/conftest.py.
pytestmark = pytest.mark.e2e

PAY = re.compile(r"^(Pay|Save card|Start trial|Confirm)")
DESKTOP = {"viewport": {"width": 1280, "height": 860}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("CHECKOUT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_page(browser, device: dict):
    context = browser.new_context(locale="en-US", **device)
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    return context, opened


@pytest.fixture
def page(browser):
    context, opened = open_page(browser, DESKTOP)
    yield opened
    context.close()


@pytest.fixture
def phone(browser):
    context, opened = open_page(browser, PHONE)
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
    """Test mode (the built-in test processor takes the payments), with a display name, a colour
    and a support address."""
    made = make_merchant(client, uow_factory).in_test_mode()
    with uow_factory() as uow:
        account = uow.session.get(Account, made.account_id)
        account.display_name, account.brand_color = "Bean & Leaf Coffee", "#0a7c59"
        account.support_email = "help@beanleaf.example"
        uow.commit()
    return made


def named_price(merchant, name: str, amount: int, currency: str = "USD", **fields) -> dict:
    return merchant.price(amount, currency, product_id=merchant.product(name)["id"], **fields)


def fill_card(page, number: str = "4242 4242 4242 4242") -> None:
    page.fill('input[name="email"]', "ada@example.com")
    page.fill('input[name="name"]', "Ada Lovelace")
    page.fill('input[name="card_number"]', number)
    page.fill('input[name="exp"]', "12/34")
    page.fill('input[name="cvc"]', "123")


def pay_button(page):
    return page.get_by_role("button", name=PAY)


def words(text: str) -> str:
    """Whitespace (non-breaking spaces too) collapsed."""
    return " ".join(text.split())


def open_checkout(page, base_url: str, link: dict) -> str:
    """Open the share URL as a customer (303 to the checkout, through "preparing" if the worker is
    slower); the checkout token."""
    page.goto(f"{base_url}/api/pay/share/{link['secure_token']}")
    pay_button(page).wait_for()
    token = page.url.rsplit("/", 1)[-1]
    assert page.url == f"{base_url}/checkout/{token}"
    return token


def assert_fits(page) -> None:
    """Nothing wider than the screen: no sideways scrolling."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), \
        page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


def starter_kit(merchant, base_url: str, **fields) -> dict:
    mug = named_price(merchant, "Coffee mug", 1999)
    beans = named_price(merchant, "Single-origin Ethiopian Yirgacheffe coffee beans", 1450)
    coupon = merchant.ok("POST", "/coupons", {"name": "Welcome", "percent_off": 10, "duration": "once"})
    return merchant.ok("POST", "/payment-links", {
        "name": "Coffee starter kit", "allow_cart_edit": True, "coupon_id": coupon["id"],
        "line_items": [{"price_id": mug["id"], "quantity": 2, "description": "350 ml, hand-glazed stoneware"},
                       {"price_id": beans["id"], "quantity": 1, "description": "Whole beans, washed process, 1 kg"}],
        "accepted_payment_methods": ["credit_card", "apple_pay", "google_pay"],
        "success_url": f"{base_url}/shop/thanks?session={{CHECKOUT_SESSION_ID}}",
        "return_url": f"{base_url}/shop/cart", **fields,
    })


# ---- each mode -------------------------------------------------------------------------------

def test_open_edit_the_cart_and_pay(page, base_url, merchant, uow_factory, celery_worker, shots):
    token = open_checkout(page, base_url, starter_kit(merchant, base_url))
    assert words(page.locator("h1").inner_text()) == "Pay Bean & Leaf Coffee"
    assert page.locator(".brand .badge-test").text_content() == "Test mode"
    assert "Total $49.03" in words(page.locator("table.totals").inner_text())  # (2 × 19.99 + 14.50) − 10 %
    assert "price_" not in page.content()
    page.screenshot(path=str(shots / "checkout.png"), full_page=True)

    page.fill('input[name="line_items[1].quantity"]', "3")
    page.get_by_role("button", name="Update").click()
    page.wait_for_function("document.querySelector('table.totals').innerText.includes('$75.13')")
    assert page.url == f"{base_url}/checkout/{token}"  # back on the page after the update
    assert pay_button(page).inner_text() == "Pay $75.13"  # (2 × 19.99 + 3 × 14.50) − 10 %

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
    summary = words(page.locator(".summary").inner_text())
    assert "Amount paid $75.13" in summary and f"Payment reference {session.payment_id}" in summary
    assert "Card Visa ending in 4242" in summary and "Receipt to ada@example.com" in summary
    assert pay_button(page).count() == 0
    page.screenshot(path=str(shots / "checkout-complete.png"), full_page=True)
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url(f"{base_url}/shop/thanks?session={session.id}")


def test_a_decline_shows_at_the_card_field_and_a_retry_succeeds(page, base_url, merchant, uow_factory,
                                                                  celery_worker, shots):
    token = open_checkout(page, base_url, starter_kit(merchant, base_url))
    fill_card(page, "4000 0000 0000 0002")
    pay_button(page).click()
    card_field = page.locator(".field.invalid")
    card_field.wait_for()
    assert card_field.locator('input[name="card_number"]').count() == 1
    assert card_field.locator(".field-error").inner_text() == "Your card was declined."
    assert page.locator('input[name="card_number"]').get_attribute("aria-invalid") == "true"
    assert page.input_value('input[name="email"]') == "ada@example.com"  # kept; the card never comes back
    assert page.input_value('input[name="card_number"]') == "" and page.input_value('input[name="cvc"]') == ""
    page.screenshot(path=str(shots / "checkout-declined.png"), full_page=True)

    fill_card(page)
    pay_button(page).click()
    page.wait_for_url(re.compile(re.escape(f"{base_url}/shop/thanks?session=") + r"cs_test_\w+$"))
    session = stored(uow_factory, token)
    assert (session.status, session.failed_attempts) == ("complete", 1)


def test_a_subscription_with_a_trial_and_a_setup_fee(page, base_url, merchant, uow_factory, celery_worker):
    plan = named_price(merchant, "Pro plan", 4900, type="recurring", interval="month")
    fee = named_price(merchant, "Onboarding", 1500)
    link = merchant.ok("POST", "/payment-links", {"mode": "subscription", "free_trial_days": 14,
                                                  "line_items": [{"price_id": plan["id"]}, {"price_id": fee["id"]}]})
    token = open_checkout(page, base_url, link)
    trial_end = (datetime.now(UTC) + timedelta(days=14)).strftime("%B %-d, %Y")
    assert words(page.locator("table.totals").inner_text()) == "Due today $15.00"
    assert words(page.locator(".then").inner_text()) == f"then $49.00/month from {trial_end}"
    assert pay_button(page).inner_text() == "Pay $15.00"

    fill_card(page)
    pay_button(page).click()
    page.wait_for_url(f"{base_url}/checkout/{token}")  # no success_url: the confirmation
    assert page.locator("h1").inner_text() == "Payment complete"
    summary = words(page.locator(".summary").inner_text())
    assert "Amount paid $15.00" in summary and f"Then $49.00/month from {trial_end}" in summary
    session = stored(uow_factory, token)
    assert (session.status, session.payment_status) == ("complete", "paid") and session.subscription_id


def test_setup_saves_a_card(page, base_url, merchant, uow_factory, celery_worker):
    token = open_checkout(page, base_url, merchant.ok("POST", "/payment-links", {"mode": "setup"}))
    assert pay_button(page).inner_text() == "Save card"
    assert page.locator("table.totals").count() == 0 and "$" not in page.locator("main").inner_text()
    fill_card(page)
    pay_button(page).click()
    page.wait_for_url(f"{base_url}/checkout/{token}")
    page.locator("h1", has_text="Card saved").wait_for()
    assert "Card Visa ending in 4242" in words(page.locator(".summary").inner_text())
    assert stored(uow_factory, token).payment_method_id is not None


def test_the_3d_secure_challenge_authorized_lands_on_success_url(phone, base_url, merchant, uow_factory,
                                                                  celery_worker):
    """On a phone, with the shop on another origin than the checkout (`localhost` against
    `127.0.0.1`): the answer's redirects to the shop pass the challenge page's form-action."""
    shop = base_url.replace("127.0.0.1", "localhost")
    link = merchant.ok("POST", "/payment-links", {
        "line_items": [{"price_id": named_price(merchant, "Espresso machine", 34900)["id"]}],
        "success_url": f"{shop}/shop/thanks?session={{CHECKOUT_SESSION_ID}}"})
    token = open_checkout(phone, base_url, link)
    fill_card(phone, "4000 0025 0000 3155")
    pay_button(phone).click()
    phone.wait_for_url(re.compile(re.escape(f"{base_url}/checkout/challenge/")))
    assert "Confirm a payment of $349.00" in words(phone.locator("main").inner_text())
    assert_fits(phone)

    phone.get_by_role("button", name="Authorize").click()
    phone.wait_for_url(re.compile(re.escape(f"{shop}/shop/thanks?session=") + r"cs_test_\w+$"))
    assert phone.locator("h1").inner_text() == "Thanks for your order"
    assert stored(uow_factory, token).status == "complete"


# ---- on a phone --------------------------------------------------------------------------------

def test_the_checkout_and_its_confirmation_fit_a_390_px_screen(phone, base_url, merchant, uow_factory,
                                                               celery_worker, shots):
    token = open_checkout(phone, base_url, starter_kit(merchant, base_url, success_url=None))
    assert_fits(phone)
    phone.screenshot(path=str(shots / "checkout-390.png"), full_page=True)
    width = phone.evaluate("window.innerWidth")
    for name in ("email", "card_number"):  # the inputs take the column's width, not a fixed one
        box = phone.locator(f'input[name="{name}"]').bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width and box["width"] > width / 2

    fill_card(phone, "4000 0000 0000 0002")
    pay_button(phone).click()
    phone.locator(".field.invalid").wait_for()
    assert_fits(phone)

    fill_card(phone)
    pay_button(phone).click()
    phone.wait_for_url(f"{base_url}/checkout/{token}")
    phone.locator("h1", has_text="Payment complete").wait_for()
    assert_fits(phone)


# ---- leaving ---------------------------------------------------------------------------------

def test_cancel_returns_to_the_shop(page, base_url, merchant, uow_factory, celery_worker):
    link = merchant.ok("POST", "/payment-links", {
        "line_items": [{"price_id": named_price(merchant, "Matcha", 500, "JPY")["id"], "quantity": 1}],
        "return_url": f"{base_url}/shop/cart"})
    token = open_checkout(page, base_url, link)
    assert pay_button(page).inner_text() == "Pay ¥500"

    page.get_by_role("button", name="Cancel").click()
    page.wait_for_url(f"{base_url}/shop/cart")
    assert page.locator("h1").inner_text() == "Your cart"
    assert stored(uow_factory, token).status == "open"


def test_an_expired_checkout_offers_to_start_again(page, base_url, merchant, uow_factory, settings, celery_worker):
    link = merchant.ok("POST", "/payment-links", {
        "line_items": [{"price_id": named_price(merchant, "Saffron", 1005, "KWD")["id"]}], "expires_in_hours": 1})
    opened_at = datetime.now(UTC) - timedelta(hours=2)
    token = new_checkout_token(settings.secret_key, opened_at)
    with uow_factory() as uow:
        row = find_share_link(uow.session.get_bind(), link["secure_token"])
        checkout_sessions.store(uow, checkout_sessions.new_session(row, session_id=new_id("cs", True),
                                                                   checkout_token=token, now=opened_at))
        uow.commit()

    page.goto(f"{base_url}/checkout/{token}")
    assert page.locator("h1").inner_text() == "This checkout has expired"
    assert "Bean & Leaf Coffee" in page.locator(".brand").inner_text()
    assert pay_button(page).count() == 0

    page.get_by_role("link", name="Start again").click()
    pay_button(page).wait_for()
    assert words(pay_button(page).inner_text()) == "Pay KWD 1.005"
    fresh = page.url.rsplit("/", 1)[-1]
    assert fresh != token and page.url == f"{base_url}/checkout/{fresh}"
    assert stored(uow_factory, token).status == "open"  # the old row is untouched (the sweep records expiry)
