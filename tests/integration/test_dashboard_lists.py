"""The dashboard's lists say who and how much: sessions and payments with the customer's name and
email, filtered by link, with the list's totals; customers with their payments and total; a
customer's page with their sessions; a link's page with its 30-day funnel (chart and table)."""
from __future__ import annotations

import re

from tests.integration.test_dashboard import browser, user  # noqa: F401  (fixtures)
from tests.integration.test_dashboard_payments import new_session, paid, sell_link


def totals_of(text: str) -> str:
    found = re.search(r'<p class="totals" id="list-totals">(.*?)</p>', text, re.S)
    return " ".join(re.sub(r"<[^>]+>", "", found.group(1)).split())


def test_sessions_and_payments_filtered_by_link_with_customer_and_totals(browser, user, deps, uow_factory, settings):
    tea = sell_link(user, 5000, "EUR", "Tea tin")
    mug = sell_link(user, 1200, "EUR", "Mug")
    paid(deps, uow_factory, settings, tea, email="ada@example.com", name="Ada Lovelace")
    paid(deps, uow_factory, settings, tea, email="ada@example.com", name="Ada Lovelace")
    paid(deps, uow_factory, settings, mug, email="bob@example.com")
    new_session(uow_factory, settings, tea)  # open, unpaid

    everything = browser.get("/dashboard/checkout-sessions")
    assert totals_of(everything.text) == "4 sessions · 112.00 EUR paid, less refunds"
    of_tea = browser.get(f"/dashboard/checkout-sessions?payment_link_id={tea['id']}")
    assert totals_of(of_tea.text) == "3 sessions · 100.00 EUR paid, less refunds"
    assert "Ada Lovelace" in of_tea.text and "bob@example.com" not in of_tea.text
    assert f'<option value="{tea["id"]}" selected>Tea tin</option>' in of_tea.text
    open_tea = browser.get(f"/dashboard/checkout-sessions?payment_link_id={tea['id']}&status=open")
    assert totals_of(open_tea.text) == "1 session"

    payments = browser.get(f"/dashboard/payments?payment_link_id={mug['id']}")
    assert totals_of(payments.text) == "1 payment · 12.00 EUR paid, less refunds"
    assert "bob@example.com" in payments.text and "Ada Lovelace" not in payments.text
    assert totals_of(browser.get("/dashboard/payments").text) == "3 payments · 112.00 EUR paid, less refunds"


def test_customers_with_their_payments_and_a_customers_sessions(browser, user, deps, uow_factory, settings):
    tea = sell_link(user, 5000, "EUR", "Tea tin")
    session_id, _ = paid(deps, uow_factory, settings, tea, email="ada@example.com", name="Ada Lovelace")
    paid(deps, uow_factory, settings, tea, email="ada@example.com", name="Ada Lovelace")
    listing = browser.get("/dashboard/customers")
    assert "Ada Lovelace" in listing.text and 'data-payments="2"' in listing.text and "100.00 EUR" in listing.text
    customer_id = re.search(r'href="/dashboard/customers/(cus_[^"]+)"', listing.text).group(1)
    page = browser.get(f"/dashboard/customers/{customer_id}")
    assert page.status_code == 200
    assert re.search(r'id="customer-payments-count">2<', page.text) and "100.00 EUR" in page.text
    assert f'data-session="{session_id}"' in page.text


def test_the_link_page_shows_the_funnel_chart_and_table(browser, user, deps, uow_factory, settings):
    tea = sell_link(user, 5000, "EUR", "Tea tin")
    paid(deps, uow_factory, settings, tea)
    new_session(uow_factory, settings, tea)
    page = browser.get(f"/dashboard/payment-links/{tea['id']}")
    assert page.status_code == 200
    assert '<svg id="funnel-chart"' in page.text and 'role="img"' in page.text
    assert re.search(r'id="funnel-sessions">2<', page.text) and re.search(r'id="funnel-completed">1<', page.text)
    assert page.text.count('<rect class="bar sessions"') == 1 and page.text.count('<rect class="bar completed"') == 1
    assert page.text.count("<tr data-day=") == 30
    assert re.search(r'id="funnel-paid">50.00 EUR<', page.text)
