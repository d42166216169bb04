"""The merchant's payments API (SPEC 7): payments (filters, cursor pages, refunds inlined) and a
customer's saved cards. Real payments, made by our pay flow through the
built-in test processor, on real PostgreSQL and Redis, through the Falcon test client."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from domain import checkout_sessions, payment_records
from domain.checkout_tokens import new_checkout_token
from domain.ids import new_id
from domain.models import Payment
from domain.queries import Owner
from tests.conftest import find_share_link, make_merchant, pay_session

PAYMENT_FIELDS = {"id", "object", "checkout_session_id", "customer_id", "amount_atom", "currency", "status",
                  "failure_code", "failure_message", "payment_method_id", "payment_method_details", "processor",
                  "processor_reference", "amount_refunded_atom", "refunds", "livemode", "created_at", "updated_at"}
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
    assert shop.get(f"/payments/{paid['id']}", key=other_merchant.test_api_key).status_code == 404


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
