"""The merchant's whole journey in a real headless Chromium, from nothing: sign in, make the
catalog, create a link of each mode, copy its URL, open it as a customer, pay, see the session
complete on the link page, deactivate, and see the share URL refuse.

Screenshots of the main pages go to $DASHBOARD_SCREENSHOTS (the README's come from
`DASHBOARD_SCREENSHOTS=docs pytest tests/e2e/test_dashboard_browser.py`), else a temporary folder.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from domain import users

pytestmark = pytest.mark.e2e

PASSWORD = "a long and secret passphrase"
PAY = re.compile(r"^(Pay|Save payment method|Start trial|Confirm)")


@pytest.fixture
def owner(merchant, uow_factory):
    email = "maria@coffee-shop.example"  # one per test run (each run has its own database)
    with uow_factory() as uow:
        users.create_user(uow, merchant.account_id, email, PASSWORD)
        uow.commit()
    return email


@pytest.fixture
def context(browser, base_url):
    made = browser.new_context(viewport={"width": 1280, "height": 860})
    made.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    yield made
    made.close()


@pytest.fixture
def page(context):
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    return opened


def sidebar(page, name: str) -> None:
    page.locator(".sidebar").get_by_role("link", name=name, exact=True).click()


def add_price(page, amount: str, interval: str | None = None) -> None:
    page.get_by_label("Amount").fill(amount)
    if interval:
        page.get_by_label("Recurring").check()
        page.get_by_label("Interval count").wait_for()  # shown only for recurring prices
        page.get_by_label("Interval", exact=True).select_option(interval)
    page.get_by_role("button", name="Add price").click()
    page.wait_for_load_state()


def new_product(page, name: str) -> None:
    sidebar(page, "Products & Prices")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create product").click()
    page.wait_for_url(re.compile(r"/dashboard/products/prod_test_\w+$"))


def create_link(page, mode_label: str, name: str, prices: list[tuple[str, int]] = (), shot: Path | None = None,
                **fields) -> str:
    sidebar(page, "Payment Links")
    page.get_by_role("link", name="Create Payment Link").click()
    page.get_by_label(mode_label).check()
    page.get_by_label("Name").fill(name)
    for row, (label, quantity) in enumerate(prices):
        if row:
            page.get_by_role("button", name="+ Add another price").click()
        page.get_by_label(f"Price {row + 1}", exact=True).select_option(label=label)
        page.get_by_label(f"Quantity {row + 1}", exact=True).fill(str(quantity))
    for label, value in fields.items():
        page.get_by_label(label).fill(value)
    if shot:
        page.screenshot(path=str(shot), full_page=True)
    page.get_by_role("button", name="Create link").click()
    page.wait_for_url(re.compile(r"/dashboard/payment-links/pl_test_\w+$"))
    return page.url.rsplit("/", 1)[-1]


def test_a_merchant_makes_and_shares_a_link_from_nothing(page, context, base_url, owner, shots, celery_worker,
                                                         other_merchant):
    # Signed out: the dashboard sends us to sign in, and a wrong password is turned away.
    page.goto(f"{base_url}/dashboard")
    page.wait_for_url(re.compile(r"/dashboard/sign-in"))
    page.get_by_label("Email").fill(owner)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "Wrong email or password."
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/dashboard/payment-links")
    assert "No payment links in test mode yet" in page.content()

    # The catalog, from nothing: two products and their prices.
    new_product(page, "Coffee starter kit")
    add_price(page, "19.99")
    assert "19.99 USD" in page.locator("#prices").inner_text()
    new_product(page, "Pro plan")
    add_price(page, "49.00", "month")
    add_price(page, "490.00", "year")
    assert "every month" in page.locator("#prices").inner_text()
    assert "every year" in page.locator("#prices").inner_text()
    page.screenshot(path=str(shots / "dashboard-product.png"), full_page=True)

    # A link of each mode.
    thanks = f"{base_url}/shop/thanks?session={{CHECKOUT_SESSION_ID}}"
    subscription = create_link(page, "Subscription", "Pro plan signup", [("Pro plan — 49.00 USD / month", 1)],
                               **{"Free trial days": "14"})
    setup = create_link(page, "Setup", "Card on file")
    sidebar(page, "Payment Links")
    page.get_by_role("link", name="Create Payment Link").click()
    page.get_by_label("Setup").check()
    assert page.locator("fieldset[data-show-when='mode=payment,subscription']").is_hidden()  # nothing to sell
    assert page.get_by_label("Let customers change quantities at checkout").is_hidden()
    page.get_by_label("One-time payment").check()
    assert page.get_by_label("Free trial days").is_hidden()  # trials are for subscriptions
    payment = create_link(page, "One-time payment", "Coffee starter kit, 2 mugs",
                          [("Coffee starter kit — 19.99 USD", 2)], shot=shots / "dashboard-new-link.png",
                          **{"Success URL": thanks})
    assert len({subscription, setup, payment}) == 3

    # Copy the share URL: the clipboard holds what the page shows.
    share_url = page.get_by_label("Share URL").input_value()
    assert share_url.startswith(f"{base_url}/api/pay/share/")
    assert page.locator("#copy-url").get_attribute("data-copy") == share_url
    page.locator("#copy-url").click()
    page.locator("#copied-note").filter(has_text="Copied!").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == share_url
    assert page.locator("#qr-code").get_attribute("src").startswith("data:image/svg+xml")

    # A customer opens it in the same browser and pays.
    customer = context.new_page()
    customer.set_default_timeout(20_000)
    customer.goto(share_url)
    assert re.fullmatch(rf"{re.escape(base_url)}/checkout/[\w.-]+", customer.url)
    customer.get_by_role("button", name=PAY).wait_for()  # through "preparing" if the worker is slower
    assert "$39.98" in customer.get_by_role("button", name=PAY).inner_text()
    customer.fill('input[name="email"]', "ada@example.com")
    customer.fill('input[name="card_number"]', "4242 4242 4242 4242")
    customer.fill('input[name="exp"]', "12/34")
    customer.fill('input[name="cvc"]', "123")
    customer.get_by_role("button", name=PAY).click()
    customer.wait_for_url(re.compile(re.escape(f"{base_url}/shop/thanks?session=") + r"cs_test_\w+$"))
    session_id = customer.url.rsplit("=", 1)[-1]

    # The link page shows the completed session and the counts.
    page.reload()
    assert page.locator("#count-made").inner_text() == "1"
    assert page.locator("#count-completed").inner_text() == "1"
    assert page.locator("#completion-rate").inner_text() == "100.0%"
    assert "complete" in page.locator(f"tr[data-session='{session_id}']").inner_text()
    customer.goto(share_url)  # a second customer leaves without paying: an open session
    customer.get_by_role("button", name=PAY).wait_for()
    page.reload()
    assert page.locator("#count-made").inner_text() == "2"
    assert page.locator("#completion-rate").inner_text() == "50.0%"
    page.screenshot(path=str(shots / "dashboard-link.png"), full_page=True)

    # Checkout Sessions: the list by status, and the session's snapshot and amounts.
    sidebar(page, "Checkout Sessions")
    page.get_by_label("Status").select_option("complete")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"status=complete"))
    page.get_by_role("link", name=session_id).click()
    assert "39.98 USD" in page.locator(".card").first.inner_text()
    sidebar(page, "Checkout Sessions")
    page.screenshot(path=str(shots / "dashboard-sessions.png"), full_page=True)

    sidebar(page, "Payment Links")
    listed = page.locator("table tbody tr").all_inner_texts()
    assert [row.split("\n")[0].strip() for row in listed] == [
        "Coffee starter kit, 2 mugs", "Card on file", "Pro plan signup"]
    page.screenshot(path=str(shots / "dashboard-links.png"), full_page=True)

    # Deactivate, after a confirmation; the share URL then refuses with the generic page.
    page.get_by_role("link", name="Coffee starter kit, 2 mugs").click()
    page.get_by_role("link", name="Deactivate").click()
    assert "Customers who open its URL" in page.content()
    page.get_by_role("button", name="Deactivate link").click()
    page.wait_for_url(f"{base_url}/dashboard/payment-links/{payment}")
    assert "This link is deactivated" in page.content()
    refused = customer.goto(share_url)
    assert refused.status == 404
    assert customer.locator("h1").inner_text() == "This payment link is not available"

    # Another account's link is simply not there; a form post without its CSRF token is refused.
    theirs = other_merchant.ok("POST", "/payment-links", {"mode": "setup"}, key=other_merchant.test_api_key)
    assert page.goto(f"{base_url}/dashboard/payment-links/{theirs['id']}").status == 404
    assert page.locator("h1").inner_text() == "Not found"
    forged = context.request.post(f"{base_url}/dashboard/payment-links/{subscription}/deactivate",
                                  form={"confirm": "yes"}, max_redirects=0)
    assert forged.status == 403
    page.goto(f"{base_url}/dashboard/payment-links/{subscription}")
    assert page.get_by_role("link", name="Deactivate").is_visible()  # still active

    # Signing out ends it: the dashboard asks to sign in again.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/dashboard/sign-in$"))
    page.goto(f"{base_url}/dashboard/payment-links/{payment}")
    page.wait_for_url(re.compile(r"/dashboard/sign-in\?next="))
