"""The expiry sweep on the real database and a real worker: exactly once, under concurrency,
against racing completions, through beat's task and the operator's command line.

Each test works in its own stretch of the distant past (`window`) and first sweeps everything
due up to its end, so the sessions it counts are its own and real-time sessions stay untouched.
"""
from __future__ import annotations

import itertools
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

import workers
from domain import checkout_sessions, expiry
from domain.checkout_payments import Attempt, Step
from tests.conftest import pay_session, wait_for

ROOT = Path(__file__).resolve().parents[2]
_windows = itertools.count()

_INSERT = text("""
INSERT INTO checkout_sessions (id, account_id, livemode, created_at, updated_at, payment_link_id, checkout_token,
    mode, status, line_items, currency, amount_subtotal_atom, amount_discount_atom, amount_total_atom,
    amount_due_today_atom, allow_cart_edit, expires_at, completed_at, expired_at)
SELECT CAST(:prefix AS text) || i, 'acct_expiry_tests', false, e - interval '1 hour', e - interval '1 hour',
       'plink_expiry_tests', CAST(:prefix AS text) || 'tok_' || i, 'payment', s, '[]'::jsonb, 'USD', 100, 0, 100,
       100, false, e + (i - 1) * CAST(:step AS interval), CASE WHEN s = 'complete' THEN e END,
       CASE WHEN s = 'expired' THEN e END
  FROM generate_series(1, :n) AS i, CAST(:expires_at AS timestamptz) AS e, CAST(:status AS text) AS s
""")


def insert_sessions(engine, n: int, expires_at: datetime, *, status: str = "open",
                    step: timedelta = timedelta(0)) -> list[str]:
    """`n` sessions in one INSERT ... SELECT; the i-th expires at `expires_at + (i-1) * step`."""
    prefix = f"cs_test_{secrets.token_hex(4)}_"
    with engine.begin() as conn:
        conn.execute(_INSERT, {"prefix": prefix, "expires_at": expires_at, "status": status, "n": n, "step": step})
    return [f"{prefix}{i}" for i in range(1, n + 1)]


def stored(engine, ids: list[str]) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, status, expired_at, completed_at, updated_at FROM checkout_sessions "
                                 "WHERE id = ANY(:ids)"), {"ids": ids}).all()
    return {row.id: (row.status, row.expired_at, row.completed_at, row.updated_at) for row in rows}


@pytest.fixture
def engine(deps):
    return deps.engine


@pytest.fixture
def window(engine) -> datetime:
    """A stretch of days in 1990 with nothing open and due in it (or before it) but this test's."""
    start = datetime(1990, 1, 1, tzinfo=UTC) + timedelta(days=30 * next(_windows))
    expiry.sweep(engine, start + timedelta(days=29), lock=False)
    return start


def test_the_sweep_persists_each_expiry_once_and_returns_the_ids(engine, window):
    now = window + timedelta(hours=5)
    due = insert_sessions(engine, 3, now - timedelta(hours=1), step=timedelta(minutes=30))   # last one: == now
    later = insert_sessions(engine, 1, now + timedelta(seconds=1))
    paid = insert_sessions(engine, 1, now - timedelta(hours=2), status="complete")
    seen: list[list[str]] = []

    result = expiry.sweep(engine, now, batch_size=2, on_expired=seen.append)

    assert (result.ran, result.expired, result.batches, result.finished) == (True, 3, 2, True)
    assert sorted(sum(seen, [])) == sorted(due)
    assert result.oldest_expires_at == now - timedelta(hours=1)
    assert result.lag_seconds(now) == 3600
    rows = stored(engine, due + later + paid)
    for i, session_id in enumerate(due):
        assert rows[session_id] == ("expired", now - timedelta(hours=1) + i * timedelta(minutes=30), None, now)
    assert rows[later[0]][0] == "open"
    assert rows[paid[0]][:2] == ("complete", None)

    again = expiry.sweep(engine, now, on_expired=seen.append)
    assert (again.expired, len(seen)) == (0, 2)
    assert stored(engine, due) == {i: rows[i] for i in due}  # expired_at and updated_at unchanged


def test_expire_due_in_a_unit_of_work_is_committed_by_the_caller(engine, window, uow_factory):
    due = insert_sessions(engine, 2, window)
    with uow_factory() as uow:
        assert sorted(expiry.expire_due(uow, window)) == sorted(due)
        uow.rollback()
    assert {row[0] for row in stored(engine, due).values()} == {"open"}
    with uow_factory() as uow:
        assert sorted(expiry.expire_due(uow, window, batch_size=10)) == sorted(due)
        uow.commit()
    assert {row[0] for row in stored(engine, due).values()} == {"expired"}


def test_a_backlog_is_caught_up_batch_after_batch_and_a_deadline_hands_over_the_rest(engine, window):
    now = window + timedelta(days=1)
    backlog = insert_sessions(engine, 12_000, window, step=timedelta(seconds=1))
    result = expiry.sweep(engine, now, batch_size=5000)
    assert (result.expired, result.batches, result.finished) == (12_000, 3, True)
    assert {row[0] for row in stored(engine, backlog).values()} == {"expired"}

    more = insert_sessions(engine, 5, window)
    cut = expiry.sweep(engine, now, batch_size=2, deadline=time.monotonic())
    assert (cut.expired, cut.finished) == (2, False)
    rest = expiry.sweep(engine, now, batch_size=2)
    assert (rest.expired, rest.finished) == (3, True)
    assert {row[0] for row in stored(engine, more).values()} == {"expired"}


def _in_threads(*works) -> list:
    """Run each callable in its own thread, all released together; their results, re-raising any failure."""
    start = threading.Barrier(len(works))
    results: list = [None] * len(works)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait()
            results[index] = works[index]()
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(works))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    return results


def test_concurrent_sweeps_expire_each_session_exactly_once(engine, window):
    """No advisory lock here: FOR UPDATE SKIP LOCKED alone splits the rows between the sweeps."""
    now = window + timedelta(days=1)
    due = insert_sessions(engine, 5000, window, step=timedelta(milliseconds=10))

    def one_sweep() -> list[str]:
        got: list[str] = []
        expiry.sweep(engine, now, batch_size=50, on_expired=got.extend, lock=False)
        return got

    first, second = _in_threads(one_sweep, one_sweep)
    assert len(first) + len(second) == 5000
    assert set(first).isdisjoint(second)
    assert set(first) | set(second) == set(due)
    assert first and second, "both sweeps should have taken a share"
    rows = stored(engine, due)
    assert all(status == "expired" and expired_at is not None for status, expired_at, _, _ in rows.values())


def test_concurrent_batches_on_their_own_connections_never_overlap(engine, window):
    now = window + timedelta(days=1)
    due = insert_sessions(engine, 5000, window)

    def drain() -> list[str]:
        got: list[str] = []
        with engine.connect() as conn:
            while True:
                ids = expiry.expire_due(conn, now, batch_size=100)
                conn.commit()
                if not ids:
                    return got
                got += ids

    first, second = _in_threads(drain, drain)
    assert len(first) + len(second) == 5000 and set(first) | set(second) == set(due)
    assert set(first).isdisjoint(second)


def test_a_second_sweep_steps_aside_while_one_holds_the_lock(engine, window):
    due = insert_sessions(engine, 3, window)
    with engine.connect() as holder:
        assert holder.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": expiry.SWEEP_LOCK_KEY}).scalar_one()
        skipped = expiry.sweep(engine, window)
        assert (skipped.ran, skipped.expired) == (False, 0)
        assert {row[0] for row in stored(engine, due).values()} == {"open"}
        holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": expiry.SWEEP_LOCK_KEY})
        holder.commit()
    assert expiry.sweep(engine, window).expired == 3

    # Two locked sweeps at once: between them, every session exactly once.
    many = insert_sessions(engine, 2000, window + timedelta(hours=1))
    sweep = lambda: _collecting_sweep(engine, window + timedelta(hours=1))  # noqa: E731
    results = _in_threads(sweep, sweep)
    ids = [i for _, got in results for i in got]
    assert sorted(ids) == sorted(many)
    assert any(result.ran for result, _ in results)


def _collecting_sweep(engine, now):
    got: list[str] = []
    return expiry.sweep(engine, now, batch_size=100, on_expired=got.extend), got


def token_of(session_id: str) -> str:
    """The checkout token `insert_sessions` gave the session."""
    prefix, number = session_id.rsplit("_", 1)
    return f"{prefix}_tok_{number}"


def test_a_completion_racing_the_sweep_leaves_exactly_one_outcome(engine, window, uow_factory, deps):
    """Pay each session one millisecond before its expires_at, newest first, while the sweep works
    through the same sessions oldest first: they meet and contend for the same rows somewhere in
    the middle. Every session ends either paid or expired, and each side agrees which."""
    first_expiry = window + timedelta(hours=1)
    step = timedelta(milliseconds=10)
    ids = insert_sessions(engine, 300, first_expiry, step=step)
    expires = {session_id: first_expiry + i * step for i, session_id in enumerate(ids)}
    outcomes: dict[str, Attempt] = {}

    def pay_all() -> None:
        for session_id in reversed(ids):
            outcomes[session_id] = pay_session(deps, token_of(session_id),
                                               expires[session_id] - timedelta(milliseconds=1))

    def sweep_all() -> list[str]:
        got: list[str] = []
        expiry.sweep(engine, expires[ids[-1]], batch_size=5, on_expired=got.extend, lock=False)
        return got

    _, swept = _in_threads(pay_all, sweep_all)
    swept_ids = set(swept)
    assert len(swept) == len(swept_ids)
    rows = stored(engine, ids)
    for session_id in ids:
        status, expired_at, completed_at, _ = rows[session_id]
        if outcomes[session_id].completed:
            assert (status, expired_at) == ("complete", None)
            assert completed_at == expires[session_id] - timedelta(milliseconds=1)
            assert session_id not in swept_ids
        else:
            assert outcomes[session_id].step is Step.NOT_OPEN
            assert (status, expired_at, completed_at) == ("expired", expires[session_id], None)
            assert session_id in swept_ids
    assert 0 < len(swept_ids) < len(ids), "the payer and the sweep should each have won some sessions"


# ---- through beat's task and a real worker ---------------------------------------------------

def test_the_beat_task_on_a_real_worker_expires_due_sessions_and_runs_their_follow_ups(engine, celery_worker,
                                                                                       caplog):
    caplog.set_level("INFO", logger="paymentkit.workers")
    now = datetime.now(UTC)
    due = insert_sessions(engine, 3, now - timedelta(minutes=5))
    not_yet = insert_sessions(engine, 1, now + timedelta(hours=1))

    workers.app.send_task("checkout_sessions.expire_due")

    wait_for(lambda: {row[0] for row in stored(engine, due).values()} == {"expired"})
    announced = lambda: [r.getMessage() for r in caplog.records if r.name == "paymentkit.workers"]  # noqa: E731
    wait_for(lambda: all(any(f"checkout session {i} expired at" in m for m in announced()) for i in due))
    assert stored(engine, not_yet)[not_yet[0]][0] == "open"
    assert any(m.startswith("expiry sweep: ") for m in announced())


def test_a_follow_up_for_a_session_that_is_not_expired_changes_and_announces_nothing(engine, celery_worker,
                                                                                     caplog):
    caplog.set_level("INFO", logger="paymentkit.workers")
    session_id = insert_sessions(engine, 1, datetime.now(UTC) + timedelta(hours=1))[0]
    workers.app.send_task("checkout_sessions.expired", [session_id])
    wait_for(lambda: any(f"checkout session {session_id} is not expired" in r.getMessage() for r in caplog.records))
    assert not any(f"checkout session {session_id} expired at" in r.getMessage() for r in caplog.records)
    assert stored(engine, [session_id])[session_id][0] == "open"


# ---- what operators see ----------------------------------------------------------------------

@pytest.fixture
def earliest(engine) -> datetime:
    """Before every other window: its open sessions come first in `pending`."""
    start = datetime(1980, 1, 1, tzinfo=UTC)
    expiry.sweep(engine, start + timedelta(days=1), lock=False)
    return start


def test_stats_and_pending(engine, earliest):
    now = earliest + timedelta(hours=1)
    with engine.connect() as conn:
        before = expiry.stats(conn, now)
    overdue = insert_sessions(engine, 2, now - timedelta(seconds=100), step=timedelta(seconds=90))  # -100 s, -10 s
    upcoming = insert_sessions(engine, 1, now + timedelta(seconds=50))
    insert_sessions(engine, 1, now - timedelta(hours=2), status="complete")
    insert_sessions(engine, 1, now - timedelta(hours=2), status="expired")

    with engine.connect() as conn:
        after = expiry.stats(conn, now)
        nxt = expiry.pending(conn, now, limit=3)
    assert (after.open - before.open, after.complete - before.complete, after.expired - before.expired) == (3, 1, 1)
    assert (after.due_now, after.oldest_overdue_seconds) == (2, 100.0)
    assert [(p.id, p.overdue_seconds) for p in nxt] == [(overdue[0], 100.0), (overdue[1], 10.0), (upcoming[0], -50.0)]
    assert nxt[0].expires_at == now - timedelta(seconds=100) and nxt[0].account_id == "acct_expiry_tests"

    expiry.sweep(engine, now)
    with engine.connect() as conn:
        swept = expiry.stats(conn, now)
    assert (swept.due_now, swept.oldest_overdue_seconds) == (0, 0.0)
    assert (swept.open, swept.expired) == (after.open - 2, after.expired + 2)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "paymentkit"), "sessions", *args], cwd=ROOT,
                          env=dict(os.environ), capture_output=True, text=True, timeout=60)


def test_the_operator_commands_run_against_the_database(engine, settings):
    now = datetime.now(UTC)
    due = insert_sessions(engine, 2, now - timedelta(hours=1))

    stats = _cli("stats")
    assert stats.returncode == 0, stats.stderr
    shown = json.loads(stats.stdout)
    assert set(shown) == {"open", "complete", "expired", "due_now", "oldest_overdue_seconds"}
    assert shown["due_now"] >= 2 and shown["oldest_overdue_seconds"] >= 3600

    pending = _cli("pending", "--limit", "2")
    assert pending.returncode == 0, pending.stderr
    lines = [json.loads(line) for line in pending.stdout.splitlines()]
    assert len(lines) == 2 and all(line["overdue_seconds"] > 0 for line in lines)

    swept = _cli("expire-due")
    assert swept.returncode == 0, swept.stderr
    result = json.loads(swept.stdout)
    assert result["ran"] is True and result["expired"] >= 2
    assert {row[0] for row in stored(engine, due).values()} == {"expired"}

    after = json.loads(_cli("stats").stdout)
    assert after["due_now"] == 0 and after["expired"] >= shown["expired"] + 2
