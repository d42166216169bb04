"""Renewals through two beats at once and a worker SIGKILLed in the middle of a charge: every due
subscription gets exactly one invoice for the period, and every invoice is charged exactly once
at the processor. The service runs as gunicorn and Celery subprocesses.

"In the middle of a charge" is made exact with a test-only trigger on the test processor's own
books (a database of this module's own): it holds the processor's write of a charge in
`pg_sleep`, so the worker dies after our claim committed (the payment `processing`) and with the
processor call in flight. The reconcile job then asks the processor, by the payment's id.
"""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.faults.conftest import Shop, engine_for, make_stack
from tests.faults.stack import call, wait_until

pytestmark = pytest.mark.faults
DUE = 200
QUEUES = "default,sessions,payments,billing"

HOOKS = """
CREATE TABLE fault_delay (seconds float NOT NULL);
CREATE FUNCTION fault_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.kind = 'charge' AND NEW.off_session THEN
    PERFORM pg_sleep(coalesce((SELECT max(seconds) FROM fault_delay), 0));
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER fault_hold_charge BEFORE INSERT ON test_processor_operations
  FOR EACH ROW EXECUTE FUNCTION fault_hold();
"""


@pytest.fixture(scope="module")
def billing_database(private_postgres):
    import psycopg

    from paymentkit.cli import migrate

    with psycopg.connect(private_postgres.admin_url, autocommit=True) as conn:
        conn.execute('CREATE DATABASE "billing_kills"')
    url = private_postgres.url("billing_kills")
    migrate(url)
    engine = engine_for(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(HOOKS)
    yield url, engine
    engine.dispose()


@pytest.fixture(scope="module")
def billing_stack(billing_database, settings, faults_dir):
    url, _ = billing_database
    stack = make_stack(url, settings.redis_url, faults_dir / "billing-kills", FAULTS_VISIBILITY_TIMEOUT="4")
    stack.start_web(workers=2)
    yield stack
    stack.close()


def subscribed(stack, engine) -> str:
    """A test-mode subscription paid at the hosted checkout (the real pay path over HTTP), then
    DUE copies of it, each due now; the first one's id (the copies' ids start with it)."""
    from domain.accounts import create_account
    from domain.db import UnitOfWork, session_factory

    with UnitOfWork(session_factory(engine)) as uow:
        made = create_account(uow, "Billing faults shop")
        uow.commit()
    shop = Shop(stack.web_url, made.account_id, made.test_api_key, {})
    product = shop.api("POST", "/products", {"name": "Tea club"}).json
    price = shop.api("POST", "/prices", {"product_id": product["id"], "unit_amount_atom": 900, "currency": "EUR",
                                         "type": "recurring", "interval": "month"}).json
    shop.link = shop.api("POST", "/payment-links", {"mode": "subscription",
                                                    "line_items": [{"price_id": price["id"]}]}).json
    assert shop.open_link().status == 200
    token = shop.checkout_tokens[-1]
    wait_until(lambda: call(stack.web_url, "GET", f"/checkout/{token}").status == 200 and
               "preparing" not in call(stack.web_url, "GET", f"/checkout/{token}").text.lower(), 30,
               what="the checkout session stored")
    paid = call(stack.web_url, "POST", f"/checkout/{token}/pay", headers={
        "Content-Type": "application/x-www-form-urlencoded", "Origin": stack.web_url},
        body=b"email=kill%40example.com&card_number=4242424242424242&exp=12%2F34&cvc=123")
    assert paid.status == 303, paid.text[:500]
    due = datetime.now(UTC) - timedelta(minutes=1)
    with engine.begin() as conn:
        sub_id = conn.execute(text("SELECT subscription_id FROM checkout_sessions WHERE checkout_token = :t"),
                              {"t": token}).scalar_one()
        assert sub_id, "the checkout made no subscription"
        conn.execute(text("UPDATE subscriptions SET current_period_end = :due, next_billing_at = :due WHERE id = :id"),
                     {"due": due, "id": sub_id})
        conn.execute(text(
            "INSERT INTO subscriptions SELECT (s).* FROM (SELECT jsonb_populate_record(NULL::subscriptions, "
            "to_jsonb(t) || jsonb_build_object('id', t.id || '_' || n, 'checkout_session_id', NULL)) AS s "
            "FROM subscriptions t, generate_series(1, :more) n WHERE t.id = :id) copies"),
            {"id": sub_id, "more": DUE - 1})
    return sub_id, due


def counts(engine, sub_id: str, due: datetime) -> dict[str, int]:
    with engine.connect() as conn:
        row = conn.execute(text("""
            SELECT count(*) AS invoices, count(DISTINCT i.subscription_id) AS subscriptions,
                   count(*) FILTER (WHERE i.status = 'paid') AS paid,
                   (SELECT count(*) FROM payments p JOIN invoices j ON j.id = p.invoice_id
                     WHERE j.subscription_id LIKE :like AND j.period_start = :due
                       AND p.status = 'succeeded') AS succeeded_payments,
                   (SELECT count(*) FROM test_processor_operations o JOIN payments p ON p.id = o.idempotency_key
                     JOIN invoices j ON j.id = p.invoice_id
                     WHERE j.subscription_id LIKE :like AND j.period_start = :due
                       AND o.outcome = 'succeeded') AS charged,
                   (SELECT count(*) FROM (SELECT j.id FROM test_processor_operations o
                     JOIN payments p ON p.id = o.idempotency_key JOIN invoices j ON j.id = p.invoice_id
                     WHERE j.subscription_id LIKE :like AND o.outcome = 'succeeded'
                     GROUP BY j.id HAVING count(*) > 1) twice) AS charged_twice
            FROM invoices i WHERE i.subscription_id LIKE :like AND i.period_start = :due"""),
            {"like": f"{sub_id}%", "due": due}).one()
    return dict(row._mapping)


@pytest.mark.parametrize("victim", ["whole worker"])
def test_two_beats_and_a_worker_killed_mid_charge_bill_each_renewal_once(billing_stack, billing_database, victim):
    url, engine = billing_database
    stack = billing_stack
    worker = stack.start_worker(app="tests.faults.worker_app", queues=QUEUES, concurrency=2)
    sub_id, due = subscribed(stack, engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO fault_delay VALUES (30)"))  # the first charges hang at the processor
    stack.send("billing.run_due")
    stack.send("billing.run_due")  # a second beat at the same moment
    wait_until(lambda: counts(engine, sub_id, due)["invoices"] == DUE, 60, 0.2, "every due renewal invoiced")

    def charges_in_flight() -> int:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' "
                                     "AND query ILIKE '%test_processor_operations%'")).scalar_one()

    wait_until(lambda: charges_in_flight() >= 1, 30, 0.1, "a charge held at the processor")
    worker.kill()  # SIGKILL, main process and pool: mid-charge
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM fault_delay"))
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep'"))
    at_kill = counts(engine, sub_id, due)
    assert at_kill["paid"] < DUE
    worker = stack.start_worker(app="tests.faults.worker_app", queues=QUEUES, concurrency=2)
    started = time.monotonic()

    def all_paid() -> bool:
        # What beat does every 30 s (here every 5 s: sweeps sent faster only queue before the charges).
        stack.send("billing.run_due")
        stack.send("payments.reconcile_due")   # outcomes nobody told us
        time.sleep(5)
        return counts(engine, sub_id, due)["paid"] == DUE

    wait_until(all_paid, 300, 0.5, "every renewal paid after the kill")
    final = counts(engine, sub_id, due)
    assert final == {"invoices": DUE, "subscriptions": DUE, "paid": DUE, "succeeded_payments": DUE, "charged": DUE,
                     "charged_twice": 0}
    print(f"\nkilled mid-charge with {at_kill['paid']}/{DUE} paid; all paid {time.monotonic() - started:.1f} s later, "
          "each invoice once, each charged once")
    worker.kill()
