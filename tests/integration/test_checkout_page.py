"""The hosted checkout page: what the customer sees, Pay, Cancel, cart edit, expiry and the guards."""
from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from freezegun import freeze_time

from domain import checkout_sessions
from domain.checkout_tokens import new_checkout_token
from domain.ids import new_id
from domain.models import Account, CheckoutSession, Coupon
from tests.conftest import find_share_link, make_merchant, wait_for

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
SUCCESS = "https://shop.example/thanks?session={CHECKOUT_SESSION_ID}"
T0 = datetime(2026, 6, 17, 14, 0, tzinfo=UTC)


PAY = "email=ada%40example.com&name=Ada&card_number=4242+4242+4242+4242&exp=12%2F34&cvc=123"


@pytest.fixture
def merchant(client, uow_factory):
    """A merchant talking with its test key: test mode takes payments through the test processor."""
    return make_merchant(client, uow_factory).in_test_mode()


def make_link(merchant, **fields) -> dict:
    if "line_items" not in fields and "package_ids" not in fields and fields.get("mode") != "setup":
        fields["line_items"] = [{"price_id": merchant.price(1999)["id"], "quantity": 1}]
    return merchant.ok("POST", "/payment-links", fields)


def open_session(uow_factory, settings, link: dict, now: datetime | None = None) -> str:
    """Store a session made from `link` as the worker would; its checkout token."""
    now = now or datetime.now(UTC)
    token = new_checkout_token(settings.secret_key, now)
    with uow_factory() as uow:
        row = find_share_link(uow.session.get_bind(), link["secure_token"])
        snapshot = checkout_sessions.new_session(row, session_id=new_id("cs", row.livemode), checkout_token=token,
                                                 now=now)
        assert snapshot is not None
        checkout_sessions.store(uow, snapshot)
        uow.commit()
    return token


def stored(uow_factory, token: str) -> CheckoutSession:
    with uow_factory() as uow:
        session = checkout_sessions.find_by_token(uow, token)
        uow.session.expunge(session)
        return session


def page(client, token: str):
    return client.simulate_get(f"/checkout/{token}", headers=BROWSER)


def post(client, token: str, action: str, body: str | None = None, headers=None):
    """A form post; Pay sends the test card 4242 unless given another body."""
    body = (PAY if action == "pay" else "") if body is None else body
    return client.simulate_post(f"/checkout/{token}/{action}", body=body, headers={**FORM, **(headers or {})},
                                remote_addr=next_ip())


_ips = iter(range(1, 1_000_000))


def next_ip() -> str:
    """Each post from its own address, so the pay limiter (6 a minute per address) stays out of the way."""
    n = next(_ips)
    return f"10.77.{n // 250 % 250}.{n % 250 + 1}"


def text_of(page_html: str) -> str:
    """The visible text (no styles, entities read, spans inline), whitespace collapsed, for plain assertions."""
    visible = re.sub(r"</?span[^>]*>", "", re.sub(r"<style>.*?</style>", " ", page_html, flags=re.S))
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", visible))).strip()


# ---- what the page shows ---------------------------------------------------------------------

def test_page_shows_items_amounts_methods_and_time_left(client, merchant, uow_factory, settings):
    mug = merchant.price(1999, product_id=merchant.product("Coffee mug")["id"])
    sticker = merchant.price(250, product_id=merchant.product("Sticker")["id"])
    coupon = merchant.ok("POST", "/coupons", {"name": "Tenth", "percent_off": 10, "duration": "once"})
    link = make_link(merchant, line_items=[{"price_id": mug["id"], "quantity": 2, "description": "350 ml, stoneware"},
                                           {"price_id": sticker["id"], "quantity": 3}],
                     coupon_id=coupon["id"], accepted_payment_methods=["credit_card", "apple_pay"])
    token = open_session(uow_factory, settings, link, now=T0)

    with freeze_time(T0 + timedelta(seconds=61)):
        result = page(client, token)
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("text/html")
    text = text_of(result.text)
    assert "Pay Test shop" in text  # the merchant's name
    assert "Coffee mug 350 ml, stoneware Qty 2 × $19.99 $39.98" in text
    assert "Sticker Qty 3 × $2.50 $7.50" in text
    assert mug["id"] not in result.text and sticker["id"] not in result.text  # names, never ids
    assert "Subtotal $47.48" in text
    assert "Discount (10% off) −$4.75" in text
    assert "Total $42.73" in text
    assert result.text.count('<tr class="total') == 1  # one total
    assert "Payment methods: Credit card Apple Pay" in text
    assert "Expires in 23 h 58 min (June 18, 2026, 2:00 PM UTC)" in text
    assert "Pay $42.73" in text and "Cancel" in text
    assert f'action="{settings.checkout_base_url}/checkout/{token}/pay"' in result.text
    assert 'method="post"' in result.text
    assert 'type="number"' not in result.text  # no cart edit on this link


@pytest.mark.parametrize("currency, unit, language, shown", [
    ("USD", 1999, None, "$19.99"), ("JPY", 500, None, "¥500"), ("KWD", 1005, None, "KWD 1.005"),
    ("EUR", 129950, "de-DE,de;q=0.9,en;q=0.5", "1.299,50 €"), ("JPY", 500, "ja", "￥500"),
    ("USD", 129950, "xx-not-a-language", "$1,299.50")])
def test_amounts_follow_the_currency_and_the_customers_language(client, merchant, uow_factory, settings, currency,
                                                                 unit, language, shown):
    link = make_link(merchant, line_items=[{"price_id": merchant.price(unit, currency)["id"]}])
    token = open_session(uow_factory, settings, link)
    answer = client.simulate_get(f"/checkout/{token}", headers={**BROWSER, "Accept-Language": language or ""})
    text = text_of(answer.text)
    assert f"Total {shown}" in text and f"Pay {shown}" in text


def test_dates_follow_the_customers_language(client, merchant, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant), now=T0)
    with freeze_time(T0):
        british = text_of(client.simulate_get(f"/checkout/{token}", headers={"Accept-Language": "en-GB"}).text)
        german = text_of(client.simulate_get(f"/checkout/{token}", headers={"Accept-Language": "de"}).text)
    assert "(18 June 2026, 14:00 UTC)" in british and "Pay US$19.99" in british
    assert "(18. Juni 2026, 14:00 UTC)" in german and "Pay 19,99 $" in german


def subscription_page(client, merchant, uow_factory, settings, *, trial_days=None, coupon=None, fee=True,
                      count=1, language="en-US"):
    items = [{"price_id": merchant.recurring_price(4900, interval_count=count,
                                                   product_id=merchant.product("Pro plan")["id"])["id"]}]
    if fee:
        items.append({"price_id": merchant.price(1500, product_id=merchant.product("Setup fee")["id"])["id"]})
    fields = {"free_trial_days": trial_days} if trial_days else {}
    if coupon:
        fields["coupon_id"] = merchant.ok("POST", "/coupons", {"name": "Tenth", "percent_off": 10,
                                                               "duration": "forever"})["id"]
    token = open_session(uow_factory, settings, make_link(merchant, mode="subscription", line_items=items, **fields),
                         now=T0)
    with freeze_time(T0):
        return client.simulate_get(f"/checkout/{token}", headers={**BROWSER, "Accept-Language": language})


def test_a_trial_has_one_total_due_today_and_says_what_is_charged_later_and_from_when(client, merchant, uow_factory,
                                                                                     settings):
    shown = subscription_page(client, merchant, uow_factory, settings, trial_days=14)
    text = text_of(shown.text)
    assert "Subscribe to Test shop" in text
    assert "Pro plan Qty 1 14-day free trial $49.00/month" in text and "Setup fee Qty 1 $15.00" in text
    assert "Due today $15.00 then $49.00/month from July 1, 2026" in text  # 17 June + 14 days
    assert shown.text.count('<tr class="total') == 1 and "Total" not in text
    assert "Pay $15.00" in text
    british = text_of(subscription_page(client, merchant, uow_factory, settings, trial_days=14, language="en-GB").text)
    assert "then US$49.00/month from 1 July 2026" in british


def test_a_trial_with_a_coupon_shows_the_discounted_amounts_today_and_later(client, merchant, uow_factory, settings):
    text = text_of(subscription_page(client, merchant, uow_factory, settings, trial_days=14, coupon=True).text)
    assert "Subtotal $15.00 Discount (10% off) −$1.50 Due today $13.50" in text
    assert "then $44.10/month from July 1, 2026" in text and "Pay $13.50" in text


def test_a_trial_with_nothing_due_today_starts_the_trial(client, merchant, uow_factory, settings):
    text = text_of(subscription_page(client, merchant, uow_factory, settings, trial_days=30, fee=False).text)
    assert "Due today $0.00 then $49.00/month from July 17, 2026" in text
    assert "Start trial" in text and "Pay $" not in text


def test_without_a_trial_the_total_says_per_what(client, merchant, uow_factory, settings):
    only_plan = text_of(subscription_page(client, merchant, uow_factory, settings, fee=False).text)
    assert "Total $49.00/month" in only_plan and "then" not in only_plan and "Pay $49.00" in only_plan
    with_fee = text_of(subscription_page(client, merchant, uow_factory, settings, count=3).text)
    assert "Pro plan Qty 1 $49.00 every 3 months" in with_fee
    assert "Due today $64.00 then $49.00 every 3 months from September 17, 2026" in with_fee


def test_all_methods_and_time_left_in_days_for_a_long_lived_session(client, merchant, uow_factory, settings):
    link = make_link(merchant, expires_in_hours=72)
    token = open_session(uow_factory, settings, link, now=T0)
    with freeze_time(T0 + timedelta(minutes=30)):
        text = text_of(page(client, token).text)
    assert "Payment methods: All methods" in text
    assert "Expires in 2 d 23 h" in text


def test_setup_mode_shows_no_amounts_and_saves_a_card(client, merchant, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant, mode="setup"))
    result = page(client, token)
    text = text_of(result.text)
    assert "Save a card with Test shop" in text and "Save card" in text
    assert "Total" not in text and "USD" not in text and "$" not in text and "Pay " not in text

    done = post(client, token, "pay")
    assert done.status_code == 303 and done.headers["location"].endswith(f"/checkout/{token}")
    confirmed = text_of(page(client, token).text)
    assert "Card saved" in confirmed and "You were not charged" in confirmed and "Visa ending in 4242" in confirmed
    assert stored(uow_factory, token).status == "complete"


def test_lines_from_packages_name_the_package(client, merchant, uow_factory, settings):
    tea = merchant.price(450, product_id=merchant.product("Tea")["id"])
    cups = merchant.price(1200, product_id=merchant.product("Cups")["id"])
    package = merchant.ok("POST", "/packages", {"name": "Tea set", "price_ids": [tea["id"], cups["id"]]})
    shown = page(client, open_session(uow_factory, settings, make_link(merchant, package_ids=[package["id"]])))
    text = text_of(shown.text)
    assert "Tea Part of Tea set Qty 1 $4.50" in text and "Cups Part of Tea set Qty 1 $12.00" in text
    assert "Total $16.50" in text
    assert not re.search(r"(price|prod|pkg)_(test|live)_", shown.text)


def test_a_session_made_before_names_were_kept_still_reads_well(client, merchant, uow_factory, settings):
    link = make_link(merchant, line_items=[{"price_id": merchant.price(1999)["id"], "description": "Coffee mug"},
                                           {"price_id": merchant.price(250)["id"]}])
    token = open_session(uow_factory, settings, link)
    with uow_factory() as uow:  # as an older version stored it: no product_name, no package_name
        session = checkout_sessions.find_by_token(uow, token)
        session.line_items = [{k: v for k, v in line.items() if k not in ("product_name", "package_name")}
                              for line in session.line_items]
        uow.commit()
    text = text_of(page(client, token).text)
    assert "Coffee mug Qty 1 $19.99" in text and "Item Qty 1 $2.50" in text
    assert "price_" not in text


def set_display(uow_factory, account_id: str, **fields) -> None:
    with uow_factory() as uow:
        account = uow.session.get(Account, account_id)
        for name, value in fields.items():
            setattr(account, name, value)
        uow.commit()


def test_the_merchant_is_shown_by_display_name_colour_and_contact(client, merchant, uow_factory, settings):
    set_display(uow_factory, merchant.account_id, display_name="Kettle & Co", support_email="help@kettle.example",
                brand_color="#0A7C59")
    token = open_session(uow_factory, settings, make_link(merchant))
    shown = page(client, token)
    text = text_of(shown.text)
    assert "Pay Kettle & Co" in text and "Test shop" not in text
    assert "Questions? Contact Kettle & Co at help@kettle.example" in text
    assert 'href="mailto:help@kettle.example"' in shown.text
    assert '<body style="--accent: #0a7c59; --on-accent: #ffffff">' in shown.text
    assert "Test mode" in text
    csp = shown.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "style-src 'self' 'unsafe-inline'" in csp

    set_display(uow_factory, merchant.account_id, brand_color="#F5E6A8")  # a pale colour: dark text on it
    assert '<body style="--accent: #f5e6a8; --on-accent: #1a1f36">' in page(client, token).text


@pytest.mark.parametrize("colour", ["red", "#12345", "#12345g", "#1;}<a>", "1234567", None])
def test_a_brand_colour_that_is_not_rrggbb_is_never_written_into_the_page(client, merchant, uow_factory, settings,
                                                                         colour):
    set_display(uow_factory, merchant.account_id, brand_color=colour)
    shown = page(client, open_session(uow_factory, settings, make_link(merchant)))
    assert '<body style="--accent: #635bff; --on-accent: #ffffff">' in shown.text


def test_live_mode_has_no_test_badge(client, uow_factory, settings):
    live = make_merchant(client, uow_factory)
    link = live.ok("POST", "/payment-links", {"line_items": [{"price_id": live.price(1999)["id"]}]})
    text = text_of(page(client, open_session(uow_factory, settings, link)).text)
    assert "Pay Test shop" in text and "Test mode" not in text and "4242" not in text


def test_the_form_is_labelled_and_filled_in_by_the_browser(client, merchant, uow_factory, settings):
    shown = page(client, open_session(uow_factory, settings, make_link(merchant))).text
    for name, label, autocomplete, numeric in [("email", "Email", "email", False),
                                               ("name", "Name on card", "cc-name", False),
                                               ("card_number", "Card number", "cc-number", True),
                                               ("exp", "Expiry (MM/YY)", "cc-exp", True),
                                               ("cvc", "CVC", "cc-csc", True)]:
        assert re.search(rf'<label for="pay-{name}">{re.escape(label)}', shown), name
        tag = re.search(rf'<input id="pay-{name}" name="{name}"[^>]*>', shown, re.S).group(0)
        assert f'autocomplete="{autocomplete}"' in tag
        assert ('inputmode="numeric"' in tag) == numeric
    assert 'type="email"' in re.search(r'<input id="pay-email"[^>]*>', shown).group(0)


def test_a_refused_card_keeps_the_email_and_name_and_never_the_card(client, merchant, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant))
    refused = post(client, token, "pay", "email=ada%40example.com&name=Ada+L&card_number=4000+0000+0000+0002"
                                         "&exp=12%2F34&cvc=987")
    assert refused.status_code == 402
    assert 'value="ada@example.com"' in refused.text and 'value="Ada L"' in refused.text
    assert "4000 0000 0000 0002" not in refused.text and "4000000000000002" not in refused.text
    assert "987" not in refused.text
    field = re.search(r'<div class="field invalid">.*?</div>\s*</div>', refused.text, re.S).group(0)
    assert 'name="card_number"' in field and "Your card was declined." in field
    assert 'aria-describedby="error-card_number"' in field


# ---- Pay -------------------------------------------------------------------------------------

def test_pay_completes_and_sends_the_customer_to_success_url(client, merchant, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant, success_url=SUCCESS))
    result = post(client, token, "pay")
    session = stored(uow_factory, token)
    assert result.status_code == 303
    assert result.headers["location"] == f"https://shop.example/thanks?session={session.id}"
    assert session.status == "complete" and session.completed_at is not None

    again = page(client, token)
    assert again.status_code == 200
    assert "Payment complete" in again.text and "/pay" not in again.text
    assert f'href="https://shop.example/thanks?session={session.id}">Continue</a>' in again.text


def test_the_confirmation_sums_up_what_was_paid(client, merchant, uow_factory, settings):
    mug = merchant.price(1999, product_id=merchant.product("Coffee mug")["id"])
    token = open_session(uow_factory, settings, make_link(merchant, line_items=[{"price_id": mug["id"], "quantity": 2}]))
    post(client, token, "pay")
    session = stored(uow_factory, token)
    shown = page(client, token)
    text = text_of(shown.text)
    assert "Payment complete You paid $39.98 to Test shop." in text
    assert "Coffee mug Qty 2 × $19.99 $39.98" in text
    assert "Amount paid $39.98" in text and "Card Visa ending in 4242" in text
    assert f"Payment reference {session.payment_id}" in text and "Receipt to ada@example.com" in text
    assert "Continue" not in text and "You can close this page" in text  # no success_url
    assert "4242 4242" not in text and "123" not in re.sub(r"[A-Za-z0-9_]{20,}", "", text)  # no card number, no CVC


def test_the_confirmation_shows_the_discount_that_was_taken(client, merchant, uow_factory, settings):
    coupon = merchant.ok("POST", "/coupons", {"name": "Tenth", "percent_off": 10, "duration": "once"})
    token = open_session(uow_factory, settings, make_link(merchant, coupon_id=coupon["id"]))
    post(client, token, "pay")
    text = text_of(page(client, token).text)
    assert "Subtotal $19.99 Discount (10% off) −$2.00 Amount paid $17.99" in text


def test_the_confirmation_of_a_subscription_says_what_comes_next(client, merchant, uow_factory, settings):
    plan = merchant.recurring_price(4900, product_id=merchant.product("Pro plan")["id"])
    fee = merchant.price(1500, product_id=merchant.product("Setup fee")["id"])
    with_fee = make_link(merchant, mode="subscription", free_trial_days=14,
                         line_items=[{"price_id": plan["id"]}, {"price_id": fee["id"]}])
    free = make_link(merchant, mode="subscription", free_trial_days=14, line_items=[{"price_id": plan["id"]}])
    paid, trial = open_session(uow_factory, settings, with_fee), open_session(uow_factory, settings, free)
    with freeze_time(T0):
        post(client, paid, "pay")
        post(client, trial, "pay")
    paid_text, trial_text = text_of(page(client, paid).text), text_of(page(client, trial).text)
    assert "Payment complete" in paid_text and "Amount paid $15.00" in paid_text
    assert "Then $49.00/month from July 1, 2026" in paid_text  # from the completion, 14 days on
    assert "Trial started" in trial_text and "Nothing was charged today" in trial_text
    assert "Then $49.00/month from July 1, 2026" in trial_text
    assert f"Reference {stored(uow_factory, trial).id}" in trial_text  # no payment: the checkout's id


def test_paying_twice_shows_the_completed_page_and_changes_nothing(client, merchant, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant))
    first = post(client, token, "pay")
    assert first.status_code == 303  # no success_url: to the page, which says so
    assert "Payment complete" in page(client, token).text
    completed_at = stored(uow_factory, token).completed_at

    second = post(client, token, "pay")
    assert second.status_code == 409
    assert "Payment complete" in second.text and "Pay $19.99" not in second.text
    assert stored(uow_factory, token).completed_at == completed_at


def test_an_expired_session_takes_no_payment_even_before_the_sweep(client, merchant, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant, expires_in_hours=2), now=T0)
    with freeze_time(T0 + timedelta(hours=2, seconds=1)):
        shown = page(client, token)
        paid = post(client, token, "pay")
    assert "This checkout has expired" in shown.text and "Pay $19.99" not in shown.text
    assert "Test shop" in shown.text  # whose checkout it was
    assert paid.status_code == 409 and "This checkout has expired" in paid.text
    session = stored(uow_factory, token)
    assert (session.status, session.completed_at) == ("open", None)


def test_a_session_is_payable_until_the_last_second(client, merchant, uow_factory, settings):
    link = make_link(merchant, expires_in_hours=1)
    on_time = open_session(uow_factory, settings, link, now=T0)
    too_late = open_session(uow_factory, settings, link, now=T0)
    with freeze_time(T0 + timedelta(hours=1) - timedelta(seconds=1)):
        assert "Expires in less than a minute" in page(client, on_time).text
        assert post(client, on_time, "pay").status_code == 303
    with freeze_time(T0 + timedelta(hours=1)):
        assert post(client, too_late, "pay").status_code == 409
    assert stored(uow_factory, on_time).status == "complete"
    assert stored(uow_factory, too_late).status == "open"


def test_a_coupon_that_ran_out_is_removed_before_payment(client, merchant, uow_factory, settings):
    coupon = merchant.ok("POST", "/coupons", {"name": "Once", "amount_off_atom": 500, "currency": "USD",
                                              "duration": "once", "max_redemptions": 1})
    link = make_link(merchant, coupon_id=coupon["id"], success_url=SUCCESS)
    first, second = open_session(uow_factory, settings, link), open_session(uow_factory, settings, link)
    assert "Total $14.99" in text_of(page(client, second).text)

    assert post(client, first, "pay").status_code == 303
    refused = post(client, second, "pay")
    assert refused.status_code == 200
    text = text_of(refused.text)
    assert "The discount is no longer available" in text and "No payment was taken" in text
    assert "Total $19.99" in text and "Pay $19.99" in text
    repriced = stored(uow_factory, second)
    assert (repriced.status, repriced.coupon_id, repriced.amount_total_atom) == ("open", None, 1999)
    assert repriced.payment_id is None  # nothing was charged
    with uow_factory() as uow:
        assert uow.session.get(Coupon, coupon["id"]).times_redeemed == 1

    assert post(client, second, "pay").status_code == 303  # at the price now shown
    assert stored(uow_factory, second).status == "complete"


# ---- Cancel ----------------------------------------------------------------------------------

def test_cancel_goes_to_return_url_or_says_cancelled(client, merchant, uow_factory, settings):
    with_return = open_session(uow_factory, settings, make_link(merchant, return_url="https://shop.example/cart"))
    result = post(client, with_return, "cancel")
    assert result.status_code == 303 and result.headers["location"] == "https://shop.example/cart"

    without = open_session(uow_factory, settings, make_link(merchant))
    result = post(client, without, "cancel")
    assert result.status_code == 200 and "Checkout cancelled" in result.text
    assert stored(uow_factory, without).status == "open"


# ---- cart edit -------------------------------------------------------------------------------

def editable_session(merchant, uow_factory, settings) -> str:
    mug = merchant.price(1999, product_id=merchant.product("Coffee mug")["id"])
    sticker = merchant.price(250, product_id=merchant.product("Sticker")["id"])
    link = make_link(merchant, allow_cart_edit=True,
                     line_items=[{"price_id": mug["id"]}, {"price_id": sticker["id"], "quantity": 2}])
    return open_session(uow_factory, settings, link)


def test_cart_edit_updates_the_totals(client, merchant, uow_factory, settings):
    token = editable_session(merchant, uow_factory, settings)
    shown = page(client, token).text
    assert 'name="line_items[1].quantity" min="1" max="999"' in shown and ">Update</button>" in shown
    assert 'aria-label="Quantity of Sticker"' in shown

    result = post(client, token, "quantities", "line_items%5B0%5D.quantity=3&line_items%5B1%5D.quantity=4")
    assert result.status_code == 303 and result.headers["location"].endswith(f"/checkout/{token}")
    text = text_of(page(client, token).text)
    assert "Coffee mug Qty × $19.99 $59.97" in text and "Sticker Qty × $2.50 $10.00" in text
    assert "Total $69.97" in text and "Pay $69.97" in text
    assert stored(uow_factory, token).amount_total_atom == 6997


# "１２": full-width digits, which Python's \d and int() read as 12, are no quantity either.
@pytest.mark.parametrize("value", ["0", "1000", "abc", "-1", "", "\uff11\uff12"])
def test_a_bad_quantity_names_the_line_and_changes_nothing(client, merchant, uow_factory, settings, value):
    token = editable_session(merchant, uow_factory, settings)
    result = post(client, token, "quantities",
                  f"line_items%5B0%5D.quantity=2&line_items%5B1%5D.quantity={quote(value)}")
    assert result.status_code == 400
    text = text_of(result.text)
    assert "Sticker (line 2):" in text and "1 to 999" in text
    assert "Total $24.99" in text  # the stored amounts, unchanged
    assert f'value="{value}"' in result.text  # what the customer typed, to correct
    session = stored(uow_factory, token)
    assert [line["quantity"] for line in session.line_items] == [1, 2] and session.amount_total_atom == 2499


def test_cart_edit_is_refused_when_the_link_does_not_allow_it(client, merchant, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant))
    result = post(client, token, "quantities", "line_items%5B0%5D.quantity=5")
    assert result.status_code == 400 and "cannot be changed" in result.text
    assert stored(uow_factory, token).line_items[0]["quantity"] == 1


# ---- not stored yet, made up, expired --------------------------------------------------------

def test_a_fresh_token_not_stored_yet_is_preparing_and_refreshes(client, settings):
    token = new_checkout_token(settings.secret_key, datetime.now(UTC))
    result = page(client, token)
    assert result.status_code == 200
    assert "Preparing your checkout" in result.text
    assert '<meta http-equiv="refresh" content="1">' in result.text


def test_made_up_and_stale_tokens_get_the_generic_404(client, settings):
    made_up = page(client, "x" * 40)
    forged = page(client, new_checkout_token(b"another installation", datetime.now(UTC)))
    stale = page(client, new_checkout_token(settings.secret_key, datetime.now(UTC) - timedelta(minutes=11)))
    too_long = page(client, "x" * 500)
    for answer in (made_up, forged, stale, too_long):
        assert answer.status_code == 404
        assert "not available" in answer.text and "Traceback" not in answer.text
    assert len({answer.text for answer in (made_up, forged, stale)}) == 1
    assert post(client, "x" * 40, "pay").status_code == 404


def test_start_again_is_offered_only_while_the_link_is_active(client, merchant, uow_factory, settings):
    link = make_link(merchant, expires_in_hours=1)
    token = open_session(uow_factory, settings, link, now=datetime.now(UTC) - timedelta(hours=2))
    shown = page(client, token)
    assert shown.status_code == 200 and "This checkout has expired" in shown.text
    assert f'href="{settings.public_base_url}/api/pay/share/{link["secure_token"]}"' in shown.text
    assert "Start again" in shown.text

    merchant.ok("DELETE", f"/payment-links/{link['id']}")
    shown = page(client, token)
    assert "This checkout has expired" in shown.text and "Start again" not in shown.text


def test_through_the_share_url_and_a_real_worker(client, merchant, uow_factory, celery_worker):
    link = make_link(merchant, success_url=SUCCESS)
    opened = client.simulate_get(f"/api/pay/share/{link['secure_token']}", headers=BROWSER, remote_addr="10.78.0.1")
    assert opened.status_code == 303
    token = opened.headers["location"].rsplit("/", 1)[-1]
    shown = wait_for(lambda: (answer := page(client, token)).status_code == 200
                     and "Preparing" not in answer.text and answer)
    assert "Pay $19.99" in shown.text
    assert post(client, token, "pay").status_code == 303


# ---- guards ----------------------------------------------------------------------------------

def test_pages_forbid_framing_and_carry_a_strict_csp(client, merchant, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant))
    for answer in (page(client, token), page(client, "x" * 40), post(client, token, "cancel")):
        csp = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"


def test_posts_must_be_forms_from_the_checkout_origin(client, merchant, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant, success_url=SUCCESS))
    cross_origin = post(client, token, "pay", headers={"Origin": "https://evil.example"})
    null_origin = post(client, token, "pay", headers={"Origin": "null"})
    as_json = client.simulate_post(f"/checkout/{token}/pay", json={})
    assert (cross_origin.status_code, null_origin.status_code, as_json.status_code) == (403, 403, 415)
    assert "Request refused" in cross_origin.text
    assert stored(uow_factory, token).status == "open"

    same_origin = post(client, token, "pay", headers={"Origin": settings.checkout_base_url + ":443"})
    assert same_origin.status_code == 303


def test_forms_may_go_exactly_where_the_page_sends_them(client, merchant, uow_factory, settings):
    """One referrer policy; form-action names the checkout origin and the origins Pay and Cancel
    redirect to (browsers check a form's redirects too), nothing else (it allowed any http/https)."""
    token = open_session(uow_factory, settings, make_link(
        merchant, success_url="https://Shop.example/thanks", return_url="http://back.example:8080/cart"))
    bare = open_session(uow_factory, settings, make_link(merchant))
    shown, plain, other = page(client, token), page(client, bare), page(client, "x" * 40)
    assert re.findall(r'<meta name="referrer"[^>]*>', shown.text) == ['<meta name="referrer" content="same-origin">']
    assert len(re.findall(r'<meta name="referrer"', other.text)) == 1

    def form_action(answer) -> str:
        return next(part.strip() for part in answer.headers["content-security-policy"].split(";")
                    if part.strip().startswith("form-action"))

    assert form_action(shown) == "form-action https://checkout.example.test https://shop.example http://back.example:8080"
    assert form_action(plain) == "form-action https://checkout.example.test"
    assert form_action(other) == "form-action 'none'"  # a page without forms
