"""Receipts and notices by email: rendered (plain text and HTML, amounts and dates in the
customer's locale with Babel) and handed to the SMTP server of SMTP_URL."""
from __future__ import annotations

import smtplib
import ssl
from datetime import datetime
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime as babel_datetime
from babel.numbers import format_currency
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from domain.currencies import EXPONENTS
from domain.emails import ToSend

TIMEOUT_SECONDS = 10
_env = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
                   autoescape=select_autoescape(["html"]), undefined=StrictUndefined, trim_blocks=True,
                   lstrip_blocks=True, keep_trailing_newline=True)


def _locale(name: str) -> Locale:
    try:
        return Locale.parse(name)
    except (ValueError, UnknownLocaleError):
        return Locale.parse("en_US")


def money(amount_atom: int, currency: str, locale: Locale) -> str:
    """`1999, "EUR"` in de_DE -> `19,99 €`: the amount as a Decimal of the currency's exponent (no float)."""
    amount = Decimal(amount_atom).scaleb(-EXPONENTS[currency])
    return format_currency(amount, currency, locale=locale, currency_digits=True)


def render(item: ToSend) -> tuple[str, str, str]:
    """Subject, plain text and HTML of an email."""
    locale = _locale(item.locale)
    obj = item.event["object"]
    created = item.event["created_at"]
    context = {
        "merchant": item.merchant_name, "support_email": item.support_email, "object": obj,
        "session": item.session, "when": babel_datetime(created, "medium", tzinfo=created.tzinfo, locale=locale),
        "money": lambda atoms, currency: money(atoms, currency, locale),
    }
    if item.kind == "receipt":
        paid = obj["amount_atom"] if obj.get("object") != "invoice" else obj["amount_total_atom"]
        context["amount"] = money(paid, obj["currency"], locale)
        subject = f"Receipt from {item.merchant_name}: {context['amount']}"
    else:
        context["amount"] = money(obj["amount_total_atom"], obj["currency"], locale) if obj.get("currency") else ""
        subject = f"Checkout completed: {context['amount'] or obj['id']}"
    text = _env.get_template(f"{item.kind}.txt").render(**context)
    html = _env.get_template(f"{item.kind}.html").render(**context)
    return subject, text, html


def message(item: ToSend, sender: str, now: datetime) -> EmailMessage:
    subject, text, html = render(item)
    mail = EmailMessage()
    mail["Subject"] = subject
    mail["From"] = f"{item.merchant_name} <{sender}>" if "<" not in sender else sender
    mail["To"] = item.to_address
    if item.support_email and item.kind == "receipt":
        mail["Reply-To"] = item.support_email
    mail["Date"] = format_datetime(now)
    # One Message-ID per email row: a copy sent again after a crash is recognisably the same message.
    mail["Message-ID"] = make_msgid(idstring=item.email_id, domain=sender.rpartition("@")[2].strip("> ") or None)
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    return mail


def send(smtp_url: str, mail: EmailMessage) -> None:
    """Deliver through smtp://[user:password@]host[:port] (STARTTLS when offered) or smtps://."""
    parts = urlsplit(smtp_url)
    host, secure = parts.hostname or "localhost", parts.scheme == "smtps"
    port = parts.port or (465 if secure else 25)
    context = ssl.create_default_context()
    smtp = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT_SECONDS, context=context) if secure else \
        smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS)
    with smtp:
        if not secure:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(mail)
