"""Workers SIGKILLed in the middle of their jobs: every accepted session is stored exactly once,
every due session is expired exactly once, after the worker (or its pool process) is back.

"In the middle" is made exact with test-only triggers in a database of this module's own: a
trigger holds the job's statement (or its commit) in `pg_sleep` while the test kills the worker,
and an audit trigger records every committed insert and every write of `status = 'expired'`.
"""
from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import text

from tests.faults.conftest import assert_no_secrets_logged, engine_for, make_shop, store_jobs, stored_ids
from tests.faults.stack import wait_until

pytestmark = pytest.mark.faults
SWEEP_BATCH = 500  # the worker's sweep batch size here (FAULTS_EXPIRY_BATCH_SIZE)
DUE = 1200

HOOKS = """
CREATE TABLE fault_delay (phase text PRIMARY KEY, seconds float NOT NULL);
CREATE TABLE fault_audit (id text NOT NULL, op text NOT NULL, status text NOT NULL,
                          at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE FUNCTION fault_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_sleep(coalesce((SELECT seconds FROM fault_delay WHERE phase = TG_ARGV[0]), 0));
  IF TG_LEVEL = 'ROW' AND TG_WHEN = 'BEFORE' THEN RETURN NEW; END IF;
  RETURN NULL;
END $$;
CREATE FUNCTION fault_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO fault_audit (id, op, status) VALUES (NEW.id, TG_OP, NEW.status);
  RETURN NULL;
END $$;
-- in the INSERT statement, before the row is written
CREATE TRIGGER fault_hold_insert BEFORE INSERT ON checkout_sessions
  FOR EACH ROW EXECUTE FUNCTION fault_hold('insert');
-- at COMMIT: the row is committed whatever happens to the client, but the job is never acked
CREATE CONSTRAINT TRIGGER fault_hold_commit AFTER INSERT ON checkout_sessions
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fault_hold('commit');
-- in a sweep's batch UPDATE, before its commit
CREATE TRIGGER fault_hold_update AFTER UPDATE ON checkout_sessions
  FOR EACH STATEMENT EXECUTE FUNCTION fault_hold('update');
CREATE TRIGGER fault_record AFTER INSERT OR UPDATE ON checkout_sessions
  FOR EACH ROW EXECUTE FUNCTION fault_record();
"""


@pytest.fixture(scope="module")
def kill_database(private_postgres):
    """A database of this module's own (the hooks never reach other tests), migrated, hooked."""
    import psycopg

    from paymentkit.cli import migrate

    with psycopg.connect(private_postgres.admin_url, autocommit=True) as conn:
        conn.execute('CREATE DATABASE "kills"')
    url = private_postgres.url("kills")
    migrate(url)
    engine = engine_for(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(HOOKS)
    yield url, engine
    engine.dispose()


@pytest.fixture(scope="module")
def kill_stack(kill_database, settings, faults_dir, redis_client):
    """gunicorn on the hooked database; each test starts (and kills) its own workers."""
    from tests.faults.conftest import make_stack

    url, _ = kill_database
    stack = make_stack(url, settings.redis_url, faults_dir / "kills", FAULTS_VISIBILITY_TIMEOUT="4",
                       FAULTS_EXPIRY_BATCH_SIZE=str(SWEEP_BATCH))
    stack.start_web(workers=2)
    yield stack
    stack.close()


def hold(engine, phase: str, seconds: float | None) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM fault_delay WHERE phase = :phase"), {"phase": phase})
        if seconds:
            conn.execute(text("INSERT INTO fault_delay VALUES (:phase, :seconds)"), {"phase": phase, "seconds": seconds})


def held_statements(engine, like: str) -> int:
    """Backends of this database asleep in a hook, in a statement that looks like `like`."""
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep' "
            "AND query ILIKE :like"), {"like": like}).scalar_one()


def audit(engine, ids_like: str, op: str) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT id, count(*) FROM fault_audit WHERE id LIKE :like AND op = :op "
            "AND (op = 'INSERT' OR status = 'expired') GROUP BY id"), {"like": ids_like, "op": op}).all()
    return dict(rows)


@pytest.mark.parametrize("phase, victim", [
    ("insert", "pool process"),   # the pool process running the job dies; the main process lives
    ("insert", "whole worker"),   # main process and pool together (OOM killer, kill -9 of a container)
    ("commit", "whole worker"),   # committed, never acked: the job comes back and must do nothing
])
def test_killed_in_the_middle_of_creations(kill_stack, kill_database, phase, victim):
    _, engine = kill_database
    # Killed whole, a worker's jobs come back after the broker's visibility timeout: seconds here.
    app = "tests.faults.worker_app" if victim == "whole worker" else "workers"
    worker = kill_stack.start_worker(app=app)
    shop = make_shop(kill_stack, engine)
    hold(engine, phase, 4)
    try:
        accepted = [shop.open_link().json["checkout_session_id"] for _ in range(4)]
        # All four are stored by one `checkout_sessions.store` job, or two if they came apart.
        like = "%COMMIT%" if phase == "commit" else "%INSERT INTO checkout_sessions%"
        wait_until(lambda: held_statements(engine, like) >= 1, 20, what="a store job held mid-flight")
        if victim == "pool process":
            children = worker.children()
            assert children, "no pool processes"
            for child in children:
                child.kill()
        else:
            worker.kill()
        if phase == "insert":  # a held insert dies with its connection (the hold still stops any other)
            time.sleep(0.5)
            committed_before_restart = set(stored_ids(engine, shop.link["id"]))
            assert committed_before_restart == set()
    finally:
        hold(engine, phase, None)
    if phase == "commit":  # the held commits complete on the server although their client is gone
        committed_before_restart = set(wait_until(lambda: stored_ids(engine, shop.link["id"]), 10,
                                                  what="held commits completed"))
    handed = store_jobs(worker.log())  # which store jobs held the sessions, by the worker that held them
    if victim == "whole worker":
        worker = kill_stack.start_worker(app=app)
    back = time.monotonic()
    wait_until(lambda: set(stored_ids(engine, shop.link["id"])) >= set(accepted), 45, 0.2,
               "every accepted session stored")
    print(f"\nkilled ({victim}, in the {phase}): {len(committed_before_restart)} committed before the restart, all "
          f"{len(accepted)} stored {time.monotonic() - back:.1f} s after the worker was back")
    time.sleep(1.5)  # a duplicate delivery would land now
    assert sorted(stored_ids(engine, shop.link["id"])) == sorted(accepted)
    inserts = audit(engine, "cs_%", "INSERT")
    assert {session_id: inserts.get(session_id) for session_id in accepted} == {s: 1 for s in accepted}
    if victim == "pool process":
        wait_until(lambda: worker.alive() and "WorkerLostError" in worker.log(), 15, 0.2,
                   "the worker, alive, reporting its lost pool process")
    if phase == "commit":
        # The committed-but-unacked job comes back (after the visibility timeout) and stores nothing.
        def ran_again() -> bool:
            log = worker.log()
            jobs = {job for s in committed_before_restart for job in handed.get(s, [])}
            return any(re.search(rf"checkout_sessions\.store\[{job}\] succeeded in [0-9.]+s: 0\b", log)
                       for job in jobs)

        wait_until(ran_again, 30, 0.2, "a committed-but-unacked job delivered again and storing nothing")
        assert sorted(stored_ids(engine, shop.link["id"])) == sorted(accepted)
    assert_no_secrets_logged(kill_stack, shop)
    worker.kill()


def seed_due_sessions(engine, account_id: str, link_id: str, tag: str, count: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO checkout_sessions
              (id, account_id, livemode, created_at, updated_at, payment_link_id, checkout_token, mode, status,
               line_items, currency, amount_subtotal_atom, amount_discount_atom, amount_total_atom,
               amount_due_today_atom, allow_cart_edit, expires_at)
            SELECT 'cs_live_' || :tag || lpad(n::text, 8, '0'), :account, true, now() - interval '2 hours',
                   now() - interval '2 hours', :link, 'tok_' || :tag || n, 'payment', 'open', '[]'::jsonb, 'EUR',
                   1500, 0, 1500, 1500, false, now() - interval '1 hour' + n * interval '1 ms'
              FROM generate_series(1, :count) AS n"""),
                     {"tag": tag, "account": account_id, "link": link_id, "count": count})


@pytest.mark.parametrize("moment", ["first batch", "second batch"])
def test_killed_in_the_middle_of_a_sweep(kill_stack, kill_database, moment):
    """1,200 due sessions, batches of 500: the kill lands in the first batch's UPDATE (nothing
    committed) or in the second (the first committed, its follow-up jobs sent). A restarted worker
    and the next beat tick finish the job: every session expired once, `expired_at = expires_at`."""
    _, engine = kill_database
    shop = make_shop(kill_stack, engine)
    tag = "sweep" + moment[0]
    seed_due_sessions(engine, shop.account_id, shop.link["id"], tag, DUE)
    ids_like = f"cs_live_{tag}%"
    hold(engine, "update", 4)
    worker = kill_stack.start_worker(app="tests.faults.worker_app")
    try:
        kill_stack.send("checkout_sessions.expire_due")
        committed = 0 if moment == "first batch" else SWEEP_BATCH
        wait_until(lambda: held_statements(engine, "%UPDATE checkout_sessions%") >= 1
                   and len(audit(engine, ids_like, "UPDATE")) == committed, 60, what=f"sweep held in its {moment}")
        worker.kill()
    finally:
        hold(engine, "update", None)
    assert len(audit(engine, ids_like, "UPDATE")) == committed

    worker = kill_stack.start_worker(app="tests.faults.worker_app")
    back = time.monotonic()

    def all_expired() -> bool:
        with engine.connect() as conn:
            still_open = conn.execute(text("SELECT count(*) FROM checkout_sessions WHERE id LIKE :like "
                                           "AND status = 'open'"), {"like": ids_like}).scalar_one()
        if still_open:
            kill_stack.send("checkout_sessions.expire_due")  # what beat does every 30 s
        return still_open == 0

    wait_until(all_expired, 60, 1.0, "every due session expired after the restart")
    print(f"\nkilled in a sweep's {moment} ({committed} committed): all {DUE} expired "
          f"{time.monotonic() - back:.1f} s after the worker was back")
    writes = audit(engine, ids_like, "UPDATE")
    assert len(writes) == DUE and set(writes.values()) == {1}, "a session was expired twice"
    with engine.connect() as conn:
        wrong = conn.execute(text("SELECT count(*) FROM checkout_sessions WHERE id LIKE :like AND "
                                  "(status <> 'expired' OR expired_at IS DISTINCT FROM expires_at)"),
                             {"like": ids_like}).scalar_one()
    assert wrong == 0
    worker.kill()


def test_a_dead_workers_sessions_come_back_while_the_page_still_says_preparing():
    """The tests above shorten the broker's visibility timeout to run in seconds; in production,
    a session held by a worker that died whole is delivered again within `visibility_timeout`
    plus kombu's restore period, which must end before the hosted page gives up on it."""
    import celeryconfig
    from kombu.transport.redis import Channel

    from api.checkout.page import PREPARING_FOR
    from workers.tasks import store_checkout_sessions

    options = celeryconfig.broker_transport_options
    restore_period = (options.get("unacked_restore_interval", Channel.unacked_restore_interval)
                      * options.get("unacked_restore_throttle", Channel.unacked_restore_throttle))
    assert options["visibility_timeout"] + restore_period < PREPARING_FOR.total_seconds()
    # Longer than the store job's longest retry countdown (else a waiting retry is delivered again).
    assert options["visibility_timeout"] > store_checkout_sessions.retry_backoff_max
