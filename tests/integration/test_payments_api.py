"""The merchant's payments API (SPEC 7): payments (filters, cursor pages, refunds inlined),
refunding one through its processor (partial, full, never more; `Idempotency-Key` replays the
first refund), and a customer's saved cards. Real payments, made by our pay flow through the
built-in test processor, on real PostgreSQL and Redis, through the Falcon test client."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select

from domain import checkout_sessions, payment_records
from domain.checkout_tokens import new_checkout_token
from domain.ids import new_id
from domain.models import IdempotencyKey, Payment, Refund
from domain.queries import Owner
from tests.conftest import find_share_link, make_merchant, pay_session

PAYMENT_FIELDS = {"id", "object", "checkout_session_id", "customer_id", "amount_atom", "currency", "status",
                  "failure_code", "failure_message", "payment_method_id", "payment_method_details", "processor",
                  "processor_reference", "amount_refunded_atom", "invoice_id", "refunds", "livemode", "created_at",
                  "updated_at"}
REFUND_FIELDS = {"id", "object", "payment_id", "amount_atom", "currency", "status", "reason", "failure_code",
                 "livemode", "created_at", "updated_at"}
VISA, MASTERCARD, DECLINED = "4242424242424242", "5555555555554444", "4000000000000002"


@pytest.fixture
def shop(client, uow_factory):
    """A merchant talking with its test key: test mode pays through the built-in test processor."""
    return make_merchant(client, uow_factory).in_test_mode()


def checkout(shop, uow_factory, settings, deps, amount=5000, currency="EUR", *, card=VISA,
             email="buyer@example.com", mode="payment") -> str:
    """A checkout session of a new link, paid at the hosted checkout; the session's id."""
    body = {"mode": mode} if mode == "setup" else {"line_items": [{"price_id": shop.price(amount, currency)["id"]}]}
    link = shop.ok("POST", "/payment-links", body)
    token = new_checkout_token(settings.secret_key, datetime.now(UTC))
    with uow_factory() as uow:
        found = find_share_link(uow.session.get_bind(), link["secure_token"])
        session_id = new_id("cs", False)
        checkout_sessions.store(uow, checkout_sessions.new_session(found, session_id=session_id,
                                                                   checkout_token=token, now=datetime.now(UTC)))
        uow.commit()
    pay_session(deps, token, card=card, email=email)
    return session_id


def payment_of(shop, session_id: str) -> dict:
    [found] = shop.ok("GET", f"/payments?checkout_session_id={session_id}")["data"]
    return found


@pytest.fixture
def paid(shop, uow_factory, settings, deps) -> dict:
    """A payment of 50.00 EUR that succeeded, as the API shows it."""
    return payment_of(shop, checkout(shop, uow_factory, settings, deps))


def refund(shop, payment: dict, body=None, **kw):
    return shop.post(f"/payments/{payment['id']}/refunds", json={} if body is None else body, **kw)


def validator(client, shape: str):
    import jsonschema_rs

    components = client.simulate_get("/openapi.json").json["components"]
    return jsonschema_rs.validator_for({"$ref": f"#/components/schemas/{shape}", "components": components},
                                       validate_formats=True)


# ---- reading payments -------------------------------------------------------------------------

def test_a_payment_reads_as_spec_7_says_with_its_card_but_never_the_number(shop, paid, client):
    assert set(paid) == PAYMENT_FIELDS
    assert paid["id"].startswith("pay_test_") and paid["object"] == "payment"
    assert paid["customer_id"].startswith("cus_test_") and paid["checkout_session_id"].startswith("cs_test_")
    assert (paid["amount_atom"], paid["currency"], paid["status"]) == (5000, "EUR", "succeeded")
    assert (paid["failure_code"], paid["failure_message"], paid["payment_method_id"]) == (None, None, None)
    assert paid["payment_method_details"] == {"type": "card", "card": {"brand": "visa", "last4": "4242",
                                                                       "exp_month": 12, "exp_year": 2034}}
    assert paid["processor"] == "test" and paid["processor_reference"]
    assert (paid["amount_refunded_atom"], paid["refunds"], paid["livemode"]) == (0, [], False)
    retrieved = shop.get(f"/payments/{paid['id']}")
    assert retrieved.status_code == 200 and retrieved.json == paid
    assert VISA not in retrieved.text and "123" not in str(paid["payment_method_details"])
    validator(client, "PaymentOut").validate(retrieved.json)


def test_a_declined_payment_says_why(shop, uow_factory, settings, deps):
    declined = payment_of(shop, checkout(shop, uow_factory, settings, deps, card=DECLINED))
    assert (declined["status"], declined["failure_code"]) == ("failed", "card_declined")
    assert declined["failure_message"] == "Your card was declined."
    assert DECLINED not in str(declined)


def test_a_payment_of_an_unknown_card_has_no_details(shop, paid, uow_factory):
    with uow_factory() as uow:
        uow.session.get(Payment, paid["id"]).card = None
        uow.commit()
    assert shop.ok("GET", f"/payments/{paid['id']}")["payment_method_details"] is None


def test_filters_by_session_customer_and_status(shop, uow_factory, settings, deps):
    ada = payment_of(shop, checkout(shop, uow_factory, settings, deps, email="ada@example.com"))
    bob = payment_of(shop, checkout(shop, uow_factory, settings, deps, email="bob@example.com", card=MASTERCARD))
    failed = payment_of(shop, checkout(shop, uow_factory, settings, deps, email="ada@example.com", card=DECLINED))

    def ids(query: str) -> list[str]:
        return [p["id"] for p in shop.ok("GET", f"/payments?{query}")["data"]]

    assert ids("") == [failed["id"], bob["id"], ada["id"]]
    assert ids(f"checkout_session_id={bob['checkout_session_id']}") == [bob["id"]]
    assert ids(f"customer_id={ada['customer_id']}") == [failed["id"], ada["id"]]
    assert ids("status=failed") == [failed["id"]]
    assert ids(f"status=succeeded&customer_id={ada['customer_id']}") == [ada["id"]]
    assert ids("status=requires_action") == []
    assert ids("checkout_session_id=cs_test_nosuchsession0000") == []
    for query, param in (("status=paid", "status"), ("customer=x", "customer"), ("customer_id=", "customer_id"),
                         ("limit=0", "limit"), ("starting_after=pay_test_nosuchpayment000", "starting_after")):
        result = shop.get("/payments", query_string=query)
        assert result.status_code == 400 and result.json["error"]["param"] == param, (query, result.text)


def test_pages_by_cursor_newest_first(shop, uow_factory, settings, deps):
    made = [payment_of(shop, checkout(shop, uow_factory, settings, deps))["id"] for _ in range(3)][::-1]
    first = shop.ok("GET", "/payments?limit=2")
    assert [p["id"] for p in first["data"]] == made[:2] and first["has_more"] is True
    rest = shop.ok("GET", f"/payments?limit=2&starting_after={made[1]}")
    assert [p["id"] for p in rest["data"]] == made[2:] and rest["has_more"] is False
    back = shop.ok("GET", f"/payments?limit=1&ending_before={made[2]}")
    assert [p["id"] for p in back["data"]] == [made[1]] and back["has_more"] is True


def test_a_page_loads_the_refunds_of_all_its_payments_in_one_query(shop, uow_factory, settings, deps):
    owner = Owner(shop.account_id, False)
    for _ in range(3):
        payment = payment_of(shop, checkout(shop, uow_factory, settings, deps))
        for amount in (100, 200):
            payment_records.refund(deps.units, owner, payment["id"], payment_records.NewRefund(amount),
                                   deps.processors.test_processor(), lambda: datetime.now(UTC))
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(deps.engine, "before_cursor_execute", seen)
    try:
        listed = shop.ok("GET", "/payments")
    finally:
        event.remove(deps.engine, "before_cursor_execute", seen)
    assert [[r["amount_atom"] for r in p["refunds"]] for p in listed["data"]] == [[100, 200]] * 3
    assert all(p["amount_refunded_atom"] == 300 for p in listed["data"])
    assert len([s for s in statements if "FROM refunds" in s]) == 1, statements


def test_another_account_and_the_other_mode_see_no_payment(shop, paid, other_merchant):
    for key in (other_merchant.test_api_key, shop.live_api_key):
        owner = other_merchant if key == other_merchant.test_api_key else shop
        assert owner.get(f"/payments/{paid['id']}", key=key).status_code == 404
        assert owner.ok("GET", "/payments", key=key)["data"] == []
        result = owner.post(f"/payments/{paid['id']}/refunds", json={}, key=key)
        assert result.status_code == 404 and result.json["error"]["code"] == "resource_missing"
    assert shop.get(f"/payments/{paid['id']}", key=other_merchant.test_api_key).status_code == 404
    assert shop.ok("GET", f"/payments/{paid['id']}")["amount_refunded_atom"] == 0


# ---- refunds ------------------------------------------------------------------------------------

def test_a_partial_then_a_full_refund_then_nothing_more(shop, paid, client):
    first = refund(shop, paid, {"amount_atom": 1250, "reason": "requested_by_customer"})
    assert first.status_code == 200, first.text
    assert set(first.json) == REFUND_FIELDS
    assert first.json["id"].startswith("re_test_") and first.json["object"] == "refund"
    assert (first.json["payment_id"], first.json["amount_atom"], first.json["currency"], first.json["status"],
            first.json["reason"], first.json["failure_code"], first.json["livemode"]) == \
        (paid["id"], 1250, "EUR", "succeeded", "requested_by_customer", None, False)
    validator(client, "RefundOut").validate(first.json)
    assert shop.ok("GET", f"/payments/{paid['id']}")["amount_refunded_atom"] == 1250

    rest = refund(shop, paid)  # no amount: all that is left
    assert rest.status_code == 200 and (rest.json["amount_atom"], rest.json["reason"]) == (3750, None)
    payment = shop.ok("GET", f"/payments/{paid['id']}")
    assert payment["amount_refunded_atom"] == 5000
    assert [r["id"] for r in payment["refunds"]] == [first.json["id"], rest.json["id"]]  # oldest first
    assert payment["refunds"][0] == first.json

    for body in ({"amount_atom": 1}, {}):
        over = refund(shop, paid, body)
        assert over.status_code == 400
        assert (over.json["error"]["param"], over.json["error"]["code"]) == ("amount_atom", "amount_too_large")
    assert shop.ok("GET", f"/payments/{paid['id']}")["amount_refunded_atom"] == 5000


def test_more_than_is_left_is_refused(shop, paid):
    assert refund(shop, paid, {"amount_atom": 4000}).status_code == 200
    over = refund(shop, paid, {"amount_atom": 1001})
    assert over.status_code == 400 and over.json["error"]["param"] == "amount_atom"
    assert "1000" in over.json["error"]["message"]
    assert refund(shop, paid, {"amount_atom": 1000}).status_code == 200


@pytest.mark.parametrize("body, param", [
    ({"amount_atom": 0}, "amount_atom"), ({"amount_atom": -5}, "amount_atom"), ({"amount_atom": "10"}, "amount_atom"),
    ({"amount_atom": 10.5}, "amount_atom"), ({"reason": "changed_my_mind"}, "reason"), ({"reason": ""}, "reason"),
    ({"amount_atom": 10, "currency": "EUR"}, "currency"),
])
def test_a_bad_refund_is_a_400_naming_its_field_and_refunds_nothing(shop, paid, uow_factory, body, param):
    result = refund(shop, paid, body)
    assert result.status_code == 400 and result.json["error"]["param"] == param, result.text
    with uow_factory() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Refund).where(Refund.payment_id == paid["id"])) == 0


@pytest.mark.parametrize("reason", ["requested_by_customer", "duplicate", "fraudulent"])
def test_each_reason_is_kept(shop, paid, reason):
    assert refund(shop, paid, {"amount_atom": 10, "reason": reason}).json["reason"] == reason


def test_a_payment_that_did_not_succeed_is_a_409(shop, uow_factory, settings, deps):
    declined = payment_of(shop, checkout(shop, uow_factory, settings, deps, card=DECLINED))
    result = refund(shop, declined)
    assert result.status_code == 409 and result.json["error"]["code"] == "payment_not_refundable"


def test_an_unknown_payment_is_a_404(shop):
    result = shop.post("/payments/pay_test_nosuchpayment0000/refunds", json={})
    assert result.status_code == 404 and result.json["error"]["code"] == "resource_missing"


def test_a_payment_is_refunded_by_the_processor_that_took_it(shop, paid, uow_factory):
    """After the mode switched to stripe, a test-processor payment is still refunded where it was
    paid; a payment whose processor's keys the account no longer has cannot be, and nothing is held."""
    from domain.models import Payment

    shop.ok("PUT", "/processor", {"processor": "stripe", "secret_key": "sk_test_51SecretValueXyZ",
                                  "publishable_key": "pk_test_51PublicValueQwE", "webhook_secret": "whsec_HookHook1"})
    assert refund(shop, paid, {"amount_atom": 100}).json["status"] == "succeeded"
    shop.ok("PUT", "/processor", {"processor": "test"})
    with uow_factory() as uow:  # as if taken through Stripe, whose keys are gone now
        uow.session.get(Payment, paid["id"]).processor = "stripe"
        uow.commit()
    refused = refund(shop, paid, {"amount_atom": 100})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "processor_unavailable"
    assert [r["amount_atom"] for r in shop.ok("GET", f"/payments/{paid['id']}")["refunds"]] == [100]


# ---- refunds and Idempotency-Key ------------------------------------------------------------

def keyed(key: str) -> dict:
    return {"headers": {"Idempotency-Key": key}}


def test_a_replay_returns_the_same_refund_and_refunds_once(shop, paid):
    first = refund(shop, paid, {"amount_atom": 700}, **keyed("refund-1"))
    again = refund(shop, paid, {"amount_atom": 700}, **keyed("refund-1"))
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert again.content == first.content and again.headers.get("idempotent-replayed") == "true"
    payment = shop.ok("GET", f"/payments/{paid['id']}")
    assert payment["amount_refunded_atom"] == 700 and [r["id"] for r in payment["refunds"]] == [first.json["id"]]
    other = refund(shop, paid, {"amount_atom": 800}, **keyed("refund-1"))
    assert other.status_code == 409 and other.json["error"]["code"] == "idempotency_key_reused"


def test_a_refused_refund_leaves_its_key_free(shop, paid, uow_factory):
    over = refund(shop, paid, {"amount_atom": 5001}, **keyed("refund-2"))
    assert over.status_code == 400
    again = refund(shop, paid, {"amount_atom": 5001}, **keyed("refund-2"))
    assert again.status_code == 400 and "idempotent-replayed" not in again.headers
    fixed = refund(shop, paid, {"amount_atom": 500}, **keyed("refund-2"))
    assert fixed.status_code == 200, fixed.text
    with uow_factory() as uow:
        stored = uow.session.scalars(select(IdempotencyKey).where(IdempotencyKey.account_id == shop.account_id)).one()
        assert (stored.status, stored.body) == (200, fixed.content)


def test_one_key_sent_at_once_refunds_once(shop, paid):
    def send(_):
        return refund(shop, paid, {"amount_atom": 900}, **keyed("refund-race"))

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(send, range(4)))
    made = [r for r in results if r.status_code == 200]
    assert made and all(r.content == made[0].content for r in made)
    for busy in (r for r in results if r.status_code != 200):
        assert busy.status_code == 409 and busy.json["error"]["code"] == "idempotency_key_in_use", busy.text
    payment = shop.ok("GET", f"/payments/{paid['id']}")
    assert payment["amount_refunded_atom"] == 900 and len(payment["refunds"]) == 1


@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": "refund-pool"}])
def test_the_request_holds_no_connection_while_the_processor_refunds(shop, paid, deps, monkeypatch, headers):
    seen = []

    class Watched:
        """The test processor, noting how many connections of the pool are out when it is called."""

        def __init__(self, inner):
            self._inner = inner

        def __getattr__(self, name):
            return getattr(self._inner, name)

        def refund(self, request):
            seen.append(deps.engine.pool.checkedout())
            return self._inner.refund(request)

    for_processor = deps.processors.for_processor
    monkeypatch.setattr(deps.processors, "for_processor",
                        lambda uow, owner, name: Watched(for_processor(uow, owner, name)))
    assert refund(shop, paid, {"amount_atom": 100}, headers=headers).status_code == 200
    assert seen == [0]


# ---- a customer's saved payment methods -----------------------------------------------------

def test_a_customers_saved_cards_newest_first(shop, uow_factory, settings, deps, client):
    checkout(shop, uow_factory, settings, deps, mode="setup", email="saver@example.com")
    checkout(shop, uow_factory, settings, deps, mode="setup", email="saver@example.com", card=MASTERCARD)
    [customer] = [c for c in shop.ok("GET", "/customers")["data"] if c["email"] == "saver@example.com"]
    listed = shop.get(f"/customers/{customer['id']}/payment-methods")
    assert listed.status_code == 200
    assert listed.json["object"] == "list" and listed.json["has_more"] is False
    validator(client, "PaymentMethodList").validate(listed.json)
    newest, oldest = listed.json["data"]
    assert set(newest) == {"id", "object", "customer_id", "type", "card", "processor", "livemode", "created_at"}
    assert newest["id"].startswith("pm_test_") and newest["object"] == "payment_method"
    assert (newest["customer_id"], newest["type"], newest["processor"], newest["livemode"]) == \
        (customer["id"], "card", "test", False)
    assert newest["card"] == {"brand": "mastercard", "last4": "4444", "exp_month": 12, "exp_year": 2034}
    assert oldest["card"]["last4"] == "4242" and oldest["created_at"] <= newest["created_at"]
    assert MASTERCARD not in listed.text and VISA not in listed.text


def test_a_customer_without_saved_cards_has_an_empty_list(shop):
    customer = shop.ok("POST", "/customers", {"email": "new@example.com"})
    assert shop.ok("GET", f"/customers/{customer['id']}/payment-methods")["data"] == []
    assert shop.get(f"/customers/{customer['id']}/payment-methods", query_string="limit=1").status_code == 400


def test_another_accounts_customer_or_the_other_modes_is_a_404(shop, other_merchant, uow_factory, settings, deps):
    checkout(shop, uow_factory, settings, deps, mode="setup", email="saver@example.com")
    [customer] = shop.ok("GET", "/customers")["data"]
    for caller in (other_merchant.in_test_mode(), shop):
        key = shop.live_api_key if caller is shop else None
        foreign = caller.get(f"/customers/{customer['id']}/payment-methods", key=key)
        assert foreign.status_code == 404 and foreign.json["error"]["code"] == "resource_missing"
    assert shop.get("/customers/cus_test_nosuchcustomer000/payment-methods").status_code == 404
