"""Expiry of checkout sessions: persisting what reads already derive, and what operators see.

Reads are exact without any of this (`checkout_sessions.effective_status`). The sweep only
records it: open sessions past `expires_at` become `expired`, in batches of short transactions,
each row exactly once. Every function takes `now` from the caller and the SQL never calls the
database clock, so tests can freeze time and all parts agree on what "due" means.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, and_, or_, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from domain.db import UnitOfWork
from domain.models import CheckoutSession
from domain.models import SessionStatus as Status

# `= ANY(ARRAY(subquery))` keeps the planner on the partial index and a primary-key lookup per
# id; `id IN (SELECT ...)` planned a full scan per batch and ran 3.5x slower (ARCHITECTURE 4).
# No `AND status = 'open'` in the outer WHERE: the subquery has locked and re-checked each row
# already, and that extra condition let the planner filter the partial index by `id = ANY(...)`
# instead of using the primary key (5,000 rows in 4.3 s instead of milliseconds).
_EXPIRE_BATCH = text("""
UPDATE checkout_sessions
   SET status = 'expired', expired_at = expires_at, updated_at = :now
 WHERE id = ANY(ARRAY(
         SELECT id FROM checkout_sessions
          WHERE status = 'open' AND expires_at <= :now AND payment_id IS NULL
          ORDER BY expires_at
          LIMIT :n
          FOR UPDATE SKIP LOCKED))
RETURNING id, expires_at
""")

# One key for "a sweep is running" in this database (pg advisory locks are per database).
SWEEP_LOCK_KEY = 0x706B_6578_7069_7279  # "pkexpiry" in ASCII


def _batch(executor: Session | Connection, now: datetime, batch_size: int) -> list[tuple[str, datetime]]:
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    rows = executor.execute(_EXPIRE_BATCH, {"now": now, "n": batch_size})
    return [(row_id, expires_at.astimezone(UTC)) for row_id, expires_at in rows]


def expire_due(target: UnitOfWork | Session | Connection | Engine, now: datetime,
               batch_size: int = 1000) -> list[str]:
    """Expire one batch of due sessions; the ids expired.

    Given an Engine, the batch is its own committed transaction. Given a unit of work, session
    or connection, it joins that transaction and the caller commits (as every domain service).
    Rows another transaction holds (a completion in flight, another sweep) are skipped, never
    waited for, so concurrent sweeps split the work and no row is expired twice.
    """
    if isinstance(target, Engine):
        with target.begin() as conn:
            return [row_id for row_id, _ in _batch(conn, now, batch_size)]
    executor = target.session if isinstance(target, UnitOfWork) else target
    return [row_id for row_id, _ in _batch(executor, now, batch_size)]


@dataclass(frozen=True)
class SweepResult:
    ran: bool                      # False: another sweep held the lock, this one did nothing
    expired: int = 0
    batches: int = 0
    oldest_expires_at: datetime | None = None   # of the sessions this sweep expired
    finished: bool = True          # False: stopped at its deadline with sessions perhaps still due

    def lag_seconds(self, now: datetime) -> float:
        """How long past its expires_at the longest-waiting session expired here had waited."""
        return max(0.0, (now - self.oldest_expires_at).total_seconds()) if self.oldest_expires_at else 0.0


def sweep(engine: Engine, now: datetime, batch_size: int = 5000,
          on_expired: Callable[[list[str]], None] | None = None, *, lock: bool = True,
          deadline: float | None = None) -> SweepResult:
    """Expire every session due at `now`, batch after batch (a backlog is caught up in one run),
    calling `on_expired(ids)` after each batch has committed. With a `deadline` (a
    `time.monotonic()` value) no batch starts after it; the result then says `finished=False`.

    Two sweeps at once are already safe without any lock: FOR UPDATE SKIP LOCKED gives each row
    to one of them, and the guarded UPDATE cannot expire a row twice. The lock is for economy:
    a session-level advisory lock held for the whole sweep (on the connection that runs the
    batches) makes a second sweep - a second beat, or a backlog outliving the 30 s schedule -
    return at once instead of splitting the batches and the follow-up fan-out with the first.
    It spans the whole sweep, not each batch, because most of a sweep's time is spent in
    `on_expired` (enqueueing), between the batch transactions, when a per-transaction lock
    would be free. PostgreSQL drops it when the connection closes, so a crashed worker cannot
    leave it behind; the `finally` releases it before the connection goes back to the pool.
    """
    with engine.connect() as conn:
        if lock:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": SWEEP_LOCK_KEY}).scalar_one()
            conn.commit()
            if not got:
                return SweepResult(ran=False)
        expired = batches = 0
        oldest: datetime | None = None
        finished = True
        try:
            while True:
                rows = _batch(conn, now, batch_size)
                conn.commit()
                if rows:
                    batches += 1
                    expired += len(rows)
                    first = min(expires_at for _, expires_at in rows)
                    oldest = first if oldest is None else min(oldest, first)
                    if on_expired is not None:
                        on_expired([row_id for row_id, _ in rows])
                if len(rows) < batch_size:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    finished = False
                    break
        finally:
            conn.rollback()
            if lock:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SWEEP_LOCK_KEY})
                conn.commit()
    return SweepResult(ran=True, expired=expired, batches=batches, oldest_expires_at=oldest, finished=finished)


def confirm_expired(uow: UnitOfWork, session_id: str) -> CheckoutSession | None:
    """The session if its stored status is `expired` (what a follow-up job acts on), else None."""
    session = uow.session.get(CheckoutSession, session_id)
    return session if session is not None and session.status == Status.EXPIRED else None


# ---- reading, for merchants and operators ----------------------------------------------------

def status_condition(status: str, now: datetime):
    """SQL for "the effective status is `status` at `now`", in the same terms as
    `checkout_sessions.effective_status`: a stored-open session past expires_at is expired,
    unless a payment of it is under way."""
    cs = CheckoutSession
    if status == Status.OPEN:
        return and_(cs.status == Status.OPEN, or_(cs.expires_at > now, cs.payment_id.is_not(None)))
    if status == Status.EXPIRED:
        return or_(cs.status == Status.EXPIRED,
                   and_(cs.status == Status.OPEN, cs.expires_at <= now, cs.payment_id.is_(None)))
    return cs.status == Status(status)


@dataclass(frozen=True)
class Stats:
    open: int                      # stored status open, including the due_now ones
    complete: int
    expired: int
    due_now: int                   # stored open, expires_at <= now: what the next sweep will write
    oldest_overdue_seconds: float  # now - the oldest due expires_at; 0 when nothing is due


def stats(session: Session | Connection, now: datetime) -> Stats:
    """Counts for operators. The counts by status read the whole table (an operator command may
    afford that; nothing on a request path calls this). The due part reads only the partial
    index `checkout_sessions_open_by_expiry`, which holds open sessions alone."""
    counts = dict(session.execute(text("SELECT status, count(*) FROM checkout_sessions GROUP BY status")).all())
    due, oldest = session.execute(text(
        "SELECT count(*), min(expires_at) FROM checkout_sessions"
        " WHERE status = 'open' AND expires_at <= :now AND payment_id IS NULL"),
        {"now": now}).one()
    overdue = round((now - oldest).total_seconds(), 3) if oldest is not None else 0.0
    return Stats(open=counts.get("open", 0), complete=counts.get("complete", 0), expired=counts.get("expired", 0),
                 due_now=due, oldest_overdue_seconds=overdue)


@dataclass(frozen=True)
class Pending:
    id: str
    account_id: str
    livemode: bool
    expires_at: datetime
    overdue_seconds: float         # > 0: past expires_at, waiting for the sweep; < 0: time left


def pending(session: Session | Connection, now: datetime, limit: int = 20) -> list[Pending]:
    """The next open sessions to expire, the overdue ones first (an ordered read of the partial index)."""
    rows = session.execute(text(
        "SELECT id, account_id, livemode, expires_at FROM checkout_sessions WHERE status = 'open' "
        "ORDER BY expires_at LIMIT :limit"), {"limit": limit}).all()
    return [Pending(row.id, row.account_id, row.livemode, row.expires_at.astimezone(UTC),
                    round((now - row.expires_at).total_seconds(), 3)) for row in rows]
