"""docs/stripe.md walked step by step against localstripe, over real HTTP: the keys set with the
request of section 1 (read from the doc itself), the webhook endpoint of section 3 (its URL and
events read from the doc) registered at localstripe with the webhook secret, a customer paying
with a card that needs 3-D Secure and never coming back to the checkout, and localstripe's own
signed payment_intent.succeeded, delivered to the documented URL, completing the checkout."""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from domain import checkout_sessions
from domain.ids import random_base62
from domain.models import Payment, ProcessorEvent
from tests.conftest import make_merchant, wait_for
from tests.e2e.conftest import serve
from tests.integration.test_checkout_page import FORM, make_link, open_session
from tests.stripe_connector.test_against_localstripe import intent_of

DOC = (Path(__file__).parents[2] / "docs" / "stripe.md").read_text()
KEYS = {"sk_test_": "sk_test_docwalk0123456789abcd", "pk_test_": "pk_test_docwalk0123456789abcd",
        "whsec_": "whsec_docwalk0123456789abcd"}


def documented_processor_request() -> tuple[str, str, dict]:
    """Section 1's curl: its method, path (account id left as `acct_…`) and body, each `…`
    filled in with a key of that shape."""
    curl = re.search(r"curl -X (\w+) https://pay\.example\.com(\S+) \\.*?-d '(\{.*?\})'", DOC, re.DOTALL)
    assert curl, "docs/stripe.md no longer shows how to set the keys"
    body = {name: next((key for prefix, key in KEYS.items() if value == prefix + "…"), value)
            for name, value in json.loads(curl.group(3)).items()}
    return curl.group(1), curl.group(2), body


def documented_webhook() -> tuple[str, list[str]]:
    """Section 3's endpoint: its URL path (with `{account_id}` and `{mode}`) and its events."""
    section = DOC.split("## 3. The webhook", 1)[1]
    path = re.search(r"URL: `https://<your PaymentKit address>(/\S+)`", section).group(1)
    events = re.search(r"- events: (.*?)\.\n", section, re.DOTALL).group(1)
    return path, re.findall(r"`([a-z_]+\.[a-z_]+)`", events)


def call(method: str, url: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, body, headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


@pytest.fixture
def served(settings, deps, localstripe):
    """The app over HTTP on loopback, its stripe connector at localstripe (STRIPE_API_BASE)."""
    yield from serve(settings, deps, stripe_api_base=localstripe.base_url,
                     stripe_js_url=f"{localstripe.base_url}/js.stripe.com/v3/")


@pytest.fixture
def endpoint_at_localstripe(localstripe):
    """Registers a webhook endpoint at localstripe under a name of its own; afterwards it takes
    no event (localstripe keeps its endpoints for the whole run)."""
    name = f"docwalk{random_base62(8)}"

    def register(url: str, events: list[str], secret: str) -> None:
        localstripe.request("POST", f"/_config/webhooks/{name}",
                            json_body={"url": url, "secret": secret, "events": events})

    yield register
    localstripe.request("POST", f"/_config/webhooks/{name}",
                        json_body={"url": "http://127.0.0.1:9/", "secret": "whsec_none", "events": []})


def test_a_merchant_connects_stripe_as_docs_stripe_md_says_and_its_webhook_completes_a_checkout(
        client, uow_factory, settings, served, localstripe, endpoint_at_localstripe, celery_worker):
    merchant = make_merchant(client, uow_factory).in_test_mode()
    test_key = {"Authorization": f"Bearer {merchant.test_api_key}"}

    # Section 1: the keys, with the PaymentKit test key, exactly as the curl sends them.
    method, path, body = documented_processor_request()
    assert (method, path, set(body)) == ("PUT", "/api/acct_…/processor",
                                         {"processor", "secret_key", "publishable_key", "webhook_secret"})
    url = served + path.replace("acct_…", merchant.account_id)
    status, answer = call(method, url, json.dumps(body).encode(), {**test_key, "Content-Type": "application/json"})
    assert status == 200, answer
    status, shown = call("GET", url, headers=test_key)
    shown = json.loads(shown)
    assert (status, shown["processor"], shown["secret_key"]) == (200, "stripe", "sk_test_…abcd")
    assert KEYS["sk_test_"] not in json.dumps(shown) and KEYS["whsec_"] not in json.dumps(shown)

    # Section 3: the endpoint at "Stripe", the documented URL for this account and test mode.
    hook_path, events = documented_webhook()
    assert "payment_intent.succeeded" in events and "refund.updated" in events
    hook_url = served + hook_path.format(account_id=merchant.account_id, mode="test")
    endpoint_at_localstripe(hook_url, events, body["webhook_secret"])

    # Pay with the 3-D Secure card; the customer authenticates at Stripe and never comes back.
    token = open_session(uow_factory, settings, make_link(merchant))
    form = urllib.parse.urlencode({"email": "ada@example.com",
                                   "payment_method": localstripe.payment_method("4000002500003155")})
    status, _ = call("POST", f"{served}/checkout/{token}/pay", form.encode(), FORM)
    assert status == 200  # the confirmation page, after the redirect
    with uow_factory() as uow:
        payment = uow.session.get(Payment, checkout_sessions.find_by_token(uow, token).payment_id)
        payment_id, state = payment.id, payment.status
    assert state == "requires_action"
    intent = intent_of(localstripe, payment_id)
    localstripe.authenticate_payment(intent["client_secret"], success=True)

    # localstripe signs payment_intent.succeeded with the endpoint's secret and posts it to us.
    # (It posts every event it makes to every endpoint, about 1 s late: an earlier test's may come
    # too, and is kept and ignored, not being of this account's payments.)
    def applied():
        with uow_factory() as uow:
            rows = uow.session.scalars(select(ProcessorEvent).where(
                ProcessorEvent.account_id == merchant.account_id, ProcessorEvent.type == "payment_intent.succeeded",
                ProcessorEvent.applied_at.is_not(None)))
            return [row.outcome for row in rows if row.payload["data"]["object"]["id"] == intent["id"]]

    assert wait_for(applied, timeout=30) == ["completed"]  # the notification completed the checkout
    with uow_factory() as uow:
        payment = uow.session.get(Payment, payment_id)
        assert (payment.status, payment.processor, payment.processor_reference) == ("succeeded", "stripe",
                                                                                      intent["id"])
        assert checkout_sessions.find_by_token(uow, token).status == "complete"
