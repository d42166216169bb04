"""The dashboard's payments side through its HTML forms (signed in, with CSRF): the payments list
and a payment's page, refunds (asked, confirmed, made through the mode's processor, refused in
the merchant's words next to the amount), customers, the checkout session's customer and
payment, a link's revenue, and Settings → Processor. Every rule is the domain's, as in the API."""
from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest

from domain import checkout_sessions, payment_records, processors
from domain.checkout_tokens import new_checkout_token
from domain.db import utcnow
from domain.ids import new_id
from domain.models import Payment
from domain.queries import Owner
from tests.conftest import TEST_CARD, find_share_link, pay_session
from tests.integration.test_dashboard import (  # noqa: F401  (fixtures)
    Browser, browser, csrf_of, error_next_to, sandbox_price, user)

DECLINED_CARD = "4000000000000002"


def new_session(uow_factory, settings, link: dict, now=None) -> str:
    """A checkout session made from the link as the share path makes them; its checkout token."""
    now = now or utcnow()
    with uow_factory() as uow:
        found = find_share_link(uow.session.get_bind(), link["secure_token"])
        token = new_checkout_token(settings.secret_key, now)
        checkout_sessions.store(uow, checkout_sessions.new_session(found, session_id=new_id("cs", link["livemode"]),
                                                                   checkout_token=token, now=now))
        uow.commit()
    return token


def pay(deps, token: str, *, email: str = "ada@example.com", name: str | None = None, card: str = TEST_CARD):
    """Pay as the hosted checkout does (the built-in test processor, the real pay flow)."""
    return pay_session(deps, token, card=card, email=email, name=name)


def session_of(uow_factory, token: str):
    with uow_factory() as uow:
        found = checkout_sessions.find_by_token(uow, token)
        uow.session.expunge(found)
        return found


def paid(deps, uow_factory, settings, link: dict, **customer) -> tuple[str, str]:
    """A session of the link, paid: (session id, payment id)."""
    token = new_session(uow_factory, settings, link)
    assert pay(deps, token, **customer).completed
    found = session_of(uow_factory, token)
    return found.id, found.payment_id


def stored(uow_factory, payment_id: str) -> tuple[int, list[tuple[int, str, str | None]]]:
    """What the database says: refunded so far, and each refund (amount, status, reason)."""
    with uow_factory() as uow:
        payment = uow.session.get(Payment, payment_id)
        refunds = payment_records.refunds_of(uow, [payment_id])[payment_id]
        return payment.amount_refunded_atom, [(r.amount_atom, r.status, r.reason) for r in refunds]


def sell_link(user, amount: int = 5000, currency: str = "EUR", name: str = "Tea tin") -> dict:
    price = sandbox_price(user, amount, currency, product=name)
    return user.ok("POST", "/payment-links", {"name": name, "line_items": [{"price_id": price["id"]}]},
                   key=user.test_api_key)


def declined(deps, uow_factory, settings, link: dict, **customer) -> str:
    """A session of the link whose card was declined: its failed payment's id (the session stays
    open and no longer points to it)."""
    token = new_session(uow_factory, settings, link)
    assert not pay(deps, token, card=DECLINED_CARD, **customer).completed
    with uow_factory() as uow:
        return uow.session.query(Payment.id).filter_by(checkout_session_id=session_of(uow_factory, token).id,
                                                       status="failed").one()[0]


def ask_refund(browser, payment_id: str, **form):
    """The payment page's Refund form, sent: the confirmation page (or the form with errors)."""
    return browser.submit(f"/dashboard/payments/{payment_id}", form, action=f"/dashboard/payments/{payment_id}/refund")


def confirm(browser, payment_id: str, confirmation):
    """Press the confirmation page's button: the hidden fields it carries, as they are."""
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', confirmation.text))
    return browser.post(f"/dashboard/payments/{payment_id}/refund", {k: html.unescape(v) for k, v in fields.items()})


def row_of(text: str, payment_id: str) -> str:
    return re.search(rf'<tr>\s*<td class="num" data-payment="{payment_id}">(.*?)</tr>', text, re.S).group(1)


# ---- the list ---------------------------------------------------------------------------------

def test_payments_list_newest_first_with_customer_card_and_status(browser, user, deps, uow_factory, settings):
    link = sell_link(user, 2000, "USD")
    _, first = paid(deps, uow_factory, settings, link, email="first@example.com")
    refused = declined(deps, uow_factory, settings, link, email="declined@example.com")
    _, last = paid(deps, uow_factory, settings, link, email="last@example.com", card="5555555555554444")

    page = browser.get("/dashboard/payments")
    assert page.status_code == 200
    assert re.findall(r'data-payment="(pay_test_\w+)"', page.text) == [last, refused, first]
    newest = row_of(page.text, last)
    for text in ("20.00 USD", "succeeded", "last@example.com", "Mastercard •••• 4444", utcnow().strftime("%Y-%m-%d")):
        assert text in newest, text
    assert "failed" in row_of(page.text, refused) and "declined@example.com" in row_of(page.text, refused)
    assert "Visa •••• 4242" in row_of(page.text, first)
    assert 'href="/dashboard/payments" class="current">Payments<' in page.text  # the sidebar entry

    def listed(query: str) -> list[str]:
        return re.findall(r'data-payment="(pay_test_\w+)"', browser.get(f"/dashboard/payments{query}").text)

    assert listed("?status=failed") == [refused]
    assert listed("?status=succeeded") == [last, first]
    assert "No payments match these filters" in browser.get("/dashboard/payments?status=canceled").text
    with uow_factory() as uow:
        customer_id = uow.session.get(Payment, first).customer_id
    assert listed(f"?customer_id={customer_id}") == [first]
    assert listed("?status=bogus") == [last, refused, first]  # an unknown status is no filter


def test_payments_list_pages_by_cursor(browser, user, uow_factory):
    now = utcnow()
    with uow_factory() as uow:
        made = []
        for n in range(23):
            payment = Payment(id=new_id("pay", False), account_id=user.account_id, livemode=False,
                              created_at=now - timedelta(minutes=23 - n), updated_at=now, amount_atom=100 + n,
                              currency="USD", status="failed", processor="test")
            uow.session.add(payment)
            made.append(payment.id)
        uow.commit()
    first = browser.get("/dashboard/payments").text
    assert re.findall(r'data-payment="(pay_test_\w+)"', first) == made[::-1][:20]
    older = html.unescape(re.search(r'href="([^"]+)">Older', first).group(1))
    second = browser.get(older).text
    assert re.findall(r'data-payment="(pay_test_\w+)"', second) == made[2::-1]
    newer = html.unescape(re.search(r'href="([^"]+)">← Newer', second).group(1))
    assert re.findall(r'data-payment="(pay_test_\w+)"', browser.get(newer).text) == made[::-1][:20]
    assert browser.get("/dashboard/payments?starting_after=pay_test_madeupmadeupmadeup").status_code == 303


# ---- a payment and its refunds ----------------------------------------------------------------

def test_a_payment_page_then_a_partial_and_a_full_refund(browser, user, deps, uow_factory, settings):
    link = sell_link(user)
    session_id, payment_id = paid(deps, uow_factory, settings, link, name="Ada Lovelace")
    page = browser.get(f"/dashboard/payments/{payment_id}")
    assert page.status_code == 200
    with uow_factory() as uow:
        payment = uow.session.get(Payment, payment_id)
        customer_id, reference = payment.customer_id, payment.processor_reference
    for text in ("50.00 EUR", "Visa •••• 4242", "expires 12/2034", "ada@example.com", "Ada Lovelace", reference,
                 f'href="/dashboard/customers/{customer_id}"', f'href="/dashboard/checkout-sessions/{session_id}"',
                 f'href="/dashboard/payment-links/{link["id"]}">Tea tin<', "No refunds."):
        assert text in page.text, text
    assert re.search(r'id="refunded">0.00 EUR<', page.text) and re.search(r'id="left">50.00 EUR<', page.text)
    assert 'name="amount" value="50.00"' in page.text  # the default: all that is left
    assert '<option value="requested_by_customer" selected>Requested by customer</option>' in page.text

    # Refund 12.50 of it: first the question, which changes nothing.
    asked = ask_refund(browser, payment_id, amount="12.50", reason="duplicate")
    assert asked.status_code == 200
    assert "Refund 12.50 EUR to Ada Lovelace?" in asked.text
    assert "12.50 EUR of the 50.00 EUR payment goes back to Visa •••• 4242. Reason: duplicate." in asked.text
    assert stored(uow_factory, payment_id) == (0, [])
    done = confirm(browser, payment_id, asked)
    assert done.status_code == 303
    location = done.headers["location"]
    assert re.fullmatch(rf"/dashboard/payments/{payment_id}\?refunded=re_test_\w+", location)
    assert stored(uow_factory, payment_id) == (1250, [(1250, "succeeded", "duplicate")])
    page = browser.get(location).text
    assert "Refunded 12.50 EUR." in page
    assert re.search(r'id="refunded">12.50 EUR<', page) and re.search(r'id="left">37.50 EUR<', page)
    refund_row = re.search(r'<tr data-refund="re_test_\w+">(.*?)</tr>', page, re.S).group(1)
    assert "12.50 EUR" in refund_row and "succeeded" in refund_row and "Duplicate" in refund_row
    assert 'name="amount" value="37.50"' in page

    # Then the rest, with the form as it comes (all that is left, no reason changed).
    asked = ask_refund(browser, payment_id, amount="37.50", reason="requested_by_customer")
    assert "Refund 37.50 EUR to Ada Lovelace?" in asked.text
    assert confirm(browser, payment_id, asked).status_code == 303
    assert stored(uow_factory, payment_id) == (5000, [(1250, "succeeded", "duplicate"),
                                                     (3750, "succeeded", "requested_by_customer")])
    page = browser.get(f"/dashboard/payments/{payment_id}").text
    assert re.search(r'id="refunded">50.00 EUR<', page) and re.search(r'id="left">0.00 EUR<', page)
    assert "Nothing is left to refund: the whole payment was given back." in page
    assert 'name="amount"' not in page and '<span class="badge refunded">refunded</span>' in page
    listed = browser.get("/dashboard/payments").text
    assert "50.00 EUR refunded" in row_of(listed, payment_id)


def test_an_empty_amount_refunds_all_that_is_left_and_asks_with_the_exact_amount(browser, user, deps, uow_factory,
                                                                                 settings):
    _, payment_id = paid(deps, uow_factory, settings, sell_link(user, 1999, "USD"))
    asked = ask_refund(browser, payment_id, amount="", reason="")
    assert "Refund 19.99 USD to ada@example.com?" in asked.text and "Reason: no reason given." in asked.text
    assert '<input type="hidden" name="amount" value="19.99">' in asked.text
    assert confirm(browser, payment_id, asked).status_code == 303
    assert stored(uow_factory, payment_id) == (1999, [(1999, "succeeded", None)])


def test_a_zero_decimal_currency_is_refunded_in_whole_units(browser, user, deps, uow_factory, settings):
    _, payment_id = paid(deps, uow_factory, settings, sell_link(user, 1500, "JPY"))
    assert 'name="amount" value="1500"' in browser.get(f"/dashboard/payments/{payment_id}").text
    asked = ask_refund(browser, payment_id, amount="500", reason="")
    assert "Refund 500 JPY to ada@example.com?" in asked.text
    confirm(browser, payment_id, asked)
    assert stored(uow_factory, payment_id)[0] == 500


def test_an_over_refund_is_refused_next_to_the_amount_in_money(browser, user, deps, uow_factory, settings):
    _, payment_id = paid(deps, uow_factory, settings, sell_link(user))
    confirm(browser, payment_id, ask_refund(browser, payment_id, amount="20.00", reason=""))

    refused = ask_refund(browser, payment_id, amount="40.00", reason="fraudulent")
    assert refused.status_code == 400
    assert error_next_to(refused.text, "amount") == "at most 30.00 EUR can be refunded"
    assert 'name="amount" value="40.00"' in refused.text  # the form keeps what was typed
    assert '<option value="fraudulent" selected>' in refused.text
    assert stored(uow_factory, payment_id)[0] == 2000

    # A confirmation that went stale (another refund was made meanwhile) is refused the same way.
    asked = ask_refund(browser, payment_id, amount="25.00", reason="")
    assert "Refund 25.00 EUR" in asked.text
    payment_records.refund(deps.units, Owner(user.account_id, False), payment_id,
                           payment_records.NewRefund(1000), deps.processors.test_processor(), utcnow)
    refused = confirm(browser, payment_id, asked)
    assert refused.status_code == 400
    assert error_next_to(refused.text, "amount") == "at most 20.00 EUR can be refunded"
    assert stored(uow_factory, payment_id)[0] == 3000


@pytest.mark.parametrize("form, field, message", [
    ({"amount": "0"}, "amount", "the amount must be greater than 0"),
    ({"amount": "0.00"}, "amount", "the amount must be greater than 0"),
    ({"amount": "12.505"}, "amount", "EUR amounts have at most 2 decimal places"),
    ({"amount": "ten"}, "amount", "enter the amount as digits with at most 2 decimal places, like 19.99"),
    ({"amount": "-5"}, "amount", "enter the amount as digits"),
    ({"amount": "１２"}, "amount", "enter the amount as digits"),
    ({"amount": "50.01"}, "amount", "at most 50.00 EUR can be refunded"),
    ({"amount": "10", "reason": "changed_my_mind"}, "reason",
     "reason must be one of requested_by_customer, duplicate, fraudulent"),
])
def test_refund_form_errors_sit_next_to_their_field(browser, user, deps, uow_factory, settings, form, field, message):
    _, payment_id = paid(deps, uow_factory, settings, sell_link(user))
    for step in ({}, {"confirm": "yes"}):  # the question and the refund itself check alike
        refused = ask_refund(browser, payment_id, **{"reason": "", **form, **step})
        assert refused.status_code == 400
        assert message in (error_next_to(refused.text, field) or ""), refused.text
    assert stored(uow_factory, payment_id) == (0, [])


def test_a_payment_that_did_not_succeed_offers_no_refund(browser, user, deps, uow_factory, settings):
    payment_id = declined(deps, uow_factory, settings, sell_link(user))
    page = browser.get(f"/dashboard/payments/{payment_id}").text
    assert '<span class="badge failed">failed</span>' in page and "Why it failed" in page
    assert 'name="amount"' not in page and 'id="left"' not in page
    refused = ask_refund(browser, payment_id, amount="1.00", reason="")
    assert refused.status_code == 400
    assert "Only a succeeded payment can be refunded; this one is failed." in refused.text
    assert stored(uow_factory, payment_id) == (0, [])


def test_without_the_payments_processor_nothing_is_refunded(browser, user, deps, uow_factory, settings):
    """A payment is refunded where it was made: one taken through Stripe, whose keys the account
    no longer has (it went back to the test processor), cannot be refunded from here."""
    from domain.models import Payment

    _, payment_id = paid(deps, uow_factory, settings, sell_link(user))
    owner = Owner(user.account_id, False)
    with uow_factory() as uow:
        uow.session.get(Payment, payment_id).processor = "stripe"
        uow.commit()
    assert deps.processors.for_processor(uow_factory(), owner, "stripe") is None
    page = browser.get(f"/dashboard/payments/{payment_id}").text
    assert "No processor takes this mode&#39;s payments, so none can be refunded" in page
    assert 'name="amount"' not in page
    refused = ask_refund(browser, payment_id, amount="1.00", reason="", confirm="yes")
    assert refused.status_code == 400 and "none can be refunded" in refused.text
    assert stored(uow_factory, payment_id) == (0, [])


def test_a_refund_needs_the_csrf_token(browser, user, deps, uow_factory, settings):
    _, payment_id = paid(deps, uow_factory, settings, sell_link(user))
    for form in ({"amount": "1.00", "confirm": "yes"}, {"amount": "1.00", "confirm": "yes", "csrf_token": "forged"}):
        assert browser.post(f"/dashboard/payments/{payment_id}/refund", form).status_code == 403
    assert stored(uow_factory, payment_id) == (0, [])


def test_signed_out_the_new_pages_send_to_sign_in_and_refund_nothing(client, user, deps, uow_factory, settings):
    _, payment_id = paid(deps, uow_factory, settings, sell_link(user))
    visitor = Browser(client)
    for path in ("/dashboard/payments", f"/dashboard/payments/{payment_id}", "/dashboard/customers",
                 "/dashboard/settings/processor"):
        result = visitor.get(path)
        assert result.status_code == 303 and result.headers["location"].startswith("/dashboard/sign-in?next=")
    for path, form in ((f"/dashboard/payments/{payment_id}/refund", {"amount": "1.00", "confirm": "yes"}),
                       ("/dashboard/settings/processor", {"processor": "stripe", **STRIPE_TEST})):
        assert visitor.post(path, form).status_code == 303
    assert stored(uow_factory, payment_id) == (0, [])
    with uow_factory() as uow:
        assert processors.choice(uow, Owner(user.account_id, False), deps.processors.box).processor == "test"


def test_another_accounts_payment_is_the_not_found_page(browser, user, other_merchant, deps, uow_factory, settings):
    theirs = sell_link(other_merchant)
    _, payment_id = paid(deps, uow_factory, settings, theirs, email="theirs@example.com")
    page = browser.get(f"/dashboard/payments/{payment_id}")
    assert page.status_code == 404 and "Not found" in page.text and "theirs@example.com" not in page.text
    token = csrf_of(browser.get("/dashboard/payments").text)
    for step in ({}, {"confirm": "yes"}):
        refused = browser.post(f"/dashboard/payments/{payment_id}/refund",
                               {"csrf_token": token, "amount": "1.00", **step})
        assert refused.status_code == 404
    assert stored(uow_factory, payment_id) == (0, [])
    assert payment_id not in browser.get("/dashboard/payments").text
    with uow_factory() as uow:
        their_customer = uow.session.get(Payment, payment_id).customer_id
    assert browser.get(f"/dashboard/customers/{their_customer}").status_code == 404
    # The same account's live mode does not show test payments either.
    browser.submit("/dashboard/payments", {"livemode": "true", "next": "/dashboard/payments"}, action="/dashboard/mode")
    _, mine = paid(deps, uow_factory, settings, sell_link(user))
    assert browser.get(f"/dashboard/payments/{mine}").status_code == 404


# ---- customers, sessions, links ---------------------------------------------------------------

def test_a_customer_page_lists_their_payments_and_saved_cards(browser, user, deps, uow_factory, settings):
    _, payment_id = paid(deps, uow_factory, settings, sell_link(user), email="grace@example.com", name="Grace")
    setup = user.ok("POST", "/payment-links", {"mode": "setup", "name": "Card on file"}, key=user.test_api_key)
    token = new_session(uow_factory, settings, setup)
    assert pay(deps, token, email="GRACE@example.com", card="5555555555554444").completed  # the same customer
    with uow_factory() as uow:
        customer_id = uow.session.get(Payment, payment_id).customer_id
    listed = browser.get("/dashboard/customers").text
    assert f'href="/dashboard/customers/{customer_id}">grace@example.com<' in listed
    page = browser.get(f"/dashboard/customers/{customer_id}").text
    assert "Grace" in page and "grace@example.com" in page
    assert f'data-payment="{payment_id}"' in page and "50.00 EUR" in page
    cards = re.search(r'<table id="cards">(.*?)</table>', page, re.S).group(1)
    assert "Mastercard •••• 4444" in cards and "12/2034" in cards
    assert "4242" not in cards  # a one-time payment's card is not saved

    session_page = browser.get(f"/dashboard/checkout-sessions/{session_of(uow_factory, token).id}").text
    assert "Saved card: Mastercard •••• 4444" in session_page and "No payment was needed." in session_page


def test_the_session_page_shows_its_customer_and_payment(browser, user, deps, uow_factory, settings):
    link = sell_link(user)
    session_id, payment_id = paid(deps, uow_factory, settings, link, email="ada@example.com")
    waiting = new_session(uow_factory, settings, link)
    with uow_factory() as uow:
        payment = uow.session.get(Payment, payment_id)
        customer_id, reference = payment.customer_id, payment.processor_reference
    page = browser.get(f"/dashboard/checkout-sessions/{session_id}").text
    customer = re.search(r'<div class="card" id="session-customer">(.*?)</div>', page, re.S).group(1)
    assert f'<a href="/dashboard/customers/{customer_id}">ada@example.com</a>' in customer
    shown = re.search(r'<div class="card" id="session-payment">(.*?)</div>', page, re.S).group(1)
    assert '<span class="badge succeeded">succeeded</span>' in shown
    assert f'<a href="/dashboard/payments/{payment_id}">50.00 EUR</a>' in shown and reference in shown

    page = browser.get(f"/dashboard/checkout-sessions/{session_of(uow_factory, waiting).id}").text
    assert "Not known yet: the customer gives an email when they pay." in page and "Not paid." in page

    listed = browser.get("/dashboard/checkout-sessions").text
    row = re.search(rf'<a class="mono" href="/dashboard/checkout-sessions/{session_id}">.*?</tr>', listed,
                    re.S).group(0)
    assert "ada@example.com" in row


def test_the_link_page_shows_revenue_less_refunds(browser, user, deps, uow_factory, settings):
    link = sell_link(user, 1999, "USD")
    page = browser.get(f"/dashboard/payment-links/{link['id']}").text
    assert "Nothing paid yet." in re.search(r'id="revenue">(.*?)</div>\s*</div>', page, re.S).group(1)

    _, first = paid(deps, uow_factory, settings, link)
    paid(deps, uow_factory, settings, link, email="bob@example.com")
    declined(deps, uow_factory, settings, link)  # not counted
    new_session(uow_factory, settings, link)  # open, unpaid: not counted
    paid(deps, uow_factory, settings, sell_link(user, 700, "USD", "Other"))  # another link's: not counted
    confirm(browser, first, ask_refund(browser, first, amount="10.00", reason=""))

    page = browser.get(f"/dashboard/payment-links/{link['id']}").text
    revenue = re.search(r'id="revenue">(.*?)</div>\s*</div>', page, re.S).group(1)
    assert re.search(r'data-currency="USD">29.98 USD<', revenue)
    assert "39.98 USD paid, 10.00 USD refunded" in revenue
    assert re.search(r'id="count-completed">2<', page)  # beside the counts

    # Per currency, in one list ordered by code (a payment in another currency, as a stored row).
    with uow_factory() as uow:
        uow.session.get(Payment, first).currency = "EUR"
        uow.commit()
    with uow_factory() as uow:
        assert payment_records.link_revenue(uow, Owner(user.account_id, False), link["id"]) == [
            payment_records.Revenue("EUR", 1999, 1000), payment_records.Revenue("USD", 1999, 0)]
        assert payment_records.link_revenue(uow, Owner(user.account_id, True), link["id"]) == []


# ---- Settings → Processor ---------------------------------------------------------------------

STRIPE_TEST = {"processor": "stripe", "publishable_key": "pk_test_fakefakefake0000pk01",
               "secret_key": "sk_test_fakefakefake0000p7dc", "webhook_secret": "whsec_5x6y7z8w9v0u"}
PROCESSOR = "/dashboard/settings/processor"


def test_processor_page_in_test_mode_shows_the_built_in_processor_and_chooses(browser, user, deps, uow_factory):
    page = browser.get(PROCESSOR)
    assert page.status_code == 200
    assert "Test processor (built in)" in page.text and "Not taking payments yet" not in page.text
    assert 'href="/dashboard/settings" class="current">Settings<' in page.text and ">Processor</a>" in page.text
    assert browser.get("/dashboard/settings").headers["location"] == "/dashboard/settings/account"

    saved = browser.submit(PROCESSOR, STRIPE_TEST)
    assert saved.status_code == 303
    page = browser.get(saved.headers["location"]).text
    assert "sk_test_…p7dc" in page and ">…9v0u<" in page and "pk_test_fakefakefake0000pk01" in page
    assert STRIPE_TEST["secret_key"] not in page and STRIPE_TEST["webhook_secret"] not in page
    owner = Owner(user.account_id, False)
    with uow_factory() as uow:
        assert processors.choice(uow, owner, deps.processors.box).processor == "stripe"
        # The warning says what the hosted checkout does: no payments without a connector.
        assert ("Not taking payments yet" in page) == (deps.processors.for_owner(uow, owner) is None)

    assert browser.submit(PROCESSOR, {"processor": "test", "secret_key": "ignored"}).status_code == 303
    page = browser.get(PROCESSOR).text
    assert "Test processor (built in)" in page and "sk_test_…p7dc" not in page
    with uow_factory() as uow:
        assert processors.choice(uow, owner, deps.processors.box).processor == "test"


@pytest.mark.parametrize("form, field, message", [
    ({"processor": ""}, "processor", "processor must be test or stripe"),
    ({"processor": "paypal"}, "processor", "processor must be test or stripe"),
    ({**STRIPE_TEST, "secret_key": ""}, "secret_key", "secret key must not be empty"),
    ({**STRIPE_TEST, "secret_key": "sk_live_fakefakefake0000p7dc"}, "secret_key",
     "this is a test-mode setting: use your Stripe test secret key"),
    ({**STRIPE_TEST, "secret_key": "pk_test_oops"}, "secret_key",
     "secret key must be a Stripe key: sk_live_ or sk_test_ or rk_live_ or rk_test_ and at least 8 more characters, no spaces"),
    ({**STRIPE_TEST, "publishable_key": "sk_test_oops"}, "publishable_key",
     "publishable key must be a Stripe key: pk_live_ or pk_test_ and at least 8 more characters, no spaces"),
    ({**STRIPE_TEST, "webhook_secret": "secret"}, "webhook_secret",
     "webhook signing secret must be a Stripe key: whsec_ and at least 8 more characters, no spaces"),
])
def test_processor_form_errors_sit_next_to_their_field(browser, user, deps, uow_factory, form, field, message):
    refused = browser.submit(PROCESSOR, form)
    assert refused.status_code == 400
    assert error_next_to(refused.text, field) == message, refused.text
    assert STRIPE_TEST["secret_key"] not in refused.text  # secrets are never sent back
    with uow_factory() as uow:
        assert processors.choice(uow, Owner(user.account_id, False), deps.processors.box).processor == "test"


def test_processor_page_in_live_mode_warns_until_stripe_is_chosen(browser, user, deps, uow_factory):
    browser.submit(PROCESSOR, {"livemode": "true", "next": PROCESSOR}, action="/dashboard/mode")
    page = browser.get(PROCESSOR).text
    assert "Not taking payments yet" in page and 'value="test"' not in page
    refused = browser.submit(PROCESSOR, {"processor": "test"})
    assert refused.status_code == 400
    assert error_next_to(refused.text, "processor") == \
        "The test processor takes no real money: choose stripe for live mode."
    refused = browser.submit(PROCESSOR, STRIPE_TEST)
    assert error_next_to(refused.text, "secret_key") == "this is a live-mode setting: use your Stripe live secret key"
    live = {**STRIPE_TEST, "secret_key": "sk_live_51Hx0000abcd9876", "publishable_key": "pk_live_51Hx0000wxyz"}
    assert browser.submit(PROCESSOR, live).status_code == 303
    page = browser.get(PROCESSOR).text
    assert "sk_live_…9876" in page and "pk_live_51Hx0000wxyz" in page and live["secret_key"] not in page
    with uow_factory() as uow:
        assert processors.choice(uow, Owner(user.account_id, True), deps.processors.box).processor == "stripe"
        assert processors.choice(uow, Owner(user.account_id, False), deps.processors.box).processor == "test"
