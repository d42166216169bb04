"""The hosted checkout in a real headless Chromium, against the app served over real HTTP with a
real Celery worker: open a share URL, edit the cart, pay, cancel, and the expired page."""
from __future__ import annotations

import os
import re
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from domain import checkout_sessions
from domain.checkout_tokens import new_checkout_token
from domain.ids import new_id

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium "
                                                     "(apt-get install -y chromium)"),
]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


class ShopPage:
    """The merchant's own pages (success_url, return_url), served by the same test server."""

    public = True

    def __init__(self, title: str):
        self.title = title

    def on_get(self, req, resp) -> None:
        resp.content_type = "text/html"
        resp.text = f"<!doctype html><title>{self.title}</title><h1>{self.title}</h1>"


@pytest.fixture(scope="module")
def base_url(settings, deps):
    """The app on 127.0.0.1 over real HTTP; its public and checkout base URLs are this server."""
    from api.app import create_app

    httpd = make_server("127.0.0.1", 0, lambda environ, start: [], server_class=_ThreadingServer,
                        handler_class=_QuietHandler)
    base = f"http://127.0.0.1:{httpd.server_port}"
    # Its own rate-limit buckets: the browser opens links from 127.0.0.1, the test clients' default address.
    app = create_app(replace(settings, public_base_url=base, checkout_base_url=base,
                             redis_key_prefix=f"{settings.redis_key_prefix}e2e:"), deps)
    app.add_route("/shop/thanks", ShopPage("Thanks for your order"))
    app.add_route("/shop/cart", ShopPage("Your cart"))
    httpd.set_app(app)
    thread = threading.Thread(target=httpd.serve_forever, name="e2e-http", daemon=True)
    thread.start()
    yield base
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


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

    pay_button(page).click()
    page.wait_for_url(re.compile(re.escape(f"{base_url}/shop/thanks?session=") + r"cs_live_\w+$"))
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
        row = checkout_sessions.find_link_for_share(uow.session.connection(), link["secure_token"])
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
