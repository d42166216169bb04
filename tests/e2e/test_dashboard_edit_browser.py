"""A shop's merchant in a real headless Chromium: edit a link and see its URL still sell, archive a
price and see its links stop selling, a form with three mistakes told all three in the
merchant's words, and every main page usable on a 390 px phone.

Screenshots go to $DASHBOARD_SCREENSHOTS (the README's come from
`DASHBOARD_SCREENSHOTS=docs/screenshots pytest tests/e2e/test_dashboard_edit_browser.py`), else
a temporary folder.
"""
from __future__ import annotations

import re

import pytest

from domain import users
from tests.e2e.conftest import DESKTOP, PHONE

pytestmark = pytest.mark.e2e

PASSWORD = "a long and secret passphrase"


@pytest.fixture
def shop(merchant, uow_factory):
    """A coffee shop's test catalog: beans and a subscription, a package, a coupon; one link each."""
    email = f"ines.{merchant.account_id[-8:].lower()}@coffee-shop.example"  # one per test
    with uow_factory() as uow:
        users.create_user(uow, merchant.account_id, email, PASSWORD)
        uow.commit()
    api = merchant.in_test_mode()
    beans = api.product("House beans")
    beans_price = api.ok("POST", "/prices", {"product_id": beans["id"], "unit_amount_atom": 1450, "currency": "USD"})
    club = api.product("Coffee club")
    monthly = api.ok("POST", "/prices", {"product_id": club["id"], "unit_amount_atom": 6400, "currency": "USD",
                                         "type": "recurring", "interval": "month"})
    euro = api.ok("POST", "/prices", {"product_id": beans["id"], "unit_amount_atom": 1300, "currency": "EUR"})
    package = api.ok("POST", "/packages", {"name": "Tasting box", "price_ids": [beans_price["id"]]})
    coupon = api.ok("POST", "/coupons", {"name": "Welcome", "percent_off": 10})
    beans_link = api.ok("POST", "/payment-links", {"name": "Beans", "line_items": [{"price_id": beans_price["id"]}]})
    club_link = api.ok("POST", "/payment-links", {"name": "Coffee club", "mode": "subscription",
                                                  "line_items": [{"price_id": monthly["id"]}]})
    box_link = api.ok("POST", "/payment-links", {"name": "Tasting box link", "package_ids": [package["id"]]})
    return {"email": email, "api": api, "beans": beans, "beans_price": beans_price, "euro": euro, "club": club,
            "monthly": monthly, "package": package, "coupon": coupon, "beans_link": beans_link,
            "club_link": club_link, "box_link": box_link}


def share_url(base_url: str, link: dict) -> str:
    """The link's URL as this test server serves it (the API answered with the test settings' host)."""
    return f"{base_url}/api/pay/share/{link['secure_token']}"


def signed_in(browser, base_url, shop, viewport=DESKTOP):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{base_url}/dashboard/sign-in")
    page.get_by_label("Email").fill(shop["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/dashboard/payment-links")
    return context, page


def test_edit_a_link_and_its_url_still_sells(browser, base_url, shop, shots, celery_worker):
    context, page = signed_in(browser, base_url, shop)
    link = shop["beans_link"]
    page.goto(f"{base_url}/dashboard/payment-links/{link['id']}")
    url = page.get_by_label("Share URL").input_value()
    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Name").fill("House beans, 250 g")
    page.get_by_label("Coupon").select_option(label="Welcome — 10% off")
    page.get_by_label("Success URL").fill(f"{base_url}/shop/thanks")
    page.screenshot(path=str(shots / "dashboard-link-edit.png"), full_page=True)
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(f"{base_url}/dashboard/payment-links/{link['id']}")
    assert page.locator("h1").inner_text().startswith("House beans, 250 g")
    assert "Welcome — 10% off" in page.locator("table.settings").inner_text()
    assert page.get_by_label("Share URL").input_value() == url  # the same URL

    customer = context.new_page()
    customer.goto(url)
    customer.get_by_role("button", name=re.compile(r"^Pay")).wait_for()
    assert "$13.05" in customer.get_by_role("button", name=re.compile(r"^Pay")).inner_text()  # 10% off 14.50

    # Deactivate, then reactivate: the same URL sells again.
    page.get_by_role("link", name="Deactivate").click()
    page.get_by_role("button", name="Deactivate link").click()
    assert customer.goto(url).status == 404
    page.get_by_role("button", name="Reactivate").click()
    page.wait_for_url(f"{base_url}/dashboard/payment-links/{link['id']}")
    assert page.get_by_label("Share URL").is_visible()
    customer.goto(url)
    customer.get_by_role("button", name=re.compile(r"^Pay")).wait_for()
    context.close()


def test_archive_a_price_and_its_links_stop_selling(browser, base_url, shop, shots, celery_worker):
    context, page = signed_in(browser, base_url, shop)
    customer = context.new_page()
    page.goto(f"{base_url}/dashboard/products/{shop['beans']['id']}")
    row = page.locator(f"tr[data-price='{shop['beans_price']['id']}']")
    row.get_by_role("button", name="Archive").click()
    page.wait_for_url(f"{base_url}/dashboard/products/{shop['beans']['id']}")
    assert "archived" in page.locator(f"tr[data-price='{shop['beans_price']['id']}']").inner_text()
    page.screenshot(path=str(shots / "dashboard-product-archive.png"), full_page=True)

    for link, what in ((shop["beans_link"], "House beans — 14.50 USD"), (shop["box_link"], "House beans")):
        refused = customer.goto(share_url(base_url, link))
        assert refused.status == 404
        assert customer.locator("h1").inner_text() == "This payment link is not available"
        page.goto(f"{base_url}/dashboard/payment-links/{link['id']}")
        assert what in page.locator("#unsellable").inner_text()
    customer.goto(share_url(base_url, shop["club_link"]))  # other prices still sell
    customer.get_by_role("button", name=re.compile(r"^(Pay|Subscribe|Start)")).wait_for()

    # Restored, the link sells again.
    page.goto(f"{base_url}/dashboard/products/{shop['beans']['id']}")
    page.locator(f"tr[data-price='{shop['beans_price']['id']}']").get_by_role("button", name="Restore").click()
    page.wait_for_url(f"{base_url}/dashboard/products/{shop['beans']['id']}")
    customer.goto(share_url(base_url, shop["beans_link"]))
    customer.get_by_role("button", name=re.compile(r"^Pay")).wait_for()
    context.close()


def test_a_form_with_three_mistakes_shows_three_messages_in_merchant_language(browser, base_url, shop, shots):
    context, page = signed_in(browser, base_url, shop)
    page.goto(f"{base_url}/dashboard/payment-links/new")
    page.get_by_label("Price 1", exact=True).select_option(label="House beans — 14.50 USD")
    page.get_by_role("button", name="+ Add another price").click()
    page.get_by_label("Price 2", exact=True).select_option(label="House beans — 13.00 EUR")
    page.get_by_label("Success URL").fill("shop.example/thanks")
    page.get_by_label("Each checkout session expires after (hours)").fill("1000")
    page.get_by_role("button", name="Create link").click()
    errors = page.locator(".error").all_inner_texts()
    assert len(errors) == 3, errors
    assert page.locator("#error-line_items\\[1\\]\\.price_id").inner_text() == \
        "all items of a link share one currency (USD); House beans — 13.00 EUR is in EUR"
    assert page.locator("#error-success_url").inner_text() == "the success URL must be an absolute http or https URL"
    assert page.locator("#error-expires_in_hours").inner_text() == \
        "the session lifetime (hours) must be a whole number from 1 to 720"
    for text in errors:
        assert not re.search(r"\b(price|pkg|coupon)_test_|_url\b|_hours\b|line_items", text), text
    assert page.get_by_label("Success URL").input_value() == "shop.example/thanks"  # what was typed is kept
    page.screenshot(path=str(shots / "dashboard-form-errors.png"), full_page=True)
    assert shop["api"].ok("GET", "/payment-links", json=None)["data"][0]["id"] == shop["box_link"]["id"]  # none made
    context.close()


def main_pages(shop) -> dict[str, str]:
    """Every main dashboard page, by the name its screenshot takes."""
    return {
        "links": "/dashboard/payment-links", "new-link": "/dashboard/payment-links/new",
        "link": f"/dashboard/payment-links/{shop['club_link']['id']}",
        "link-edit": f"/dashboard/payment-links/{shop['club_link']['id']}/edit",
        "deactivate": f"/dashboard/payment-links/{shop['club_link']['id']}/deactivate",
        "sessions": "/dashboard/checkout-sessions", "payments": "/dashboard/payments",
        "customers": "/dashboard/customers", "products": "/dashboard/products",
        "product": f"/dashboard/products/{shop['club']['id']}", "packages": "/dashboard/packages",
        "package": f"/dashboard/packages/{shop['package']['id']}", "coupons": "/dashboard/coupons",
        "coupon": f"/dashboard/coupons/{shop['coupon']['id']}", "webhooks": "/dashboard/webhooks",
        "events": "/dashboard/events", "settings": "/dashboard/settings",
        "processor": "/dashboard/settings/processor",
    }


def test_every_main_page_fits_a_390px_phone(browser, base_url, shop, shots):
    context, page = signed_in(browser, base_url, shop, PHONE)
    wide = {}
    for name, path in main_pages(shop).items():
        assert page.goto(f"{base_url}{path}").status == 200, path
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if width[0] > width[1]:
            wide[path] = width
        # The menu is folded away: the page's own heading is on the first screen.
        assert page.locator(".sidebar nav").is_hidden()
        assert page.locator("h1").first.bounding_box()["y"] < PHONE["height"] / 2, path
        if name in ("links", "link", "product", "new-link", "link-edit"):
            page.screenshot(path=str(shots / f"dashboard-{name}-390.png"), full_page=True)
    assert wide == {}, f"wider than the screen (scrollWidth, innerWidth): {wide}"

    # The menu opens below the bar, pushing the page down rather than covering it, and works.
    page.goto(f"{base_url}/dashboard/payment-links")
    heading_before = page.locator("h1").bounding_box()["y"]
    page.get_by_text("Menu", exact=True).click()
    nav = page.locator(".sidebar nav")
    assert nav.is_visible()
    heading_after = page.locator("h1").bounding_box()["y"]
    assert heading_after >= nav.bounding_box()["y"] + nav.bounding_box()["height"]
    assert heading_after > heading_before
    page.screenshot(path=str(shots / "dashboard-menu-390.png"))
    nav.get_by_role("link", name="Products & Prices").click()
    page.wait_for_url(f"{base_url}/dashboard/products")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()


def test_every_main_page_at_desktop_width(browser, base_url, shop, shots):
    """The same pages at desktop width: the sidebar shows, nothing is wider than the window."""
    context, page = signed_in(browser, base_url, shop)
    for name, path in main_pages(shop).items():
        assert page.goto(f"{base_url}{path}").status == 200, path
        assert page.locator(".sidebar nav").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        if name in ("products", "coupon"):  # the others come from test_dashboard_browser.py
            page.screenshot(path=str(shots / f"dashboard-{name}.png"), full_page=True)
    context.close()
