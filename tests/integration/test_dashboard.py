"""The merchant dashboard through its HTML forms: sign-in, CSRF, scoping, and every form mapping
onto the same domain rules as the API (errors shown next to the field they name)."""
from __future__ import annotations

import html
import io
import json
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from domain import checkout_sessions, users
from domain.checkout_tokens import new_checkout_token
from domain.db import utcnow
from domain.ids import new_id
from domain.models import Coupon, Package, PaymentLink, Product, WebSession
from tests.conftest import find_share_link, pay_session

PASSWORD = "correct horse battery"
_ips = iter(range(1, 1_000_000))


def fresh_ip() -> str:
    n = next(_ips)
    return f"10.77.{(n >> 8) & 255}.{n & 255}"


class Browser:
    """A TestClient with a cookie jar and one client address, that fills in forms."""

    def __init__(self, client, protocol: str = "http"):
        self.client = client
        self.protocol = protocol
        self.ip = fresh_ip()
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None, headers: dict | None = None):
        all_headers = dict(headers or {})
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        query = None
        if "?" in path:
            path, query = path.split("?", 1)
        result = self.client.simulate_request(method, path, query_string=query, body=body, headers=all_headers,
                                              remote_addr=self.ip, protocol=self.protocol)
        for name, cookie in result.cookies.items():
            if cookie.value and (cookie.max_age is None or cookie.max_age > 0):
                self.cookies[name] = cookie.value
            else:
                self.cookies.pop(name, None)
        return result

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def post(self, path: str, form: dict, **kw):
        return self.request("POST", path, form=form, **kw)

    def submit(self, page_path: str, form: dict, action: str | None = None, **kw):
        """GET the page, then POST the form with the CSRF token the page carries."""
        page = self.get(page_path)
        assert page.status_code == 200, (page.status, page.text[:500])
        return self.post(action or page_path, {"csrf_token": csrf_of(page.text), **form}, **kw)

    def sign_in(self, email: str, password: str = PASSWORD):
        return self.submit("/dashboard/sign-in", {"email": email, "password": password})


def csrf_of(text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


def error_next_to(text: str, field: str) -> str | None:
    """The message shown next to a field (the element the template puts right after it)."""
    found = re.search(r'<div class="error" id="error-' + re.escape(field) + r'"[^>]*>(.*?)</div>', text, re.S)
    return html.unescape(found.group(1)) if found else None


@pytest.fixture
def user(merchant, uow_factory):
    email = f"owner-{merchant.account_id.lower()}@example.com"
    with uow_factory() as uow:
        users.create_user(uow, merchant.account_id, email, PASSWORD)
        uow.commit()
    merchant.email = email
    return merchant


@pytest.fixture
def browser(client, user):
    """Signed in as `user`, in test mode (the default after sign-in)."""
    signed = Browser(client)
    result = signed.sign_in(user.email)
    assert result.status_code == 303, result.text[:500]
    return signed


def link_id_from(result) -> str:
    assert result.status_code == 303, (result.status, result.text[:2000])
    return result.headers["location"].rsplit("/", 1)[-1]


def sandbox_price(merchant, amount: int, currency: str = "USD", product: str = "Widget", **fields) -> dict:
    """A test-mode price (the dashboard starts in test mode)."""
    key = merchant.test_api_key
    product_id = merchant.ok("POST", "/products", {"name": product}, key=key)["id"]
    return merchant.ok("POST", "/prices", {"product_id": product_id, "unit_amount_atom": amount,
                                           "currency": currency, **fields}, key=key)


# ---- sign-in, sessions, CSRF ------------------------------------------------------------------

def test_sign_in_sets_a_session_cookie_and_sign_out_ends_it(client, user, uow_factory):
    visitor = Browser(client)
    page = visitor.get("/dashboard/sign-in")
    assert page.status_code == 200 and "Sign in" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'; script-src 'self'")

    result = visitor.sign_in(user.email.upper())  # the email is matched case-insensitively
    assert result.status_code == 303
    assert result.headers["location"] == "/dashboard/payment-links"
    cookie = result.cookies["pk_session"]
    assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure and cookie.path == "/"
    token, _, signature = cookie.value.rpartition(".")
    with uow_factory() as uow:  # only the token's hash is stored
        assert uow.session.get(WebSession, token) is None
        assert users.find_session(uow, token) is not None

    links = visitor.get("/dashboard/payment-links")
    assert links.status_code == 200 and user.email in links.text

    assert visitor.submit("/dashboard/payment-links", {}, action="/dashboard/sign-out").status_code == 303
    assert "pk_session" not in visitor.cookies
    with uow_factory() as uow:
        assert users.find_session(uow, token) is None
    visitor.cookies["pk_session"] = cookie.value  # the old cookie no longer works either
    assert visitor.get("/dashboard/payment-links").headers["location"].startswith("/dashboard/sign-in")


def test_over_https_the_cookie_is_host_prefixed_and_secure(client, user):
    visitor = Browser(client, protocol="https")
    result = visitor.sign_in(user.email)
    assert result.status_code == 303
    cookie = result.cookies["__Host-pk_session"]
    assert cookie.secure and cookie.http_only and cookie.path == "/" and cookie.domain is None
    assert visitor.get("/dashboard/payment-links").status_code == 200
    # The unprefixed name is not honoured over https (it could have been planted by a subdomain).
    plain = Browser(client, protocol="https")
    plain.cookies["pk_session"] = cookie.value
    assert plain.get("/dashboard/payment-links").status_code == 303


def test_a_wrong_password_or_unknown_email_is_one_answer(client, user):
    for email, password in ((user.email, "wrong password!"), ("nobody@example.com", PASSWORD)):
        visitor = Browser(client)
        result = visitor.sign_in(email, password)
        assert result.status_code == 400
        assert "Wrong email or password." in result.text
        assert "pk_session" not in visitor.cookies
        assert visitor.get("/dashboard/payment-links").status_code == 303


def test_a_forged_or_tampered_cookie_is_signed_out(client, user):
    visitor = Browser(client)
    visitor.sign_in(user.email)
    token, _, signature = visitor.cookies["pk_session"].rpartition(".")
    for forged in (f"{token}.{'0' * 64}", f"{token}x.{signature}", token):
        visitor.cookies["pk_session"] = forged
        assert visitor.get("/dashboard/payment-links").status_code == 303


def test_sign_in_attempts_are_rate_limited_per_email(client, user):
    from api.dashboard.auth import SIGNIN_PER_EMAIL

    limit = SIGNIN_PER_EMAIL[0]
    for _ in range(limit):
        assert Browser(client).sign_in(user.email, "wrong password!").status_code == 400
    # From yet another address, and now with the right password: the email's bucket is empty.
    refused = Browser(client).sign_in(user.email)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "Too many sign-in attempts" in refused.text
    assert "pk_session" not in refused.cookies


def test_sign_in_attempts_are_rate_limited_per_client_address(client, user):
    import time

    from api.dashboard.auth import SIGNIN_PER_IP

    capacity, refill_seconds = SIGNIN_PER_IP
    visitor = Browser(client)
    started, allowed, refused = time.monotonic(), 0, None
    for n in range(3 * capacity):
        result = visitor.sign_in(f"guess{n}@example.com", "wrong password!")
        if result.status_code == 429:
            refused = result
            break
        assert result.status_code == 400
        allowed += 1
    # A full bucket, plus whatever dripped back in while the attempts ran (each hashes a password).
    assert capacity <= allowed <= capacity + (time.monotonic() - started) / refill_seconds + 1
    assert refused is not None and "Too many sign-in attempts" in refused.text
    assert visitor.sign_in(user.email).status_code == 429  # the right password waits too


def test_signed_out_visits_go_to_sign_in_and_come_back(client, user):
    visitor = Browser(client)
    for path in ("/dashboard", "/dashboard/payment-links/new", "/dashboard/checkout-sessions",
                 "/dashboard/products"):
        result = visitor.get(path)
        assert result.status_code == 303, path
        assert result.headers["location"].startswith("/dashboard/sign-in")
    result = visitor.get("/dashboard/payment-links/new")
    assert result.headers["location"] == "/dashboard/sign-in?next=%2Fdashboard%2Fpayment-links%2Fnew"
    page = visitor.get(result.headers["location"])
    signed = visitor.post("/dashboard/sign-in", {"csrf_token": csrf_of(page.text), "email": user.email,
                                                 "password": PASSWORD, "next": "/dashboard/payment-links/new"})
    assert signed.headers["location"] == "/dashboard/payment-links/new"
    # A POST while signed out changes nothing and also goes to sign-in.
    assert Browser(client).post("/dashboard/products", {"name": "x"}).status_code == 303


def test_next_never_leaves_the_dashboard(client, user):
    for target in ("https://evil.example/", "//evil.example/dashboard/", "/dashboard\\@evil"):
        visitor = Browser(client)
        page = visitor.get("/dashboard/sign-in")
        result = visitor.post("/dashboard/sign-in", {"csrf_token": csrf_of(page.text), "email": user.email,
                                                     "password": PASSWORD, "next": target})
        assert result.headers["location"] == "/dashboard/payment-links"


def test_every_form_needs_its_csrf_token(browser, user, uow_factory):
    price = sandbox_price(user, 1000)
    form = {"mode": "payment", "cart": "prices", "line_items[0].price_id": price["id"], "expires_in_hours": "24"}
    assert browser.post("/dashboard/payment-links/new", form).status_code == 403
    assert browser.post("/dashboard/payment-links/new", {**form, "csrf_token": "wrong"}).status_code == 403
    assert browser.post("/dashboard/products", {"name": "Sneaky"}).status_code == 403
    assert browser.post("/dashboard/sign-out", {}).status_code == 403
    with uow_factory() as uow:
        assert uow.session.query(PaymentLink).filter_by(account_id=user.account_id).count() == 0
        assert uow.session.query(Product).filter_by(account_id=user.account_id, name="Sneaky").count() == 0
    # The right token from another site is refused too; from our own origin it works.
    token = csrf_of(browser.get("/dashboard/products").text)
    assert browser.post("/dashboard/products", {"csrf_token": token, "name": "Cross-site"},
                        headers={"Origin": "https://evil.example"}).status_code == 403
    assert browser.post("/dashboard/products", {"csrf_token": token, "name": "Sub-site"},
                        headers={"Sec-Fetch-Site": "same-site"}).status_code == 403
    assert browser.post("/dashboard/products", {"csrf_token": token, "name": "Same-site"},
                        headers={"Origin": "http://falconframework.org"}).status_code == 303
    # A page with no-referrer makes the browser send `Origin: null`; Sec-Fetch-Site still vouches.
    assert browser.post("/dashboard/products", {"csrf_token": token, "name": "Null origin"},
                        headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"}).status_code == 303
    assert browser.post("/dashboard/products", {"csrf_token": token, "name": "Null origin"},
                        headers={"Origin": "null"}).status_code == 403


def test_the_sign_in_form_has_csrf_protection_too(client, user):
    visitor = Browser(client)
    assert visitor.post("/dashboard/sign-in", {"email": user.email, "password": PASSWORD}).status_code == 403
    other = Browser(client)  # a token from another browser's sign-in page is no good here
    token = csrf_of(other.get("/dashboard/sign-in").text)
    visitor.get("/dashboard/sign-in")
    assert visitor.post("/dashboard/sign-in", {"csrf_token": token, "email": user.email,
                                               "password": PASSWORD}).status_code == 403


def test_users_create_command(merchant, uow_factory, monkeypatch, capsys):
    from paymentkit import cli

    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert cli.main(["users", "create", "--account", merchant.account_id, "--email", "Clerk@Example.com"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["email"] == "clerk@example.com" and made["user_id"].startswith("usr_")
    with uow_factory() as uow:
        assert users.authenticate(uow, "clerk@example.com", "a long enough password").id == made["user_id"]

    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["users", "create", "--account", merchant.account_id, "--email", "b@example.com"]) == 1
    assert "at least 10 characters" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert cli.main(["users", "create", "--account", merchant.account_id, "--email", "clerk@example.com"]) == 1
    assert "already exists" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert cli.main(["users", "create", "--account", "acct_nope", "--email", "c@example.com"]) == 1


# ---- scoping ----------------------------------------------------------------------------------

def test_another_accounts_link_is_not_found(browser, other_merchant):
    theirs = other_merchant.ok("POST", "/payment-links", {"mode": "setup"}, key=other_merchant.test_api_key)
    for path in (f"/dashboard/payment-links/{theirs['id']}", f"/dashboard/payment-links/{theirs['id']}/deactivate"):
        result = browser.get(path)
        assert result.status_code == 404
        assert theirs["secure_token"] not in result.text
    token = csrf_of(browser.get("/dashboard/payment-links").text)
    assert browser.post(f"/dashboard/payment-links/{theirs['id']}/deactivate",
                        {"csrf_token": token}).status_code == 404
    assert other_merchant.ok("GET", f"/payment-links/{theirs['id']}", key=other_merchant.test_api_key)["is_active"]


def test_the_live_test_switch_scopes_everything_shown(browser, user):
    live = user.ok("POST", "/payment-links", {"mode": "setup", "name": "Live link"})
    test = user.ok("POST", "/payment-links", {"mode": "setup", "name": "Test link"}, key=user.test_api_key)

    listed = browser.get("/dashboard/payment-links").text
    assert "Test mode" in listed and "Test link" in listed and "Live link" not in listed
    assert browser.get(f"/dashboard/payment-links/{live['id']}").status_code == 404

    switched = browser.submit(f"/dashboard/payment-links/{test['id']}", {"livemode": "true",
                                                                         "next": f"/dashboard/payment-links/{test['id']}"},
                              action="/dashboard/mode")
    assert switched.headers["location"] == "/dashboard/payment-links"  # the object may not exist in the new mode
    listed = browser.get("/dashboard/payment-links").text
    assert "Live link" in listed and "Test link" not in listed and "test-banner" not in listed
    assert browser.get(f"/dashboard/payment-links/{test['id']}").status_code == 404
    assert browser.get(f"/dashboard/payment-links/{live['id']}").status_code == 200

    # What the dashboard makes is in the mode it shows.
    product_id = link_id_from(browser.submit("/dashboard/products", {"name": "Live product"}))
    assert product_id.startswith("prod_live_")
    assert stored_product_mode(user, product_id) is True


def stored_product_mode(merchant, product_id):
    return merchant.ok("GET", f"/products/{product_id}")["livemode"]


# ---- catalog ----------------------------------------------------------------------------------

def test_catalog_from_nothing_product_price_package_coupon(browser, user, uow_factory):
    product_id = link_id_from(browser.submit("/dashboard/products", {"name": "Pro plan", "description": "All"}))
    page = browser.get(f"/dashboard/products/{product_id}")
    assert page.status_code == 200 and "Pro plan" in page.text

    one_time = {"unit_amount": "19.99", "currency": "USD", "type": "one_time", "interval": "month",
                "interval_count": "1"}
    assert browser.submit(f"/dashboard/products/{product_id}", one_time).status_code == 303
    monthly = {**one_time, "unit_amount": "49", "type": "recurring", "interval_count": "3"}
    assert browser.submit(f"/dashboard/products/{product_id}", monthly).status_code == 303
    yen = {**one_time, "unit_amount": "500", "currency": "JPY"}
    assert browser.submit(f"/dashboard/products/{product_id}", yen).status_code == 303
    prices = user.ok("GET", "/prices", key=user.test_api_key)["data"]
    assert sorted((p["unit_amount_atom"], p["currency"], p["type"], p["interval"], p["interval_count"])
                  for p in prices) == [(500, "JPY", "one_time", None, None), (1999, "USD", "one_time", None, None),
                                       (4900, "USD", "recurring", "month", 3)]
    page = browser.get(f"/dashboard/products/{product_id}").text
    assert "19.99 USD" in page and "every 3 months" in page and "500 JPY" in page

    usd = [p["id"] for p in prices if p["currency"] == "USD"]
    jpy = [p["id"] for p in prices if p["currency"] == "JPY"]
    assert browser.submit("/dashboard/packages", {"name": "Bundle", "price_ids": usd}).status_code == 303
    mixed = browser.submit("/dashboard/packages", {"name": "Mixed", "price_ids": usd + jpy})
    assert mixed.status_code == 400
    assert "share one currency" in error_next_to(mixed.text, "price_ids")

    percent = {"name": "Launch", "kind": "percent", "percent_off": "12.5", "duration": "repeating",
               "duration_in_months": "3", "max_redemptions": "100", "redeem_by": "2099-12-31"}
    assert browser.submit("/dashboard/coupons", percent).status_code == 303
    amount = {"name": "Fiver", "kind": "amount", "amount_off": "5.00", "currency": "EUR", "duration": "once"}
    assert browser.submit("/dashboard/coupons", amount).status_code == 303
    with uow_factory() as uow:
        coupons = {c.name: c for c in uow.session.query(Coupon).filter_by(account_id=user.account_id)}
        assert str(coupons["Launch"].percent_off) == "12.50" and coupons["Launch"].duration_in_months == 3
        assert coupons["Launch"].redeem_by.isoformat() == "2099-12-31T23:59:59+00:00"
        assert (coupons["Fiver"].amount_off_atom, coupons["Fiver"].currency) == (500, "EUR")
        assert uow.session.query(Package).filter_by(account_id=user.account_id).one().price_ids == usd
    coupons_page = browser.get("/dashboard/coupons").text
    assert "Launch — 12.5% off" in coupons_page and "Fiver — 5.00 EUR off" in coupons_page


@pytest.mark.parametrize("form, field, message", [
    ({"unit_amount": "19.999", "currency": "USD"}, "unit_amount", "at most 2 decimal places"),
    ({"unit_amount": "1.5", "currency": "JPY"}, "unit_amount", "at most 0 decimal places"),
    ({"unit_amount": "ten", "currency": "USD"}, "unit_amount", "enter the amount as digits"),
    # Python's int() and Decimal() read any script's digits: "１２" must not become 12.00 EUR
    ({"unit_amount": "１２", "currency": "EUR"}, "unit_amount", "enter the amount as digits"),
    ({"unit_amount": "12.５0", "currency": "EUR"}, "unit_amount", "enter the amount as digits"),
    ({"unit_amount": "999999999999", "currency": "USD"}, "unit_amount", "the amount is too large"),
    ({"unit_amount": "10", "currency": "XYZ"}, "currency", "ISO 4217"),
    ({"unit_amount": "10", "currency": "USD", "type": "recurring", "interval": "year", "interval_count": "2"},
     "interval_count", "the number of intervals must be a whole number from 1 to 1"),
])
def test_price_form_errors_sit_next_to_their_field(browser, user, form, field, message):
    product_id = link_id_from(browser.submit("/dashboard/products", {"name": "Thing"}))
    result = browser.submit(f"/dashboard/products/{product_id}", {"type": "one_time", **form})
    assert result.status_code == 400
    assert message in (error_next_to(result.text, field) or ""), result.text
    assert f'value="{form["unit_amount"]}"' in result.text  # the form keeps what was typed
    assert user.ok("GET", "/prices", key=user.test_api_key)["data"] == []


def test_coupon_form_errors_come_from_the_domain(browser):
    result = browser.submit("/dashboard/coupons", {"name": "Too much", "kind": "percent", "percent_off": "120",
                                                   "duration": "once"})
    assert result.status_code == 400
    assert error_next_to(result.text, "percent_off") == "the percentage must be greater than 0 and at most 100"
    result = browser.submit("/dashboard/coupons", {"name": "Months?", "kind": "percent", "percent_off": "10",
                                                   "duration": "repeating"})
    assert "needs the number of months" in error_next_to(result.text, "duration_in_months")
    result = browser.submit("/dashboard/coupons", {"name": "Wide", "kind": "percent", "percent_off": "１０",
                                                   "duration": "once"})
    assert "enter the percentage as a number" in error_next_to(result.text, "percent_off")
    result = browser.submit("/dashboard/products", {"name": "  "})
    assert error_next_to(result.text, "name") == "name must not be empty"


# ---- payment links ----------------------------------------------------------------------------

@pytest.fixture
def catalog(user):
    """Test-mode prices to sell: two one-time USD, one monthly USD, one EUR; a package; a coupon."""
    key = user.test_api_key
    prices = {
        "mug": sandbox_price(user, 1999, product="Mug"),
        "beans": sandbox_price(user, 1450, product="Beans"),
        "monthly": sandbox_price(user, 4900, product="Pro", type="recurring", interval="month"),
        "euro": sandbox_price(user, 900, "EUR", product="Tee"),
    }
    package = user.ok("POST", "/packages", {"name": "Kit", "price_ids": [prices["mug"]["id"], prices["beans"]["id"]]},
                      key=key)
    coupon = user.ok("POST", "/coupons", {"name": "Ten", "percent_off": 10}, key=key)
    return {**{k: v["id"] for k, v in prices.items()}, "package": package["id"], "coupon": coupon["id"]}


def link_form(**fields) -> dict:
    return {"mode": "payment", "cart": "prices", "methods": "all", "expires_in_hours": "24", **fields}


def test_create_form_lists_what_there_is_to_sell(browser, catalog):
    page = browser.get("/dashboard/payment-links/new").text
    assert "Mug — 19.99 USD" in page and "Pro — 49.00 USD / month" in page and "Tee — 9.00 EUR" in page
    assert "Kit" in page and "Ten — 10% off" in page
    assert 'data-show-when="mode=subscription"' in page  # the trial shows for subscriptions only


def test_create_a_link_of_each_mode(browser, user, catalog, uow_factory):
    payment = link_id_from(browser.submit("/dashboard/payment-links/new", link_form(
        name="Coffee kit", coupon_id=catalog["coupon"], success_url="https://shop.example/thanks",
        return_url="https://shop.example/cart", expires_in_hours="48", allow_cart_edit="on", methods="some",
        accepted_payment_methods=["credit_card", "paypal"],
        **{"line_items[0].price_id": catalog["mug"], "line_items[0].quantity": "2",
           "line_items[0].description": "350 ml", "line_items[1].price_id": "", "line_items[1].quantity": "1",
           "line_items[2].price_id": catalog["beans"], "line_items[2].quantity": "1"})))
    link = user.ok("GET", f"/payment-links/{payment}", key=user.test_api_key)
    assert (link["mode"], link["total_amount_atom"], link["currency"]) == ("payment", 2 * 1999 + 1450, "USD")
    assert [(i["price_id"], i["quantity"], i["description"]) for i in link["line_items"]] == [
        (catalog["mug"], 2, "350 ml"), (catalog["beans"], 1, None)]
    assert (link["coupon_id"], link["expires_in_hours"], link["allow_cart_edit"]) == (catalog["coupon"], 48, True)
    assert link["accepted_payment_methods"] == ["credit_card", "paypal"]
    assert (link["success_url"], link["return_url"]) == ("https://shop.example/thanks", "https://shop.example/cart")

    subscription = link_id_from(browser.submit("/dashboard/payment-links/new", link_form(
        mode="subscription", free_trial_days="14",
        **{"line_items[0].price_id": catalog["monthly"], "line_items[1].price_id": catalog["mug"]})))
    link = user.ok("GET", f"/payment-links/{subscription}", key=user.test_api_key)
    assert (link["mode"], link["free_trial_days"], link["accepted_payment_methods"]) == ("subscription", 14, None)

    # Fields the chosen mode hides are not sent to the domain (the browser still submits them).
    setup = link_id_from(browser.submit("/dashboard/payment-links/new", link_form(
        mode="setup", coupon_id=catalog["coupon"], free_trial_days="7",
        **{"line_items[0].price_id": catalog["mug"]})))
    link = user.ok("GET", f"/payment-links/{setup}", key=user.test_api_key)
    assert (link["mode"], link["line_items"], link["coupon_id"], link["currency"]) == ("setup", [], None, None)

    package = link_id_from(browser.submit("/dashboard/payment-links/new", link_form(
        cart="package", package_ids=[catalog["package"]], **{"line_items[0].price_id": catalog["monthly"]})))
    link = user.ok("GET", f"/payment-links/{package}", key=user.test_api_key)
    assert (link["package_ids"], link["total_amount_atom"]) == ([catalog["package"]], 1999 + 1450)

    page = browser.get(f"/dashboard/payment-links/{payment}")
    url = f"https://pay.example.test/api/pay/share/{user.ok('GET', f'/payment-links/{payment}', key=user.test_api_key)['secure_token']}"
    assert f'data-copy="{url}"' in page.text and f'value="{url}"' in page.text
    assert 'src="data:image/svg+xml' in page.text and "Download PNG" in page.text
    assert "Mug — 19.99 USD" in page.text and "54.48 USD" in page.text
    listed = browser.get("/dashboard/payment-links").text
    assert listed.index(package) < listed.index(setup) < listed.index(subscription) < listed.index(payment)


@pytest.mark.parametrize("fields, field, message", [
    # A quantity out of range in the second visible row (row 1) is shown on row 1.
    ({"line_items[0].price_id": "mug", "line_items[1].price_id": "beans", "line_items[1].quantity": "1000"},
     "line_items[1].quantity", "the quantity must be a whole number from 1 to 999"),
    # With an empty row before it, the error still lands on the row the merchant filled.
    ({"line_items[0].price_id": "", "line_items[3].price_id": "monthly"},
     "line_items[3].price_id", "a payment link sells one-time prices only"),
    ({"line_items[0].price_id": "mug", "line_items[1].price_id": "euro"},
     "line_items[1].price_id", "share one currency"),
    ({"line_items[0].price_id": "mug", "line_items[0].quantity": "two"},
     "line_items[0].quantity", "must be a whole number"),
    ({"line_items[0].price_id": "mug", "line_items[0].quantity": "２"},
     "line_items[0].quantity", "must be a whole number"),
    ({"line_items[0].price_id": "mug", "expires_in_hours": "２４"}, "expires_in_hours", "must be a whole number"),
    ({}, "line_items", "a payment link needs prices or packages"),
    ({"mode": "subscription", "line_items[0].price_id": "mug"}, "line_items",
     "needs at least one recurring price"),
    ({"mode": "subscription", "line_items[0].price_id": "monthly", "free_trial_days": "731"},
     "free_trial_days", "the free trial (days) must be a whole number from 1 to 730"),
    ({"cart": "package"}, "package_ids", "a link has 1 to 20 packages"),
    ({"line_items[0].price_id": "mug", "success_url": "ftp://x"}, "success_url", "absolute http or https URL"),
    ({"line_items[0].price_id": "mug", "expires_in_hours": "721"}, "expires_in_hours", "from 1 to 720"),
    ({"line_items[0].price_id": "mug", "methods": "some"}, "accepted_payment_methods",
     "tick at least one payment method (or choose every method)"),
    ({"line_items[0].price_id": "mug", "name": "x" * 256}, "name", "at most 255 characters"),
])
def test_link_form_errors_sit_next_to_the_field_they_name(browser, user, catalog, fields, field, message):
    form = link_form(**{k: catalog.get(v, v) if k.endswith("price_id") else v for k, v in fields.items()})
    result = browser.submit("/dashboard/payment-links/new", form)
    assert result.status_code == 400
    assert message in (error_next_to(result.text, field) or ""), result.text
    assert user.ok("GET", "/payment-links", key=user.test_api_key)["data"] == []  # nothing was made
    for name, value in form.items():  # what was chosen is still chosen
        if name.endswith("price_id") and value:
            assert re.search(rf'<option value="{value}" selected>', result.text)


def test_a_domain_rule_changes_the_dashboard_and_the_api_alike(browser, user, catalog):
    """The same command, the same rule: the API's 400 names the id, the form the price's name."""
    api = user.post("/payment-links", {"line_items": [{"price_id": catalog["mug"]}, {"price_id": catalog["euro"]}]},
                    key=user.test_api_key)
    form = browser.submit("/dashboard/payment-links/new", link_form(**{
        "line_items[0].price_id": catalog["mug"], "line_items[1].price_id": catalog["euro"]}))
    assert api.json["error"]["param"] == "line_items[1].price_id"
    shown = error_next_to(form.text, "line_items[1].price_id")
    assert api.json["error"]["message"] == (f"all items of a link share one currency (USD); {catalog['euro']} is in "
                                            "EUR")
    assert re.fullmatch(r"all items of a link share one currency \(USD\); \S.* — [0-9.]+ EUR is in EUR", shown), shown
    assert "price_" not in shown


def make_session(uow_factory, settings, link: dict, *, hours_ago: float = 0, paid_by=None) -> str:
    """A checkout session made from the link as the share path makes them (snapshot + store);
    `paid_by=deps`: then paid with the test card, as the hosted checkout does."""
    now = utcnow() - timedelta(hours=hours_ago)
    with uow_factory() as uow:
        found = find_share_link(uow.session.get_bind(), link["secure_token"])
        token = new_checkout_token(settings.secret_key, now)
        snapshot = checkout_sessions.new_session(found, session_id=new_id("cs", link["livemode"]),
                                                 checkout_token=token, now=now)
        checkout_sessions.store(uow, snapshot)
        uow.commit()
    if paid_by is not None:
        assert pay_session(paid_by, token, now).completed
    return snapshot["id"]


def test_link_page_counts_sessions_and_deactivate_asks_first(browser, user, catalog, uow_factory, settings, client,
                                                             deps):
    link = user.ok("POST", "/payment-links", {"line_items": [{"price_id": catalog["mug"]}]}, key=user.test_api_key)
    page = browser.get(f"/dashboard/payment-links/{link['id']}").text
    assert re.search(r'id="count-made">0<', page) and re.search(r'id="completion-rate">—<', page)

    done = make_session(uow_factory, settings, link, paid_by=deps)
    open_one = make_session(uow_factory, settings, link)
    make_session(uow_factory, settings, link, hours_ago=25)  # past expires_at, not swept yet: expired
    page = browser.get(f"/dashboard/payment-links/{link['id']}").text
    assert re.search(r'id="count-made">3<', page) and re.search(r'id="count-completed">1<', page)
    assert re.search(r'id="count-expired">1<', page) and re.search(r'id="completion-rate">33.3%<', page)
    row = re.search(rf'<tr data-session="{open_one}">(.*?)</tr>', page, re.S).group(1)
    assert "open" in row and re.search(r"2[34] h \d+ min", row)
    assert "complete" in re.search(rf'<tr data-session="{done}">(.*?)</tr>', page, re.S).group(1)

    confirm = browser.get(f"/dashboard/payment-links/{link['id']}/deactivate")
    assert confirm.status_code == 200 and "Deactivate link" in confirm.text
    assert user.ok("GET", f"/payment-links/{link['id']}", key=user.test_api_key)["is_active"]  # asking changes nothing
    result = browser.post(f"/dashboard/payment-links/{link['id']}/deactivate", {"csrf_token": csrf_of(confirm.text)})
    assert result.headers["location"] == f"/dashboard/payment-links/{link['id']}"
    assert not user.ok("GET", f"/payment-links/{link['id']}", key=user.test_api_key)["is_active"]
    page = browser.get(f"/dashboard/payment-links/{link['id']}").text
    assert "This link is deactivated" in page and "data-copy=" not in page
    assert re.search(r'id="count-made">3<', page)  # its sessions stay as they were
    shared = client.simulate_get(f"/api/pay/share/{link['secure_token']}", headers={"Accept": "text/html"},
                                 remote_addr=fresh_ip())
    assert shared.status_code == 404
    inactive = browser.get("/dashboard/payment-links?active=false").text
    assert link["id"] in inactive
    assert link["id"] not in browser.get("/dashboard/payment-links?active=true").text


def test_link_list_filters_and_cursor_pages(browser, user):
    made = [user.ok("POST", "/payment-links", {"mode": "setup", "name": f"Link {n:02d}"}, key=user.test_api_key)
            for n in range(23)]
    first = browser.get("/dashboard/payment-links").text
    names = re.findall(r">Link (\d\d)</a>", first)
    assert names == [f"{n:02d}" for n in range(22, 2, -1)]  # newest first, 20 a page
    older = re.search(r'href="([^"]+)">Older', first).group(1)
    second = browser.get(html.unescape(older)).text
    assert re.findall(r">Link (\d\d)</a>", second) == ["02", "01", "00"]
    assert "Older" not in second
    newer = html.unescape(re.search(r'href="([^"]+)">← Newer', second).group(1))
    assert re.findall(r">Link (\d\d)</a>", browser.get(newer).text) == names
    assert "No payment links match" in browser.get("/dashboard/payment-links?mode=payment").text
    assert len(re.findall(r">Link \d\d</a>", browser.get("/dashboard/payment-links?mode=setup&active=true").text)) == 20
    assert made[0]["id"] in second


def test_checkout_sessions_list_by_status_and_a_session_page(browser, user, catalog, uow_factory, settings, deps):
    link = user.ok("POST", "/payment-links", {"name": "Kit", "coupon_id": catalog["coupon"],
                                              "line_items": [{"price_id": catalog["mug"], "quantity": 2}]},
                   key=user.test_api_key)
    done = make_session(uow_factory, settings, link, paid_by=deps)
    open_one = make_session(uow_factory, settings, link)
    late = make_session(uow_factory, settings, link, hours_ago=30)

    def listed(query=""):
        return re.findall(r'href="/dashboard/checkout-sessions/(cs_\w+)"', browser.get(
            f"/dashboard/checkout-sessions{query}").text)

    assert listed() == [open_one, done, late]
    assert listed("?status=open") == [open_one]
    assert listed("?status=expired") == [late]  # by effective status, before any sweep
    assert listed("?status=complete") == [done]
    assert listed(f"?payment_link_id={link['id']}&status=complete") == [done]

    page = browser.get(f"/dashboard/checkout-sessions/{done}").text
    for text in ("Mug — 19.99 USD", "39.98 USD", "4.00 USD", "35.98 USD", "complete", "Kit"):
        assert text in page, text
    assert browser.get(f"/dashboard/checkout-sessions/{late}").text.count("expired") >= 2


def test_a_session_of_another_account_or_mode_is_not_found(browser, user, catalog, uow_factory, settings):
    live = user.ok("POST", "/payment-links", {"mode": "setup"})
    session_id = make_session(uow_factory, settings, live)
    assert browser.get(f"/dashboard/checkout-sessions/{session_id}").status_code == 404


def test_an_unreadable_form_is_413_or_400_not_an_expired_form(browser, settings):
    """Too large and not UTF-8 answer like the API (413, 400), before any CSRF verdict (they were a
    403 "This form has expired")."""
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    too_large = browser.client.simulate_post("/dashboard/products", headers=headers, remote_addr=browser.ip,
                                             body=b"name=" + b"x" * settings.max_body_bytes)
    not_utf8 = browser.client.simulate_post("/dashboard/products", headers=headers, remote_addr=browser.ip,
                                            body=b"name=\xff\xfe")
    assert (too_large.status_code, not_utf8.status_code) == (413, 400)
    assert "This form has expired" not in too_large.text + not_utf8.text
    assert "The form could not be read" in too_large.text and "not valid UTF-8" in not_utf8.text
