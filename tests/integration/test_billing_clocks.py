"""Billing end to end over HTTP on test clocks (SPEC 8): a customer made on a clock, a subscription
started at the hosted checkout, the clock advanced, and the real worker running what fell due:
renewals after a trial, coupons by duration, dunning to cancellation, cancel at period end."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from domain.models import Payment, TestProcessorOperation
from tests.conftest import make_merchant, wait_for
from tests.integration.test_paying import OFF_SESSION_DECLINE, VISA, make_link, open_session, pay, session_of

T0 = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)


def rfc(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def merchant(client, uow_factory):
    return make_merchant(client, uow_factory).in_test_mode()


def on_clock(merchant, frozen=T0) -> tuple[dict, dict]:
    clock = merchant.ok("POST", "/test-clocks", {"frozen_time": rfc(frozen), "name": "billing test"})
    customer = merchant.ok("POST", "/customers", {"email": "clock@example.com", "test_clock_id": clock["id"]})
    assert customer["test_clock_id"] == clock["id"]
    return clock, customer


def subscribe(merchant, client, uow_factory, settings, customer, *, card=VISA, amount=4900, **link_fields) -> dict:
    link = make_link(merchant, mode="subscription", customer_id=customer["id"],
                     line_items=[{"price_id": merchant.recurring_price(amount)["id"]}], **link_fields)
    token = open_session(uow_factory, settings, link)
    assert pay(client, token, card).status_code == 303
    session = session_of(uow_factory, token)
    assert session.status == "complete"
    return merchant.ok("GET", f"/subscriptions/{session.subscription_id}")


def advance(merchant, clock: dict, to: datetime) -> dict:
    moved = merchant.ok("POST", f"/test-clocks/{clock['id']}/advance", {"frozen_time": rfc(to)})
    assert (moved["status"], moved["frozen_time"]) == ("advancing", rfc(to))
    return wait_for(lambda: (c := merchant.ok("GET", f"/test-clocks/{clock['id']}"))["status"] == "ready" and c,
                    timeout=30)


def invoices(merchant, subscription_id: str) -> list[dict]:
    found = merchant.ok("GET", "/invoices", query_string=f"subscription_id={subscription_id}&limit=100")["data"]
    return sorted(found, key=lambda i: i["period_start"])


def test_a_monthly_trial_advanced_three_months_makes_three_paid_invoices(merchant, client, uow_factory, settings,
                                                                          celery_worker):
    clock, customer = on_clock(merchant)
    sub = subscribe(merchant, client, uow_factory, settings, customer, free_trial_days=14)
    trial_end = T0 + timedelta(days=14)  # 14 February
    assert (sub["status"], sub["test_clock_id"], sub["trial_end"]) == ("trialing", clock["id"], rfc(trial_end))
    assert sub["created_at"] == rfc(T0)  # the customer's time is the clock's
    assert advance(merchant, clock, datetime(2026, 4, 30, 9, 0, tzinfo=UTC))["status"] == "ready"

    paid = invoices(merchant, sub["id"])
    assert [(i["status"], i["amount_total_atom"], i["attempt_count"]) for i in paid] == [("paid", 4900, 1)] * 3
    assert [(i["period_start"], i["period_end"]) for i in paid] == [
        (rfc(trial_end), "2026-03-14T09:00:00Z"), ("2026-03-14T09:00:00Z", "2026-04-14T09:00:00Z"),
        ("2026-04-14T09:00:00Z", "2026-05-14T09:00:00Z")]
    assert [i["paid_at"] for i in paid] == [i["period_start"] for i in paid]
    now = merchant.ok("GET", f"/subscriptions/{sub['id']}")
    assert (now["status"], now["current_period_start"], now["current_period_end"], now["latest_invoice_id"]) == \
        ("active", "2026-04-14T09:00:00Z", "2026-05-14T09:00:00Z", paid[-1]["id"])
    payments = [merchant.ok("GET", f"/payments/{i['payment_id']}") for i in paid]
    assert [(p["status"], p["amount_atom"], p["invoice_id"]) for p in payments] == \
        [("succeeded", 4900, i["id"]) for i in paid]
    types = [e["type"] for e in merchant.ok("GET", "/events", query_string="limit=100")["data"]]
    assert types.count("invoice.paid") == 3 and types.count("payment.succeeded") == 3

    # Advancing again to a time with nothing due changes nothing.
    advance(merchant, clock, datetime(2026, 5, 1, 9, 0, tzinfo=UTC))
    assert len(invoices(merchant, sub["id"])) == 3


def test_a_once_coupon_discounts_the_first_charge_and_a_repeating_one_its_months(merchant, client, uow_factory,
                                                                                 settings, celery_worker):
    once = merchant.ok("POST", "/coupons", {"name": "First month", "percent_off": 50, "duration": "once"})
    repeating = merchant.ok("POST", "/coupons", {"name": "Two months", "amount_off_atom": 1000, "currency": "USD",
                                                  "duration": "repeating", "duration_in_months": 2})
    clock, customer = on_clock(merchant)
    with_once = subscribe(merchant, client, uow_factory, settings, customer, amount=4000, free_trial_days=7,
                          coupon_id=once["id"])
    with_repeating = subscribe(merchant, client, uow_factory, settings, customer, amount=4000,
                               coupon_id=repeating["id"])
    advance(merchant, clock, T0 + timedelta(days=100))
    assert [(i["amount_subtotal_atom"], i["amount_discount_atom"], i["amount_total_atom"])
            for i in invoices(merchant, with_once["id"])] == [(4000, 2000, 2000), (4000, 0, 4000), (4000, 0, 4000),
                                                                (4000, 0, 4000)]
    # No trial: the checkout paid the first month (its invoice), the coupon takes off two months in all.
    assert [(i["amount_discount_atom"], i["amount_total_atom"]) for i in invoices(merchant, with_repeating["id"])] \
        == [(1000, 3000), (1000, 3000), (0, 4000), (0, 4000)]


def test_a_card_declined_off_session_is_retried_three_times_then_canceled(merchant, client, uow_factory, settings,
                                                                          celery_worker):
    clock, customer = on_clock(merchant)
    sub = subscribe(merchant, client, uow_factory, settings, customer, card=OFF_SESSION_DECLINE)
    assert sub["status"] == "active"
    renewal_at = datetime(2026, 2, 28, 9, 0, tzinfo=UTC)  # 31 January plus a month
    advance(merchant, clock, renewal_at + timedelta(hours=1))
    [first, renewal] = invoices(merchant, sub["id"])
    assert (first["status"], first["payment_id"] is not None) == ("paid", True)
    assert (renewal["status"], renewal["attempt_count"], renewal["next_attempt_at"]) == \
        ("open", 1, rfc(renewal_at + timedelta(days=1)))
    assert merchant.ok("GET", f"/subscriptions/{sub['id']}")["status"] == "past_due"

    advance(merchant, clock, renewal_at + timedelta(days=4))  # retries on day 1 and day 3
    renewal = invoices(merchant, sub["id"])[1]
    assert (renewal["status"], renewal["attempt_count"], renewal["next_attempt_at"]) == \
        ("open", 3, rfc(renewal_at + timedelta(days=5)))
    advance(merchant, clock, renewal_at + timedelta(days=40))
    renewal = invoices(merchant, sub["id"])[1]
    assert (renewal["status"], renewal["attempt_count"], renewal["next_attempt_at"]) == ("uncollectible", 4, None)
    ended = merchant.ok("GET", f"/subscriptions/{sub['id']}")
    assert (ended["status"], ended["canceled_at"]) == ("canceled", rfc(renewal_at + timedelta(days=5)))
    assert len(invoices(merchant, sub["id"])) == 2  # canceled: nothing more is billed
    with uow_factory() as uow:
        declined = uow.session.scalars(select(Payment).where(Payment.invoice_id == renewal["id"])).all()
        assert sorted(p.status for p in declined) == ["failed"] * 4
        assert uow.session.scalar(select(func.count()).select_from(TestProcessorOperation).where(
            TestProcessorOperation.idempotency_key.in_([p.id for p in declined]))) == 4
    types = [e["type"] for e in merchant.ok("GET", "/events", query_string="limit=100")["data"]]
    assert types.count("invoice.payment_failed") == 4 and types.count("subscription.canceled") == 1


def test_cancel_at_period_end_bills_nothing_more_and_cancel_now_is_at_once(merchant, client, uow_factory, settings,
                                                                           celery_worker):
    clock, customer = on_clock(merchant)
    later = subscribe(merchant, client, uow_factory, settings, customer)
    canceled = merchant.ok("POST", f"/subscriptions/{later['id']}/cancel")
    assert (canceled["status"], canceled["cancel_at_period_end"], canceled["canceled_at"]) == ("active", True, None)
    period_end = datetime.fromisoformat(later["current_period_end"])
    advance(merchant, clock, period_end + timedelta(days=40))
    ended = merchant.ok("GET", f"/subscriptions/{later['id']}")
    assert (ended["status"], ended["canceled_at"]) == ("canceled", rfc(period_end))
    assert len(invoices(merchant, later["id"])) == 1  # the checkout's

    now_one = subscribe(merchant, client, uow_factory, settings, customer, free_trial_days=30)
    gone = merchant.ok("POST", f"/subscriptions/{now_one['id']}/cancel", {"at_period_end": False})
    assert (gone["status"], gone["canceled_at"]) == ("canceled", ended["canceled_at"] and
                                                     merchant.ok("GET", f"/test-clocks/{clock['id']}")["frozen_time"])
    assert merchant.ok("POST", f"/subscriptions/{now_one['id']}/cancel", {"at_period_end": False}) == gone
    advance(merchant, clock, period_end + timedelta(days=100))
    assert invoices(merchant, now_one["id"]) == []


def test_the_subscription_and_invoice_api(merchant, client, uow_factory, settings, other_merchant):
    clock, customer = on_clock(merchant)
    sub = subscribe(merchant, client, uow_factory, settings, customer)
    listed = merchant.ok("GET", "/subscriptions", query_string=f"customer_id={customer['id']}")["data"]
    assert [s["id"] for s in listed] == [sub["id"]]
    assert merchant.ok("GET", "/subscriptions", query_string="status=canceled")["data"] == []
    assert [s["id"] for s in merchant.ok("GET", "/subscriptions", query_string=(
        f"payment_link_id={sub['payment_link_id']}"))["data"]] == [sub["id"]]
    [invoice] = invoices(merchant, sub["id"])
    assert merchant.ok("GET", f"/invoices/{invoice['id']}") == invoice
    assert (invoice["status"], invoice["amount_total_atom"], invoice["period_start"]) == ("paid", 4900, rfc(T0))
    bad = merchant.get("/subscriptions", query_string="status=paused")
    assert (bad.status_code, bad.json["error"]["param"]) == (400, "status")
    assert merchant.get(f"/subscriptions/{sub['id']}", key=merchant.live_api_key).status_code == 404
    assert other_merchant.in_test_mode().get(f"/invoices/{invoice['id']}").status_code == 404
    wrong = merchant.post(f"/subscriptions/{sub['id']}/cancel", {"at_period_end": "soon"})
    assert (wrong.status_code, wrong.json["error"]["param"]) == (400, "at_period_end")
    assert merchant.ok("GET", f"/subscriptions/{sub['id']}")["cancel_at_period_end"] is False


def test_test_clocks_are_test_mode_only_and_move_forward_only(merchant):
    live = merchant.post("/test-clocks", {"frozen_time": rfc(T0)}, key=merchant.live_api_key)
    assert (live.status_code, live.json["error"]["code"]) == (400, "livemode_mismatch")
    clock = merchant.ok("POST", "/test-clocks", {"frozen_time": rfc(T0)})
    assert (clock["status"], clock["frozen_time"], clock["id"].startswith("clock_test_")) == ("ready", rfc(T0), True)
    back = merchant.post(f"/test-clocks/{clock['id']}/advance", {"frozen_time": rfc(T0 - timedelta(seconds=1))})
    assert (back.status_code, back.json["error"]["param"]) == (400, "frozen_time")
    naive = merchant.post("/test-clocks", {"frozen_time": "2026-01-01T00:00:00"})
    assert (naive.status_code, naive.json["error"]["param"]) == (400, "frozen_time")
    missing = merchant.post("/customers", {"email": "a@example.com", "test_clock_id": "clock_test_nope1234567890ab"})
    assert (missing.status_code, missing.json["error"]["param"]) == (400, "test_clock_id")
    live_customer = merchant.post("/customers", {"email": "a@example.com", "test_clock_id": clock["id"]},
                                  key=merchant.live_api_key)
    assert (live_customer.status_code, live_customer.json["error"]["param"]) == (400, "test_clock_id")
    assert merchant.ok("GET", f"/test-clocks/{clock['id']}") == clock
