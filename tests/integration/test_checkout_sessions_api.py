"""Merchant reads of checkout sessions, and expiring one by hand, with the effective status."""
from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from domain import checkout_sessions
from domain.checkout_payments import Step
from domain.ids import new_id
from domain.queries import Owner
from domain.models import CheckoutSession
from tests.conftest import make_merchant, pay_session, wait_for

SPEC_FIELDS = {
    "id", "object", "payment_link_id", "mode", "status", "line_items", "currency", "amount_subtotal_atom",
    "amount_discount_atom", "amount_total_atom", "customer_id", "coupon_id", "free_trial_days", "success_url",
    "return_url", "accepted_payment_methods", "allow_cart_edit", "checkout_url", "expires_at", "created_at",
    "completed_at", "expired_at", "livemode", "amount_due_today_atom",
    # SPEC 7: what paying adds
    "customer_email", "payment_id", "payment_method_id", "subscription_id", "payment_status",
}
T = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
ONE_S = timedelta(seconds=1)


def iso(moment: datetime) -> str:
    """How msgspec writes a UTC datetime."""
    return moment.isoformat().replace("+00:00", "Z")


def store_session(uow_factory, merchant, link_id: str, created_at: datetime, hours: int = 1) -> CheckoutSession:
    """A session as the creation worker stores it (the same `store`), at a chosen time."""
    snapshot = {
        "id": new_id("cs", False), "account_id": merchant.account_id, "livemode": False,
        "payment_link_id": link_id, "checkout_token": secrets.token_urlsafe(24), "mode": "payment",
        "status": "open", "currency": "USD",
        "line_items": [{"price_id": "price_x", "description": None, "quantity": 2, "unit_amount_atom": 500,
                        "currency": "USD", "type": "one_time", "interval": None, "interval_count": None,
                        "amount_atom": 1000}],
        "amount_subtotal_atom": 1000, "amount_discount_atom": 0, "amount_total_atom": 1000,
        "amount_due_today_atom": 1000, "customer_id": None, "coupon_id": None, "coupon": None,
        "free_trial_days": None, "success_url": "https://shop.example/ok", "return_url": None,
        "accepted_payment_methods": None, "allow_cart_edit": False,
        "created_at": created_at.isoformat(), "updated_at": created_at.isoformat(),
        "expires_at": (created_at + timedelta(hours=hours)).isoformat(),
    }
    with uow_factory() as uow:
        assert checkout_sessions.store(uow, snapshot)
        uow.commit()
    return _stored(uow_factory, snapshot["id"])


@pytest.fixture
def merchant(client, uow_factory):
    """Test mode: its sessions can be paid (the built-in test processor)."""
    return make_merchant(client, uow_factory).in_test_mode()


@pytest.fixture
def other_merchant(client, uow_factory):
    return make_merchant(client, uow_factory).in_test_mode()


@pytest.fixture
def link(merchant):
    price = merchant.price(1999, "USD")
    return merchant.ok("POST", "/payment-links", {
        "line_items": [{"price_id": price["id"], "quantity": 2}], "expires_in_hours": 2,
        "success_url": "https://shop.example/thanks",
    })


def share(client, link: dict, ip: str) -> dict:
    result = client.simulate_get(f"/api/pay/share/{link['secure_token']}", headers={"Accept": "application/json"},
                                 remote_addr=ip)
    assert result.status_code == 200, result.text
    return result.json


def test_a_session_is_open_until_expires_at_and_expired_from_then_for_every_reader(client, merchant, link,
                                                                                 uow_factory, celery_worker, deps):
    with freeze_time(T):
        made = [share(client, link, "10.77.0.1"), share(client, link, "10.77.0.2")]
    ids = [m["checkout_session_id"] for m in made]
    sessions = [wait_for(lambda i=i: _stored(uow_factory, i)) for i in ids]
    expires_at = T + timedelta(hours=2)
    assert all(s.created_at == T and s.expires_at == expires_at for s in sessions)

    def readers(moment: datetime) -> tuple[str, str, list[str], list[str]]:
        with freeze_time(moment):
            one = merchant.ok("GET", f"/checkout-sessions/{ids[0]}")
            open_ids = [s["id"] for s in merchant.ok("GET", f"/checkout-sessions?payment_link_id={link['id']}"
                                                            f"&status=open")["data"]]
            expired_ids = [s["id"] for s in merchant.ok("GET", f"/checkout-sessions?payment_link_id={link['id']}"
                                                               f"&status=expired")["data"]]
        return one["status"], one["expired_at"], open_ids, expired_ids

    status, expired_at, open_ids, expired_ids = readers(expires_at - ONE_S)
    assert (status, expired_at) == ("open", None)
    assert set(open_ids) == set(ids) and expired_ids == []
    assert checkout_sessions.effective_status(sessions[0], expires_at - ONE_S) == "open"

    status, expired_at, open_ids, expired_ids = readers(expires_at)
    assert (status, expired_at) == ("expired", iso(expires_at))
    assert open_ids == [] and set(expired_ids) == set(ids)
    assert checkout_sessions.effective_status(sessions[0], expires_at) == "expired"

    # Pay: refused from expires_at on, accepted one second before it.
    assert pay_session(deps, sessions[0].checkout_token, expires_at).step is Step.NOT_OPEN
    assert pay_session(deps, sessions[1].checkout_token, expires_at - ONE_S).completed
    with freeze_time(expires_at + timedelta(days=1)):
        assert merchant.ok("GET", f"/checkout-sessions/{ids[1]}")["status"] == "complete"
        assert merchant.ok("GET", f"/checkout-sessions/{ids[0]}")["status"] == "expired"


def _stored(uow_factory, session_id: str) -> CheckoutSession | None:
    with uow_factory() as uow:
        found = uow.session.get(CheckoutSession, session_id)
        if found is not None:
            uow.session.expunge(found)
        return found


def test_retrieve_shows_every_field_of_the_session(client, merchant, link, settings, uow_factory, celery_worker):
    with freeze_time(T):
        made = share(client, link, "10.77.1.1")
    wait_for(lambda: _stored(uow_factory, made["checkout_session_id"]))
    with freeze_time(T + timedelta(minutes=5)):
        body = merchant.ok("GET", f"/checkout-sessions/{made['checkout_session_id']}")
    assert set(body) == SPEC_FIELDS
    assert body["object"] == "checkout.session" and body["status"] == "open" and body["livemode"] is False
    assert body["checkout_url"] == made["checkout_url"]
    assert body["checkout_url"].startswith(f"{settings.checkout_base_url}/checkout/")
    assert body["payment_link_id"] == link["id"] and body["mode"] == "payment"
    assert (body["amount_subtotal_atom"], body["amount_discount_atom"], body["amount_total_atom"],
            body["amount_due_today_atom"]) == (3998, 0, 3998, 3998)
    assert body["line_items"][0]["quantity"] == 2 and body["line_items"][0]["amount_atom"] == 3998
    assert body["created_at"] == iso(T) and body["expires_at"] == iso(T + timedelta(hours=2))
    assert body["completed_at"] is None and body["expired_at"] is None
    assert body["success_url"] == "https://shop.example/thanks"


def test_manual_expire(merchant, other_merchant, link, uow_factory):
    session = store_session(uow_factory, merchant, link["id"], T, hours=2)
    path = f"/checkout-sessions/{session.id}/expire"

    assert other_merchant.post(path).status_code == 404
    with freeze_time(T + timedelta(minutes=10)):
        done = merchant.post(path)
        assert done.status_code == 200, done.text
        assert done.json["status"] == "expired" and done.json["expired_at"] == iso(T + timedelta(minutes=10))
        again = merchant.post(path)
    assert again.status_code == 409
    assert again.json["error"]["code"] == "session_not_open"
    stored = _stored(uow_factory, session.id)
    assert stored.status == "expired" and stored.expired_at == T + timedelta(minutes=10)


def test_manual_expire_refuses_a_session_already_past_expires_at_or_complete(merchant, link, uow_factory, deps):
    late = store_session(uow_factory, merchant, link["id"], T, hours=1)
    paid = store_session(uow_factory, merchant, link["id"], T, hours=1)
    assert pay_session(deps, paid.checkout_token, T + timedelta(minutes=1)).completed
    with freeze_time(T + timedelta(hours=1)):
        for session in (late, paid):
            refused = merchant.post(f"/checkout-sessions/{session.id}/expire")
            assert refused.status_code == 409 and refused.json["error"]["code"] == "session_not_open"
    assert _stored(uow_factory, late.id).status == "open"  # stored as it was; the sweep records it


def test_manual_expire_announces_it_through_the_follow_up_job(merchant, link, uow_factory, celery_worker,
                                                              caplog):
    caplog.set_level("INFO", logger="paymentkit.workers")
    session = store_session(uow_factory, merchant, link["id"], datetime.now(UTC), hours=2)
    assert merchant.post(f"/checkout-sessions/{session.id}/expire").status_code == 200
    wait_for(lambda: any(f"checkout session {session.id} expired" in r.getMessage() for r in caplog.records))


def test_unknown_and_other_accounts_sessions_are_404(merchant, other_merchant, link, uow_factory):
    session = store_session(uow_factory, merchant, link["id"], T)
    assert other_merchant.get(f"/checkout-sessions/{session.id}").status_code == 404
    assert merchant.get("/checkout-sessions/cs_live_nope").status_code == 404
    assert merchant.post("/checkout-sessions/cs_live_nope/expire").status_code == 404
    assert other_merchant.ok("GET", "/checkout-sessions")["data"] == []
    assert merchant.get(f"/checkout-sessions/{session.id}", key=merchant.live_api_key).status_code == 404


def test_list_filters_by_link_and_effective_status_and_pages(merchant, uow_factory, deps):
    links = [merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": merchant.price()["id"]}]})["id"]
             for _ in range(2)]
    stale = store_session(uow_factory, merchant, links[0], T, hours=1)                  # past expires_at
    paid = store_session(uow_factory, merchant, links[0], T + timedelta(minutes=1))
    by_hand = store_session(uow_factory, merchant, links[1], T + timedelta(minutes=2))
    fresh = store_session(uow_factory, merchant, links[0], T + timedelta(minutes=3), hours=24)
    assert pay_session(deps, paid.checkout_token, T + timedelta(minutes=30)).completed
    with uow_factory() as uow:
        checkout_sessions.expire(uow, Owner(merchant.account_id, False), by_hand.id, T + timedelta(minutes=10))
        uow.commit()

    def ids(query: str = "") -> tuple[list[str], bool]:
        with freeze_time(T + timedelta(hours=1, seconds=90)):
            body = merchant.ok("GET", f"/checkout-sessions{query}")
        assert body["object"] == "list"
        return [s["id"] for s in body["data"]], body["has_more"]

    assert ids() == ([fresh.id, by_hand.id, paid.id, stale.id], False)
    assert ids("?status=open") == ([fresh.id], False)
    assert ids("?status=expired") == ([by_hand.id, stale.id], False)
    assert ids("?status=complete") == ([paid.id], False)
    assert ids(f"?payment_link_id={links[0]}") == ([fresh.id, paid.id, stale.id], False)
    assert ids(f"?payment_link_id={links[0]}&status=expired") == ([stale.id], False)

    assert ids("?limit=2") == ([fresh.id, by_hand.id], True)
    assert ids(f"?limit=2&starting_after={by_hand.id}") == ([paid.id, stale.id], False)
    assert ids(f"?limit=2&ending_before={paid.id}") == ([fresh.id, by_hand.id], False)
    assert ids("?status=expired&limit=1") == ([by_hand.id], True)
    assert ids(f"?status=expired&limit=1&starting_after={by_hand.id}") == ([stale.id], False)

    with freeze_time(T + timedelta(hours=1, seconds=90)):
        listed = {s["id"]: s for s in merchant.ok("GET", "/checkout-sessions")["data"]}
    assert listed[stale.id]["status"] == "expired" and listed[stale.id]["expired_at"] == iso(T + timedelta(hours=1))


@pytest.mark.parametrize("query, param", [("?status=paid", "status"), ("?limit=0", "limit"),
                                          ("?colour=red", "colour"), ("?starting_after=cs_live_nope",
                                                                      "starting_after")])
def test_list_rejects_bad_parameters_naming_them(merchant, query, param):
    result = merchant.get(f"/checkout-sessions{query}")
    assert result.status_code == 400
    assert result.json["error"]["param"] == param


def test_openapi_documents_the_checkout_session_operations(client):
    paths = client.simulate_get("/openapi.json").json["paths"]
    assert set(paths["/api/{account_id}/checkout-sessions"]) == {"get"}
    assert set(paths["/api/{account_id}/checkout-sessions/{session_id}"]) == {"get"}
    assert set(paths["/api/{account_id}/checkout-sessions/{session_id}/expire"]) == {"post"}
