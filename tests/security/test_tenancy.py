"""Every merchant endpoint of the OpenAPI document (so a new one is walked without anyone adding
it here), called on one account's objects with no key, a wrong key, another account's key and
the account's own key of the other mode: 401 or 404, never a byte of the objects, nothing changed.
"""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from domain.db import utcnow
from domain.ids import new_id
from domain.models import Invoice, Payment, PaymentMethod, Refund, Subscription, TestClock
from tests.conftest import wait_for

# The object an `{..._id}` path parameter names, by the collection before it in the path.
KINDS = {"products": "product", "prices": "price", "packages": "package", "coupons": "coupon",
         "customers": "customer", "payment-links": "link", "checkout-sessions": "session", "payments": "payment",
         "events": "event",
         "webhook-endpoints": "endpoint", "api-keys": "api_key", "subscriptions": "subscription", "invoices": "invoice",
         "test-clocks": "clock"}
# A valid body for each request shape a walked write may need (an unknown shape fails the walk:
# add its body here, so the new endpoint is walked with a request that would otherwise succeed).
BODIES = {
    "ActiveUpdate": {"active": False},
    "ProductUpdate": {"name": "Taken over", "active": False},
    "NamedUpdate": {"name": "Taken over", "active": False},
    "PaymentLinkUpdate": {"is_active": False, "name": "Taken over"},
    "ProductCreate": {"name": "Intruder"},
    "CustomerCreate": {"email": "intruder@example.com"},
    "CouponCreate": {"name": "Free", "percent_off": 100},
    "RefundCreate": {"amount_atom": 4242, "reason": "fraudulent"},
    "AccountUpdate": {"display_name": "Taken over", "support_email": "intruder@example.com"},
    "ProcessorChoose": {"processor": "stripe", "secret_key": "sk_live_IntruderSecret00", "publishable_key":
                        "pk_live_IntruderPublic00", "webhook_secret": "whsec_IntruderHook00"},
    "WebhookEndpointCreate": {"url": "https://intruder.example.test/", "enabled_events": ["*"]},
    "WebhookEndpointUpdate": {"url": "https://intruder.example.test/", "disabled": True},
    "RedeliverRequest": {"endpoint_id": "we_live_intruder000000000000"},
    "SubscriptionCancel": {"at_period_end": False},
    "TestClockAdvance": {"frozen_time": "2099-01-01T00:00:00Z"},
    "TestClockCreate": {"frozen_time": "2099-01-01T00:00:00Z"},
}
VICTIM_SECRET = "sk_live_VictimSecretKey9876"


@pytest.fixture
def victim(merchant, client, celery_worker, uow_factory):
    """One live account with one of everything, named so that a leak is easy to see."""
    product = merchant.ok("POST", "/products", {"name": "Victim widget", "metadata": {"secret": "victim-meta"}})
    price = merchant.price(4242, "USD", product_id=product["id"])
    package = merchant.ok("POST", "/packages", {"name": "Victim kit", "price_ids": [price["id"]]})
    coupon = merchant.ok("POST", "/coupons", {"name": "Victim coupon", "percent_off": 10})
    customer = merchant.ok("POST", "/customers", {"email": "victim@example.com", "name": "Victim Person"})
    link = merchant.ok("POST", "/payment-links", {"name": "Victim link", "line_items": [{"price_id": price["id"]}],
                                                  "customer_id": customer["id"], "coupon_id": coupon["id"]})
    opened = client.simulate_get(f"/api/pay/share/{link['secure_token']}", headers={"Accept": "application/json"},
                                 remote_addr="198.19.250.1")
    assert opened.status_code == 200, opened.text
    session_id = opened.json["checkout_session_id"]
    wait_for(lambda: merchant.get(f"/checkout-sessions/{session_id}").status_code == 200)
    payment_id = paid_and_refunded(uow_factory, merchant.account_id, session_id, customer["id"])
    subscription_id, invoice_id = subscribed(uow_factory, merchant.account_id, customer["id"], price["id"])
    clock_id = clocked(uow_factory, merchant.account_id)
    merchant.ok("PATCH", "/account", {"display_name": "Victim shop", "support_email": "victim@example.com"})
    merchant.ok("PUT", "/processor", {"processor": "stripe", "secret_key": VICTIM_SECRET,
                                      "publishable_key": "pk_live_VictimPublicKey", "webhook_secret": "whsec_VictimHook"})
    spare_key = merchant.ok("POST", "/api-keys", {"mode": "live"})  # never used, so nothing of it changes
    merchant.spare_key = spare_key["secret"]
    endpoint = merchant.ok("POST", "/webhook-endpoints", {"url": "https://victim.example.test/hooks",
                                                          "enabled_events": ["invoice.paid"]})
    objects = {"product": product, "price": price, "package": package, "coupon": coupon, "customer": customer,
               "link": link, "session": merchant.ok("GET", f"/checkout-sessions/{session_id}"),
               "payment": merchant.ok("GET", f"/payments/{payment_id}"),
               "event": merchant.ok("GET", "/events", query_string="type=customer.created")["data"][0],
               "endpoint": merchant.ok("GET", f"/webhook-endpoints/{endpoint['id']}"),
               "api_key": merchant.ok("GET", f"/api-keys/{spare_key['id']}"),
               "subscription": merchant.ok("GET", f"/subscriptions/{subscription_id}"),
               "invoice": merchant.ok("GET", f"/invoices/{invoice_id}"), "clock": merchant.ok("GET", f"/test-clocks/{clock_id}")}
    merchant.webhook_secret = endpoint["secret"]
    return merchant, objects


def paid_and_refunded(uow_factory, account_id: str, session_id: str, customer_id: str) -> str:
    """A live payment of the session (as a live processor would have taken it: live mode has none
    built in), partly refunded, and the customer's saved card; the payment's id."""
    now = utcnow()
    owned = {"account_id": account_id, "livemode": True, "created_at": now, "updated_at": now}
    payment = Payment(id=new_id("pay", True), **owned, checkout_session_id=session_id, customer_id=customer_id,
                      amount_atom=4242, currency="USD", status="succeeded", processor="stripe",
                      processor_reference="ch_VictimCharge", amount_refunded_atom=42,
                      card={"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034})
    with uow_factory() as uow:
        uow.session.add(payment)
        uow.session.flush()
        uow.session.add_all([
            Refund(id=new_id("re", True), **owned, payment_id=payment.id, amount_atom=42, currency="USD",
                   status="succeeded", reason="duplicate"),
            PaymentMethod(id=new_id("pm", True), **owned, customer_id=customer_id, type="card", card_brand="visa",
                          card_last4="4242", card_exp_month=12, card_exp_year=2034, processor="stripe",
                          processor_reference="pm_VictimCard"),
        ])
        uow.commit()
    return payment.id


def subscribed(uow_factory, account_id: str, customer_id: str, price_id: str) -> tuple[str, str]:
    """A live subscription of the customer and its paid invoice (as a live checkout would have made them)."""
    now = utcnow()
    owned = {"account_id": account_id, "livemode": True, "created_at": now, "updated_at": now}
    subscription = Subscription(
        id=new_id("sub", True), **owned, customer_id=customer_id, checkout_session_id=None, payment_link_id=None,
        status="active", items=[{"price_id": price_id, "quantity": 1, "description": None, "unit_amount_atom": 4242}],
        currency="USD", interval="month", interval_count=1, current_period_start=now,
        current_period_end=now + timedelta(days=30), trial_end=None, cancel_at_period_end=False, canceled_at=None,
        default_payment_method_id=None, latest_invoice_id=None, coupon_id=None, coupon=None,
        next_billing_at=now + timedelta(days=30))
    invoice = Invoice(id=new_id("in", True), **owned, subscription_id=subscription.id, customer_id=customer_id,
                      period_start=now, period_end=now + timedelta(days=30),
                      lines=[{"price_id": price_id, "description": None, "quantity": 1, "unit_amount_atom": 4242,
                              "currency": "USD", "amount_atom": 4242}], currency="USD", amount_subtotal_atom=4242,
                      amount_discount_atom=0, amount_total_atom=4242, status="paid", attempt_count=1,
                      next_attempt_at=None, payment_id=None, paid_at=now)
    with uow_factory() as uow:
        uow.session.add_all([subscription, invoice])
        uow.commit()
    return subscription.id, invoice.id


def clocked(uow_factory, account_id: str) -> str:
    """A clock of the victim's live objects (the API makes test-mode ones only: the walk's objects are
    all live, so that each one's other-mode key finds nothing)."""
    now = utcnow()
    clock = TestClock(id=new_id("clock", True), account_id=account_id, livemode=True, created_at=now, updated_at=now,
                      name="Victim clock", frozen_time=now, status="ready")
    with uow_factory() as uow:
        uow.session.add(clock)
        uow.commit()
    return clock.id


def settings_of(merchant) -> dict:
    """The account and its live processor, as its owner reads them."""
    return {"account": merchant.ok("GET", "/account"), "processor": merchant.ok("GET", "/processor")}


def secrets_of(objects: dict) -> list[str]:
    """Strings that appear only in the victim's objects."""
    link, session = objects["link"], objects["session"]
    found = [o["id"] for o in objects.values()]
    found += [link["secure_token"], session["checkout_url"].rsplit("/", 1)[-1], "Victim", "victim-meta",
              "victim@example.com", "4242", objects["payment"]["refunds"][0]["id"], VICTIM_SECRET[-4:], "victim.example.test"]
    return found


def merchant_operations(client) -> list[tuple[str, str, dict]]:
    document = client.simulate_get("/openapi.json").json
    operations = [(method.upper(), path, operation) for path, methods in document["paths"].items()
                  for method, operation in methods.items() if operation.get("security")]
    assert len(operations) >= 20, "the document lists fewer merchant operations than the API has"
    return operations


def concrete(path: str, account_id: str, objects: dict) -> str:
    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name == "account_id":
            return account_id
        collection = path[:match.start()].rstrip("/").rsplit("/", 1)[-1]
        assert collection in KINDS, f"{path}: which object does {{{name}}} name? Add {collection!r} to KINDS"
        return objects[KINDS[collection]]["id"]

    return re.sub(r"\{([^}]+)\}", fill, path)


def body_for(operation: dict) -> dict | None:
    if "requestBody" not in operation:
        return None
    name = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    return BODIES.get(name, {})


def call(client, method: str, url: str, key: str | None, body: dict | None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    result = client.simulate_request(method, url, headers=headers, json=body)
    result.sent = url + json.dumps(body) + (key or "")
    return result


def assert_refused(result, statuses: set[int], leaks: list[str], what: str) -> None:
    assert result.status_code in statuses, (what, result.status, result.text[:300])
    error = json.loads(result.text)["error"]
    assert set(error) == {"type", "code", "message", "param"}, what
    for secret in leaks:
        if secret not in result.sent:  # "No such product: 'prod_...'" repeats what the caller sent
            assert secret not in result.text, f"{what}: the answer shows {secret!r}"


def test_every_merchant_endpoint_keeps_its_account_and_mode(client, victim, other_merchant):
    merchant, objects = victim
    leaks = secrets_of(objects) + [merchant.webhook_secret, merchant.spare_key]
    settings_before = settings_of(merchant)
    own = f"/api/{merchant.account_id}"
    for method, path, operation in merchant_operations(client):
        url = concrete(path, merchant.account_id, objects)
        body = body_for(operation)
        if method in ("POST", "PATCH", "PUT") and body == {} and operation["requestBody"].get("required"):
            name = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert method == "POST" and not path.endswith("}"), f"{method} {path}: add a body for {name} to BODIES"
        what = f"{method} {path}"
        # (a) no key, (b) a key that is no key at all, and a test key of nobody
        assert_refused(call(client, method, url, None, body), {401}, leaks, f"{what} without a key")
        for wrong in ("sk_live_" + "A" * 32, merchant.api_key[:-1] + ("a" if merchant.api_key[-1] != "a" else "b"),
                      "sk_test_" + merchant.api_key[8:], objects["link"]["secure_token"]):
            assert_refused(call(client, method, url, wrong, body), {401}, leaks, f"{what} with a wrong key")
        # (c) another account's keys, on this account's URL
        for key in (other_merchant.api_key, other_merchant.test_api_key):
            assert_refused(call(client, method, url, key, body), {404}, leaks, f"{what} with another account's key")
        # (c') another account's key on its own URL, naming this account's objects
        foreign_url = url.replace(own, f"/api/{other_merchant.account_id}", 1)
        if path.rstrip("/").endswith("}"):
            assert_refused(call(client, method, foreign_url, other_merchant.api_key, body), {404}, leaks,
                           f"{what} naming another account's object")
        # (d) this account's test key on its live objects
        if path.rstrip("/").endswith("}") or "/{" in path.split("{account_id}", 1)[1]:
            assert_refused(call(client, method, url, merchant.test_api_key, body), {404}, leaks,
                           f"{what} with the other mode's key")
        elif method == "GET":
            listed = call(client, method, url, merchant.test_api_key, None)
            assert listed.status_code == 200, (what, listed.text)
            if listed.json["object"] == "list":
                # (the account's own test keys are test objects: /api-keys lists them to the test key)
                live = [item for item in listed.json["data"] if item.get("livemode") is not False]
                assert live == [], f"{what}: the test key lists live objects"
            else:  # one object of the account: the account itself (one for both modes), or the test mode's own
                assert listed.json.get("livemode") is not True, f"{what}: the test key reads live settings"
                for secret in ("VictimSecret", "VictimPublic", "VictimHook", VICTIM_SECRET[-4:]):
                    assert secret not in listed.text, f"{what}: the test key reads live keys"
    # Nothing the walk sent changed anything.
    for kind, before in objects.items():
        path = {"link": "payment-links", "session": "checkout-sessions", "endpoint": "webhook-endpoints",
                "api_key": "api-keys", "clock": "test-clocks"}.get(
            kind, kind + "s")
        after = merchant.ok("GET", f"/{path}/{before['id']}")
        assert after == before, f"the {kind} changed during the walk"
    assert settings_of(merchant) == settings_before, "the account or its processor changed during the walk"
