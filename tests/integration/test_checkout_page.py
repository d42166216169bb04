"""The hosted checkout page: what the customer sees, Pay, Cancel, cart edit, expiry and the guards."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from domain import checkout_sessions
from domain.checkout_tokens import new_checkout_token
from domain.ids import new_id
from domain.models import CheckoutSession, Coupon
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
    if "line_items" not in fields and fields.get("mode") != "setup":
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


def text_of(html: str) -> str:
    """The visible text, whitespace collapsed, for plain assertions."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


# ---- what the page shows ---------------------------------------------------------------------

def test_page_shows_items_amounts_methods_and_time_left(client, merchant, uow_factory, settings):
    mug = merchant.price(1999)
    sticker = merchant.price(250)
    coupon = merchant.ok("POST", "/coupons", {"name": "Tenth", "percent_off": 10, "duration": "once"})
    link = make_link(merchant, line_items=[{"price_id": mug["id"], "quantity": 2, "description": "Coffee mug"},
                                           {"price_id": sticker["id"], "quantity": 3}],
                     coupon_id=coupon["id"], accepted_payment_methods=["credit_card", "apple_pay"])
    token = open_session(uow_factory, settings, link, now=T0)

    with freeze_time(T0 + timedelta(seconds=61)):
        result = page(client, token)
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("text/html")
    text = text_of(result.text)
    assert "Coffee mug 2 19.99 USD 39.98 USD" in text
    assert f"{sticker['id']} 3 2.50 USD 7.50 USD" in text
    assert "Subtotal 47.48 USD" in text
    assert "Discount (10% off) −4.75 USD" in text
    assert "Total 42.73 USD" in text
    assert "Payment methods: Credit card Apple Pay" in text
    assert "Expires in 23 h 58 min" in text and "2026-06-18 14:00 UTC" in text
    assert "Pay 42.73 USD" in text and "Cancel" in text
    assert f'action="{settings.checkout_base_url}/checkout/{token}/pay"' in result.text
    assert 'method="post"' in result.text
    assert 'type="number"' not in result.text  # no cart edit on this link


@pytest.mark.parametrize("currency, unit, shown", [("USD", 1999, "19.99 USD"), ("JPY", 500, "500 JPY"),
                                                    ("KWD", 1005, "1.005 KWD")])
def test_amounts_follow_the_currency_format(client, merchant, uow_factory, settings, currency, unit, shown):
    link = make_link(merchant, line_items=[{"price_id": merchant.price(unit, currency)["id"]}])
    text = text_of(page(client, open_session(uow_factory, settings, link)).text)
    assert f"Total {shown}" in text and f"Pay {shown}" in text


def test_trial_is_spelled_out_and_only_one_time_items_are_due_today(client, merchant, uow_factory, settings):
    link = make_link(merchant, mode="subscription", free_trial_days=14,
                     line_items=[{"price_id": merchant.recurring_price(2000)["id"], "description": "Pro plan"},
                                 {"price_id": merchant.price(500)["id"], "description": "Setup fee"}])
    text = text_of(page(client, open_session(uow_factory, settings, link)).text)
    assert "14-day free trial — 5.00 USD due today, then 20.00 USD/month" in text
    assert "Pro plan 1 20.00 USD/month 20.00 USD/month" in text
    assert "Due today 5.00 USD" in text and "Pay 5.00 USD" in text


def test_all_methods_and_time_left_in_days_for_a_long_lived_session(client, merchant, uow_factory, settings):
    link = make_link(merchant, expires_in_hours=72)
    token = open_session(uow_factory, settings, link, now=T0)
    with freeze_time(T0 + timedelta(minutes=30)):
        text = text_of(page(client, token).text)
    assert "Payment methods: All methods" in text
    assert "Expires in 2 d 23 h" in text


def test_setup_mode_shows_no_amounts_and_saves_a_payment_method(client, merchant, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant, mode="setup"))
    result = page(client, token)
    text = text_of(result.text)
    assert "Save payment method" in text
    assert "Total" not in text and "USD" not in text

    done = post(client, token, "pay")
    assert done.status_code == 303 and done.headers["location"].endswith(f"/checkout/{token}")
    assert "Payment method saved" in page(client, token).text
    assert stored(uow_factory, token).status == "complete"


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
    assert f'href="https://shop.example/thanks?session={session.id}"' in again.text


def test_paying_twice_shows_the_completed_page_and_changes_nothing(client, merchant, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant))
    first = post(client, token, "pay")
    assert first.status_code == 303  # no success_url: to the page, which says so
    assert "Payment complete" in page(client, token).text
    completed_at = stored(uow_factory, token).completed_at

    second = post(client, token, "pay")
    assert second.status_code == 409
    assert "Payment complete" in second.text and "Pay 19.99" not in second.text
    assert stored(uow_factory, token).completed_at == completed_at


def test_an_expired_session_takes_no_payment_even_before_the_sweep(client, merchant, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant, expires_in_hours=2), now=T0)
    with freeze_time(T0 + timedelta(hours=2, seconds=1)):
        shown = page(client, token)
        paid = post(client, token, "pay")
    assert "This checkout has expired" in shown.text and "Pay 19.99" not in shown.text
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
    assert "Total 14.99 USD" in text_of(page(client, second).text)

    assert post(client, first, "pay").status_code == 303
    refused = post(client, second, "pay")
    assert refused.status_code == 200
    text = text_of(refused.text)
    assert "The discount is no longer available" in text and "No payment was taken" in text
    assert "Total 19.99 USD" in text and "Pay 19.99 USD" in text
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
    link = make_link(merchant, allow_cart_edit=True,
                     line_items=[{"price_id": merchant.price(1999)["id"], "description": "Coffee mug"},
                                 {"price_id": merchant.price(250)["id"], "description": "Sticker", "quantity": 2}])
    return open_session(uow_factory, settings, link)


def test_cart_edit_updates_the_totals(client, merchant, uow_factory, settings):
    token = editable_session(merchant, uow_factory, settings)
    shown = page(client, token).text
    assert 'name="line_items[1].quantity" min="1" max="999"' in shown and ">Update</button>" in shown

    result = post(client, token, "quantities", "line_items%5B0%5D.quantity=3&line_items%5B1%5D.quantity=4")
    assert result.status_code == 303 and result.headers["location"].endswith(f"/checkout/{token}")
    text = text_of(page(client, token).text)
    assert "Coffee mug 19.99 USD 59.97 USD" in text and "Sticker 2.50 USD 10.00 USD" in text
    assert "Total 69.97 USD" in text
    assert stored(uow_factory, token).amount_total_atom == 6997


@pytest.mark.parametrize("value", ["0", "1000", "abc", "-1", ""])
def test_a_bad_quantity_names_the_line_and_changes_nothing(client, merchant, uow_factory, settings, value):
    token = editable_session(merchant, uow_factory, settings)
    result = post(client, token, "quantities", f"line_items%5B0%5D.quantity=2&line_items%5B1%5D.quantity={value}")
    assert result.status_code == 400
    text = text_of(result.text)
    assert "Sticker (line 2):" in text and "1 to 999" in text
    assert "Total 24.99 USD" in text  # the stored amounts, unchanged
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
    assert "Pay 19.99 USD" in shown.text
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
