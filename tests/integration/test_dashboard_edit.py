"""The dashboard changes what a merchant has made: a link (what PATCH may change, and
reactivation), products, prices (archive only), packages and coupons; its forms tell every
mistake at once, in the merchant's words; its pages name things as the merchant does."""
from __future__ import annotations

import re

import pytest

from domain.models import Event
from tests.integration.test_dashboard import (browser, catalog, csrf_of, error_next_to, link_form,  # noqa: F401
                                              link_id_from, make_session, user)


def api(user, method, path, body=None):
    return user.ok(method, path, body, key=user.test_api_key)


def post_on(browser, page_path: str, action: str, form: dict):
    """Submit a form of `page_path` (its CSRF token) to `action`."""
    return browser.submit(page_path, form, action=action)


@pytest.fixture
def link(user, catalog):
    return api(user, "POST", "/payment-links", {"name": "Mugs", "line_items": [{"price_id": catalog["mug"]}]})


# ---- links ------------------------------------------------------------------------------------

def test_edit_a_link_changes_what_patch_may_change(browser, user, catalog, link, uow_factory):
    page = browser.get(f"/dashboard/payment-links/{link['id']}/edit")
    assert page.status_code == 200 and 'value="Mugs"' in page.text
    result = browser.submit(f"/dashboard/payment-links/{link['id']}/edit", {
        "name": "Mugs, boxed", "coupon_id": catalog["coupon"], "success_url": "https://shop.example/thanks",
        "return_url": "", "methods": "some", "accepted_payment_methods": ["credit_card", "paypal"]})
    assert result.status_code == 303 and result.headers["location"] == f"/dashboard/payment-links/{link['id']}"
    changed = api(user, "GET", f"/payment-links/{link['id']}")
    assert (changed["name"], changed["coupon_id"], changed["success_url"], changed["accepted_payment_methods"]) == \
        ("Mugs, boxed", catalog["coupon"], "https://shop.example/thanks", ["credit_card", "paypal"])
    assert (changed["secure_token"], changed["line_items"]) == (link["secure_token"], link["line_items"])
    with uow_factory() as uow:
        updates = uow.session.query(Event).filter_by(account_id=user.account_id, type="payment_link.updated").all()
        assert [e.data["object"]["id"] for e in updates] == [link["id"]]  # one edit, one event
    shown = browser.get(f"/dashboard/payment-links/{link['id']}").text
    assert "Ten — 10% off" in shown and "Credit card, PayPal" in shown

    # Empty fields remove: no coupon, every method again.
    browser.submit(f"/dashboard/payment-links/{link['id']}/edit", {"name": "Mugs", "coupon_id": "", "methods": "all"})
    again = api(user, "GET", f"/payment-links/{link['id']}")
    assert (again["coupon_id"], again["accepted_payment_methods"], again["success_url"]) == (None, None, None)


def test_a_refused_edit_shows_every_mistake_and_changes_nothing(browser, user, catalog, link):
    euro_off = api(user, "POST", "/coupons", {"name": "Five euros", "amount_off_atom": 500, "currency": "EUR"})
    result = browser.submit(f"/dashboard/payment-links/{link['id']}/edit", {
        "name": "x" * 256, "coupon_id": euro_off["id"], "success_url": "shop.example", "methods": "some"})
    assert result.status_code == 400
    assert error_next_to(result.text, "name") == "name must be at most 255 characters"
    assert error_next_to(result.text, "success_url") == "the success URL must be an absolute http or https URL"
    assert error_next_to(result.text, "accepted_payment_methods") == \
        "tick at least one payment method (or choose every method)"
    assert error_next_to(result.text, "coupon_id") == ("coupon Five euros takes off an amount in EUR; this link is "
                                                       "in USD")
    assert "coupon_test_" not in result.text.split("<option")[0]
    assert 'value="shop.example"' in result.text  # what was typed is kept
    assert api(user, "GET", f"/payment-links/{link['id']}") == link


def test_a_setup_links_edit_form_has_no_coupon(browser, user):
    setup = api(user, "POST", "/payment-links", {"mode": "setup"})
    page = browser.get(f"/dashboard/payment-links/{setup['id']}/edit").text
    assert 'name="coupon_id"' not in page
    assert browser.submit(f"/dashboard/payment-links/{setup['id']}/edit",
                          {"name": "Card on file", "methods": "all"}).status_code == 303
    assert api(user, "GET", f"/payment-links/{setup['id']}")["name"] == "Card on file"
    shown = browser.get(f"/dashboard/payment-links/{setup['id']}").text
    assert "change quantities" not in shown and "nothing is charged" in shown


def test_deactivate_then_reactivate(browser, user, link):
    path = f"/dashboard/payment-links/{link['id']}"
    assert post_on(browser, f"{path}/deactivate", f"{path}/deactivate", {}).status_code == 303
    assert api(user, "GET", f"/payment-links/{link['id']}")["is_active"] is False
    page = browser.get(path).text
    assert "Reactivate" in page and "Deactivate</a>" not in page
    assert post_on(browser, path, f"{path}/reactivate", {}).status_code == 303
    assert api(user, "GET", f"/payment-links/{link['id']}")["is_active"] is True
    assert "Reactivate" not in browser.get(path).text


def test_link_pages_name_things_as_the_merchant_does(browser, user, catalog):
    monthly = api(user, "POST", "/payment-links", {"mode": "subscription", "line_items": [
        {"price_id": catalog["monthly"]}, {"price_id": catalog["mug"]}]})
    boxed = api(user, "POST", "/payment-links", {"name": "Kit link", "package_ids": [catalog["package"]]})
    listed = browser.get("/dashboard/payment-links").text
    assert "49.00 USD / month + 19.99 USD once" in listed
    api(user, "DELETE", f"/payment-links/{boxed['id']}")
    page = browser.get(f"/dashboard/payment-links/{boxed['id']}").text
    assert re.search(r'id="link-packages">Kit<', page) and catalog["package"] not in page
    page = browser.get(f"/dashboard/payment-links/{monthly['id']}").text
    assert "49.00 USD / month + 19.99 USD once" in page


def test_the_create_form_offers_changing_quantities_only_where_there_are_some(browser, catalog):
    page = browser.get("/dashboard/payment-links/new").text
    field = re.search(r'<div class="field[^"]*"([^>]*)>\s*<label><input type="checkbox" name="allow_cart_edit"', page)
    assert 'data-show-when="mode=payment,subscription"' in field.group(1)


def test_three_mistakes_three_messages_in_merchant_words(browser, user, catalog):
    result = browser.submit("/dashboard/payment-links/new", link_form(**{
        "line_items[0].price_id": catalog["mug"], "line_items[2].price_id": catalog["euro"],
        "line_items[2].quantity": "2", "success_url": "shop.example", "expires_in_hours": "0"}))
    assert result.status_code == 400
    errors = dict(re.findall(r'<div class="error" id="error-([^"]+)" role="alert">(.*?)</div>', result.text))
    assert errors == {
        "line_items[2].price_id": "all items of a link share one currency (USD); Tee — 9.00 EUR is in EUR",
        "success_url": "the success URL must be an absolute http or https URL",
        "expires_in_hours": "the session lifetime (hours) must be a whole number from 1 to 720",
    }
    assert api(user, "GET", "/payment-links")["data"] == []


def test_every_item_that_breaks_a_cart_rule_is_told_on_its_row(browser, user, catalog):
    yearly = api(user, "POST", "/prices", {"product_id": api(user, "GET", f"/prices/{catalog['monthly']}")["product_id"],
                                           "unit_amount_atom": 49000, "currency": "USD", "type": "recurring",
                                           "interval": "year"})
    result = browser.submit("/dashboard/payment-links/new", link_form(**{
        "line_items[0].price_id": catalog["mug"], "line_items[1].price_id": catalog["euro"],
        "line_items[2].price_id": catalog["monthly"]}))
    assert error_next_to(result.text, "line_items[1].price_id").endswith("Tee — 9.00 EUR is in EUR")
    assert error_next_to(result.text, "line_items[2].price_id") == (
        "a payment link sells one-time prices only; Pro — 49.00 USD / month is recurring (sell it with a "
        "Subscription link)")
    result = browser.submit("/dashboard/payment-links/new", link_form(**{
        "mode": "subscription", "line_items[0].price_id": catalog["monthly"], "line_items[1].price_id": yearly["id"]}))
    assert error_next_to(result.text, "line_items[1].price_id") == (
        "all recurring prices of a link bill on one schedule (every month); Pro — 490.00 USD / year bills every year")
    api(user, "PATCH", f"/prices/{catalog['mug']}", {"active": False})
    api(user, "PATCH", f"/prices/{catalog['beans']}", {"active": False})
    result = browser.submit("/dashboard/payment-links/new", link_form(**{
        "line_items[0].price_id": catalog["mug"], "line_items[1].price_id": catalog["beans"]}))
    assert error_next_to(result.text, "line_items[0].price_id") == "price Mug — 19.99 USD is archived"
    assert error_next_to(result.text, "line_items[1].price_id") == "price Beans — 14.50 USD is archived"


def test_a_number_that_is_not_one_is_told_beside_the_domains_mistakes(browser, user, catalog):
    result = browser.submit("/dashboard/payment-links/new", link_form(**{
        "line_items[0].price_id": catalog["mug"], "line_items[0].quantity": "two", "return_url": "nope",
        "expires_in_hours": "a day"}))
    assert result.status_code == 400
    assert error_next_to(result.text, "line_items[0].quantity") == "the quantity must be a whole number"
    assert error_next_to(result.text, "expires_in_hours") == "the session lifetime (hours) must be a whole number"
    assert error_next_to(result.text, "return_url") == "the return URL must be an absolute http or https URL"
    assert api(user, "GET", "/payment-links")["data"] == []


def test_a_coupon_form_with_three_mistakes(browser, user):
    result = browser.submit("/dashboard/coupons", {"name": " ", "kind": "percent", "percent_off": "lots",
                                                   "duration": "repeating", "redeem_by": "2001-01-01"})
    assert result.status_code == 400
    assert error_next_to(result.text, "name") == "name must not be empty"
    assert error_next_to(result.text, "percent_off") == "enter the percentage as a number, like 20 or 12.5"
    assert error_next_to(result.text, "duration_in_months") == "a repeating coupon needs the number of months"
    assert error_next_to(result.text, "redeem_by") == "the last day must be in the future"
    assert api(user, "GET", "/coupons")["data"] == []


# ---- the catalog ------------------------------------------------------------------------------

def test_archive_a_price_and_its_links_say_they_cannot_sell(browser, user, catalog, link):
    mug = api(user, "GET", f"/prices/{catalog['mug']}")
    product_page = f"/dashboard/products/{mug['product_id']}"
    result = post_on(browser, product_page, f"/dashboard/archive/prices/{mug['id']}", {"active": "false"})
    assert result.status_code == 303 and result.headers["location"] == product_page
    assert api(user, "GET", f"/prices/{mug['id']}")["active"] is False
    assert "archived" in browser.get(product_page).text
    page = browser.get(f"/dashboard/payment-links/{link['id']}").text
    assert re.search(r'id="unsellable"[^>]*>This link cannot be sold now: Mug — 19\.99 USD is archived', page)
    assert "Mug — 19.99 USD" not in browser.get("/dashboard/payment-links/new").text  # not offered for new links

    post_on(browser, product_page, f"/dashboard/archive/prices/{mug['id']}", {"active": "true"})
    assert api(user, "GET", f"/prices/{mug['id']}")["active"] is True
    assert 'id="unsellable"' not in browser.get(f"/dashboard/payment-links/{link['id']}").text


def test_edit_and_archive_a_product(browser, user, catalog):
    product_id = api(user, "GET", f"/prices/{catalog['beans']}")["product_id"]
    page = f"/dashboard/products/{product_id}"
    assert browser.submit(page, {"name": "Whole beans", "description": "Roasted weekly"},
                          action=f"{page}/edit").status_code == 303
    product = api(user, "GET", f"/products/{product_id}")
    assert (product["name"], product["description"]) == ("Whole beans", "Roasted weekly")
    refused = browser.submit(page, {"name": " ", "description": "x" * 5001}, action=f"{page}/edit")
    assert refused.status_code == 400
    assert error_next_to(refused.text, "name") == "name must not be empty"
    assert error_next_to(refused.text, "description") == "description must be at most 5000 characters"
    assert api(user, "GET", f"/products/{product_id}") == product
    post_on(browser, page, f"/dashboard/archive/products/{product_id}", {"active": "false"})
    assert api(user, "GET", f"/products/{product_id}")["active"] is False
    listed = browser.get("/dashboard/products").text
    assert "14.50 USD" in listed  # the list shows each product's prices


def test_rename_and_archive_a_package_and_a_coupon(browser, user, catalog):
    for kind, object_id in (("packages", catalog["package"]), ("coupons", catalog["coupon"])):
        page = f"/dashboard/{kind}/{object_id}"
        assert browser.get(page).status_code == 200
        assert browser.submit(page, {"name": "Renamed"}).status_code == 303
        assert api(user, "GET", f"/{kind}/{object_id}")["name"] == "Renamed"
        refused = browser.submit(page, {"name": ""})
        assert refused.status_code == 400 and error_next_to(refused.text, "name") == "name must not be empty"
        post_on(browser, page, f"/dashboard/archive/{kind}/{object_id}", {"active": "false"})
        assert api(user, "GET", f"/{kind}/{object_id}")["active"] is False
        assert "Restore" in browser.get(page).text
    package_page = browser.get(f"/dashboard/packages/{catalog['package']}").text
    assert "Mug — 19.99 USD" in package_page and catalog["mug"] not in package_page


def test_another_accounts_objects_are_not_found(browser, other_merchant, user):
    theirs = other_merchant.ok("POST", "/coupons", {"name": "Theirs", "percent_off": 5},
                               key=other_merchant.test_api_key)
    their_link = other_merchant.ok("POST", "/payment-links", {"mode": "setup"}, key=other_merchant.test_api_key)
    token = csrf_of(browser.get("/dashboard/coupons").text)
    for path, form in ((f"/dashboard/archive/coupons/{theirs['id']}", {"active": "false"}),
                       (f"/dashboard/coupons/{theirs['id']}", {"name": "Mine"}),
                       (f"/dashboard/payment-links/{their_link['id']}/edit", {"name": "Mine"}),
                       (f"/dashboard/payment-links/{their_link['id']}/reactivate", {}),
                       ("/dashboard/archive/customers/cus_test_0000000000000000", {"active": "false"})):
        assert browser.post(path, {"csrf_token": token, **form}).status_code == 404, path
    assert other_merchant.ok("GET", f"/coupons/{theirs['id']}", key=other_merchant.test_api_key) == theirs


def test_a_session_without_a_coupon_shows_no_discount(browser, user, catalog, uow_factory, settings, link):
    session_id = make_session(uow_factory, settings, link)
    page = browser.get(f"/dashboard/checkout-sessions/{session_id}").text
    assert "Discount" not in page
