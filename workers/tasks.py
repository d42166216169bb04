"""Task bodies: a few lines each, named `<feature>.<verb>`, idempotent, taking JSON primitives."""
from __future__ import annotations

import contextlib
import logging
import time

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from domain import checkout_payments, checkout_sessions, expiry, idempotency, payment_records, processor_events
from domain.db import utcnow
from domain.ids import random_base62
from runtime import metrics
from workers import app
from workers.context import processors, unit_of_work

log = logging.getLogger("paymentkit.workers")


# The database out of reach (down, restarting, pool exhausted) is worth waiting for: the customer
# already holds the session's URL and its page says "preparing" for 10 minutes. Anything else (a
# snapshot this code cannot store) fails at once, logged with the task id, instead of retrying forever.
DATABASE_AWAY = (OperationalError, PoolTimeout)


@app.task(name="checkout_sessions.create", autoretry_for=DATABASE_AWAY, retry_backoff=True, retry_backoff_max=60,
          max_retries=None)
def create_checkout_session(snapshot: dict) -> bool:
    """Persist a session the web process has already handed out; a redelivery creates nothing twice."""
    with unit_of_work() as uow:
        created = checkout_sessions.store(uow, snapshot)
        uow.commit()
    if created:
        metrics.SESSIONS_CREATED.inc()
        log.info("checkout session %s stored", snapshot["id"])
    return created


@app.task(name="idempotency_keys.purge_expired")
def purge_expired_idempotency_keys() -> int:
    """Forget idempotency keys older than 24 hours."""
    with unit_of_work() as uow:
        removed = idempotency.purge_expired(uow)
        uow.commit()
    return removed


# ---- expiry ---------------------------------------------------------------------------------

# bench/expiry.py: 10,000 beat 5,000 in every paired run (by 15-20%); both reach the bare UPDATE's
# rate within the machine's noise; 20,000 was slower in the run that tried it, and holds more row locks.
EXPIRY_BATCH_SIZE = 10_000
# A sweep stops starting batches after this long and hands the rest to a fresh run (queued at
# once, no ETA), so no run nears its time limit or the broker's visibility timeout.
EXPIRY_BUDGET_SECONDS = 600


def sweep_and_follow_up(now, budget_seconds: float | None = EXPIRY_BUDGET_SECONDS) -> expiry.SweepResult:
    """One sweep at `now`; after each committed batch, one `checkout_sessions.expired` job per id,
    published through one producer in a Redis pipeline (kombu's publish batch, where it has one)."""
    with unit_of_work() as uow:
        engine = uow.session.get_bind()
    with app.producer_or_acquire() as producer:
        def follow_up(ids: list[str]) -> None:
            batch = producer.batch(1000) if hasattr(producer, "batch") else contextlib.nullcontext()
            with batch:
                for session_id in ids:
                    checkout_session_expired.apply_async((session_id,), task_id=f"{session_id}.expired",
                                                         producer=producer)

        deadline = time.monotonic() + budget_seconds if budget_seconds is not None else None
        result = expiry.sweep(engine, now, EXPIRY_BATCH_SIZE, follow_up, deadline=deadline)
    if result.ran:
        metrics.SESSIONS_EXPIRED.inc(result.expired)
        metrics.EXPIRY_LAG.set(result.lag_seconds(now))
    return result


@app.task(name="checkout_sessions.expire_due", soft_time_limit=900, time_limit=960)
def expire_due_sessions() -> int:
    """Beat, every 30 s: record the expiry of every session due now, then announce each one.

    Nothing per session is scheduled ahead of time: with the Redis broker an ETA task sits in
    worker memory until due and one beyond the visibility timeout is delivered again and again.
    A second beat (or an overlapping run) is harmless: see `expiry.sweep`.
    """
    now = utcnow()
    result = sweep_and_follow_up(now)
    if not result.ran:
        log.info("expiry sweep skipped: another sweep is running")
        return 0
    if not result.finished:
        expire_due_sessions.apply_async()
    log.info("expiry sweep: %d sessions expired in %d batches, lag %.1f s%s", result.expired, result.batches,
             result.lag_seconds(now), "" if result.finished else "; continuing in a new run")
    return result.expired


@app.task(name="checkout_sessions.expired", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=8)
def checkout_session_expired(session_id: str) -> bool:
    """A session's expiry has been recorded: re-check it and announce it (events and webhooks
    will hang here). It changes nothing, so a duplicate or a redelivery does no harm."""
    with unit_of_work() as uow:
        session = expiry.confirm_expired(uow, session_id)
        expired_at = session.expired_at if session is not None else None
    if expired_at is None:
        log.warning("checkout session %s is not expired; nothing to announce", session_id)
        return False
    log.info("checkout session %s expired at %s", session_id, expired_at.isoformat())
    return True


# ---- payments -------------------------------------------------------------------------------

@app.task(name="payments.reconcile_due")
def reconcile_due_payments() -> int:
    """Beat, every 30 s: hand each payment whose outcome is open and due to a job of its own.
    Due work is data (payments.next_check_at, a partial index); a second beat claims nothing twice."""
    with unit_of_work() as uow:
        due = checkout_payments.claim_due(uow, utcnow())
        refunds = payment_records.claim_due_refunds(uow, utcnow())
        for name, ids in (("payments.reconcile", due), ("refunds.reconcile", refunds)):
            for object_id in ids:
                uow.send_after_commit(name, [object_id], task_id=f"{object_id}.check.{random_base62(8)}")
        uow.commit()
    if due or refunds:
        log.info("payments: %d payments and %d refunds due for a check with their processor", len(due), len(refunds))
    return len(due) + len(refunds)


@app.task(name="payments.reconcile", autoretry_for=DATABASE_AWAY, retry_backoff=True, max_retries=8)
def reconcile_payment(payment_id: str) -> str | None:
    """Ask the payment's processor what became of it, by our idempotency key, and record that."""
    attempt = checkout_payments.reconcile(unit_of_work, payment_id, processors().for_processor, utcnow)
    if attempt is None:
        return None
    if attempt.completed:
        metrics.SESSIONS_COMPLETED.inc()
    log.info("payment %s reconciled: %s", payment_id, attempt.step.value)
    return attempt.step.value


@app.task(name="refunds.reconcile", autoretry_for=DATABASE_AWAY, retry_backoff=True, max_retries=8)
def reconcile_refund(refund_id: str) -> str | None:
    """Ask the processor what became of a pending refund, by its id, and record that."""
    refund = payment_records.reconcile_refund(unit_of_work, refund_id, processors().for_processor, utcnow)
    if refund is None:
        return None
    log.info("refund %s reconciled: %s", refund_id, refund.status)
    return refund.status


@app.task(name="processor_events.apply", autoretry_for=DATABASE_AWAY, retry_backoff=True, max_retries=8)
def apply_processor_event(processor: str, event_id: str) -> str | None:
    """Apply a processor's notification kept in the inbox; a redelivery changes nothing."""
    with unit_of_work() as uow:
        outcome = processor_events.apply(uow, processor, event_id, processors().translator(processor), utcnow())
        uow.commit()
    log.info("%s notification %s: %s", processor, event_id, outcome or "applied before")
    return outcome
