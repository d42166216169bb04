"""Shared by the browser tests: the app served over real HTTP on 127.0.0.1 (with a real Celery
worker from the top conftest when a test asks for one), and Debian's Chromium driven by Playwright
(never `playwright install`)."""
from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


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
    yield from serve(settings, deps)


def serve(settings, deps, **processors):
    """Serve the app until the generator is closed, yielding its base URL; `processors` replaces
    fields of deps.processors (a test's stripe_api_base and stripe_js_url: localstripe)."""
    from api.app import create_app

    httpd = make_server("127.0.0.1", 0, lambda environ, start: [], server_class=_ThreadingServer,
                        handler_class=_QuietHandler)
    base = f"http://127.0.0.1:{httpd.server_port}"
    # A generous share limit: the browser opens links from 127.0.0.1 like other tests' clients.
    served = replace(settings, public_base_url=base, checkout_base_url=base, share_rate_capacity=1000,
                     pay_rate_capacity=1000)
    app = create_app(served, replace(deps, processors=replace(deps.processors, checkout_base_url=base, **processors)))
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
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where a test's screenshots go: DASHBOARD_SCREENSHOTS (docs/screenshots when refreshing the
    README's pictures) or the test's own temporary folder."""
    folder = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser):
    """A desktop-sized page of its own browser context (no cookies shared between tests)."""
    context = browser.new_context(viewport=DESKTOP)
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    yield opened
    context.close()
