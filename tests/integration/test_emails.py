"""Receipts and notices by email (SPEC 9), to a real SMTP server on loopback (aiosmtpd): one
receipt per payment in the customer's locale (plain text and HTML), a notice to the merchant's
support email per completed checkout, none for a failed payment or a rolled-back change, and
none twice however often the job runs."""
from __future__ import annotations

import email
import socket
import time
from dataclasses import replace
from email import policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from domain import checkout_payments, checkout_sessions
from domain.db import UnitOfWork, session_factory, utcnow
from domain.events import Outbox
from domain.models import Account, Email
from tests.conftest import make_merchant, wait_for
from tests.integration.test_paying import make_link, open_session
from workers import context
from workers.tasks import send_email

pytestmark = pytest.mark.usefixtures("celery_worker")
VISA, DECLINED = "4242424242424242", "4000000000000002"


class Inbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.url = ""

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def inbox(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Inbox()
    handler.url = f"smtp://127.0.0.1:{port}"
    server = Controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    context.use_settings(replace(settings, smtp_url=handler.url, email_from="receipts@shop.example"))
    yield handler
    context.use_settings(settings)
    server.stop()


@pytest.fixture
def units(deps):
    """Units of work of a process with SMTP_URL set: events owe emails."""
    factory = session_factory(deps.engine)
    outbox = Outbox(deps.outbox.urls, emails=True)
    return lambda: UnitOfWork(factory, deps.sender, outbox=outbox)


@pytest.fixture
def merchant(client, uow_factory):
    made = make_merchant(client, uow_factory).in_test_mode()
    with uow_factory() as uow:
        account = uow.session.get(Account, made.account_id)
        account.display_name, account.support_email = "Kaffeehaus", "owner@kaffee.example"
        uow.commit()
    return made


def pay(deps, units, token: str, card: str = VISA, email_address: str = "ada@example.com", locale="de_DE"):
    processor = deps.processors.test_processor()
    form = checkout_payments.PayForm(email=email_address, card=processor.read_card(card, "12/34", "123"),
                                     locale=locale)
    return checkout_payments.pay(units, token, form, processor, now=utcnow, return_url="https://x.example/r")


def emails_of(uow_factory, account_id: str) -> list[Email]:
    with uow_factory() as uow:
        found = list(uow.session.scalars(select(Email).where(Email.account_id == account_id)))
        uow.session.expunge_all()
        return found


def test_one_receipt_per_payment_in_the_customers_locale_and_a_notice_to_the_merchant(
        merchant, inbox, deps, units, uow_factory, settings):
    link = make_link(merchant, line_items=[{"price_id": merchant.price(1999, "EUR")["id"], "quantity": 2}])
    token = open_session(uow_factory, settings, link)
    assert pay(deps, units, token).completed
    wait_for(lambda: inbox.to("ada@example.com") and inbox.to("owner@kaffee.example"))
    [receipt] = inbox.to("ada@example.com")
    assert receipt["Subject"] == "Receipt from Kaffeehaus: 39,98\xa0€"
    assert receipt["Reply-To"] == "owner@kaffee.example" and "Kaffeehaus" in receipt["From"]
    text = receipt.get_body(("plain",)).get_content()
    html = receipt.get_body(("html",)).get_content()
    assert "2 x Widget (19,99\xa0€ each)  39,98\xa0€" in text and "Visa ending in 4242" in text
    assert "39,98\xa0€" in html and "<table" in html
    [notice] = inbox.to("owner@kaffee.example")
    with uow_factory() as uow:
        session_id = checkout_sessions.find_by_token(uow, token).id
    assert session_id in notice.get_body(("plain",)).get_content()
    [sent_receipt] = [e for e in emails_of(uow_factory, merchant.account_id) if e.kind == "receipt"]
    assert (sent_receipt.status, sent_receipt.attempts, sent_receipt.locale) == ("sent", 1, "de_DE")
    assert send_email(sent_receipt.id, 0) is None and send_email(sent_receipt.id, 1) is None  # run again
    time.sleep(0.5)
    assert len(inbox.to("ada@example.com")) == 1


def test_no_receipt_for_a_failed_payment(merchant, inbox, deps, units, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant))
    pay(deps, units, token, DECLINED, "declined@example.com")
    time.sleep(1.5)
    assert inbox.to("declined@example.com") == [] and inbox.to("owner@kaffee.example") == []
    assert emails_of(uow_factory, merchant.account_id) == []
    assert pay(deps, units, token, VISA, "declined@example.com").completed  # the retry that pays: one receipt
    wait_for(lambda: inbox.to("declined@example.com"))
    time.sleep(0.5)
    assert len(inbox.to("declined@example.com")) == 1


def test_no_email_for_a_change_that_rolled_back(merchant, inbox, deps, units, uow_factory, settings):
    token = open_session(uow_factory, settings, make_link(merchant))
    processor = deps.processors.test_processor()
    form = checkout_payments.PayForm(email="gone@example.com", card=processor.read_card(VISA, "12/34", "123"))
    with units() as uow:
        begun = checkout_payments.begin(uow, token, form, processor, utcnow())
        uow.commit()
    result = processor.charge(checkout_payments.ChargeRequest(begun.payment_id, begun.amount_atom, begun.currency,
                                                              "https://x.example/r", card=form.card))
    with units() as uow:
        checkout_payments.record_charge(uow, begun.session_id, begun.payment_id, result, utcnow())
        uow.rollback()
    time.sleep(1)
    assert inbox.messages == [] and emails_of(uow_factory, merchant.account_id) == []


def test_a_receipt_defaults_to_english_and_the_smtp_being_down_retries(merchant, inbox, deps, units, uow_factory,
                                                                      settings):
    context.use_settings(replace(settings, smtp_url="smtp://127.0.0.1:9", email_from="r@shop.example"))  # refused
    token = open_session(uow_factory, settings, make_link(merchant))
    pay(deps, units, token, locale=None)
    wait_for(lambda: any(e.kind == "receipt" and e.attempts == 1 for e in emails_of(uow_factory, merchant.account_id)))
    [receipt] = [e for e in emails_of(uow_factory, merchant.account_id) if e.kind == "receipt"]
    assert (receipt.status, receipt.locale) == ("pending", "en_US") and receipt.next_attempt_at > utcnow()
    context.use_settings(replace(settings, smtp_url=inbox.url, email_from="r@shop.example"))
    assert send_email(receipt.id, 1) is True
    [mail] = inbox.to("ada@example.com")
    assert "$19.99" in mail.get_body(("plain",)).get_content()


def test_a_paid_renewal_sends_one_receipt_for_its_invoice(merchant, inbox, deps, units, uow_factory, settings):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from domain import billing
    from domain.models import Invoice, Subscription

    link = make_link(merchant, mode="subscription",
                     line_items=[{"price_id": merchant.recurring_price(900, "EUR", product_id=merchant.product(
                         "Kaffee-Abo")["id"])["id"]}])
    token = open_session(uow_factory, settings, link)
    assert pay(deps, units, token, email_address="abo@example.com").completed
    wait_for(lambda: inbox.to("abo@example.com"))  # the checkout's receipt
    with uow_factory() as uow:
        sub_id = checkout_sessions.find_by_token(uow, token).subscription_id
        overdue = datetime.now(UTC) - timedelta(minutes=1)
        uow.session.execute(update(Subscription).where(Subscription.id == sub_id).values(
            current_period_end=overdue, next_billing_at=overdue))
        uow.commit()
    with units() as uow:
        billing.make_due_invoices(uow, datetime.now(UTC), limit=10_000)
        uow.commit()
    with uow_factory() as uow:
        invoice_id = uow.session.scalar(select(Invoice.id).where(Invoice.subscription_id == sub_id,
                                                                 Invoice.period_start == overdue))
    assert billing.charge(units, invoice_id, 0, deps.processors.for_processor, utcnow) == "succeeded"
    wait_for(lambda: len(inbox.to("abo@example.com")) == 2)
    renewal = inbox.to("abo@example.com")[1]
    assert renewal["Subject"] == "Receipt from Kaffeehaus: 9,00\xa0€"  # in the locale of the subscription's checkout
    text = renewal.get_body(("plain",)).get_content()
    assert f"Invoice {invoice_id}" in text and "1 x Kaffee-Abo (9,00\xa0€ each)  9,00\xa0€" in text
    time.sleep(0.5)
    assert len(inbox.to("abo@example.com")) == 2  # one for the renewal: its invoice, not also its payment
