"""Task bodies: a few lines each, named `<feature>.<verb>`, idempotent, taking JSON primitives."""
from __future__ import annotations

import contextlib
import logging
import smtplib
import time

from celery.worker.strategy import default as default_strategy
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

import msgspec

from domain import (checkout_payments, checkout_sessions, events, expiry, funnel, idempotency, payment_records,
                    processor_events, webhooks)
from domain import emails as email_records
from domain.db import utcnow
from domain.ids import random_base62
from domain.processors import SecretBox
from runtime import logs, metrics, webhook_http
from runtime.link_opens import rollup_days
from workers import app, emails
from workers.context import engine, opens_reader, processors, settings, unit_of_work
from workers.session_batches import SessionBatcher

log = logging.getLogger("paymentkit.workers")


# The database out of reach (down, restarting, pool exhausted) is worth waiting for: the customer
# already holds the session's URL and its page says "preparing" for 10 minutes. Anything else (a
# snapshot this code cannot store) fails at once, logged with the task id, instead of retrying forever.
DATABASE_AWAY = (OperationalError, PoolTimeout)


class _CreateInBatches(app.Task):
    """`checkout_sessions.create` messages are collected into `checkout_sessions.store` jobs by the
    worker that takes them (workers/session_batches.py); the task body runs only for a message
    the batcher leaves to Celery (and for a direct call)."""

    def Strategy(self, task, app, consumer, **options):  # Celery's attribute name
        return SessionBatcher(consumer, store_checkout_sessions, default_strategy(task, app, consumer, **options))


@app.task(name="checkout_sessions.create", base=_CreateInBatches, autoretry_for=DATABASE_AWAY, retry_backoff=True,
          retry_backoff_max=60, max_retries=None)
def create_checkout_session(snapshot: dict) -> bool:
    """Persist a session the web process has already handed out; a redelivery creates nothing twice."""
    return _store_handed([[snapshot, logs.request_id.get() or ""]]) == 1


@app.task(name="checkout_sessions.store", autoretry_for=DATABASE_AWAY, retry_backoff=True, retry_backoff_max=60,
          max_retries=None)
def store_checkout_sessions(handed: list[list]) -> int:
    """Persist sessions the web process has already handed out, [snapshot, request id] each, in
    one transaction; how many were new (a redelivered job, or a session handed over twice, stores
    nothing twice)."""
    return _store_handed(handed)


def _store_handed(handed: list[list]) -> int:
    """Both creation tasks' storing; each stored session is logged under the request that opened it."""
    with engine().begin() as connection:  # commits, or rolls back on an error
        created = checkout_sessions.store_many_on(connection, [snapshot for snapshot, _ in handed])
    metrics.SESSIONS_CREATED.inc(len(created))
    for snapshot, request_id in handed:
        if snapshot["id"] in created:
            token = logs.request_id.set(request_id or None)
            log.info("checkout session %s stored", snapshot["id"])
            logs.request_id.reset(token)
    return len(created)


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
    """A session's expiry has been recorded: re-check it and announce it (its
    `checkout.session.expired` event, written once: a merchant's expire wrote it already, a
    duplicate or a redelivery finds it written)."""
    with unit_of_work() as uow:
        session = expiry.confirm_expired(uow, session_id)
        expired_at = session.expired_at if session is not None else None
        if session is not None:
            checkout_sessions.announce_expired(uow, session, utcnow())  # once: a repeat finds its key taken
            uow.commit()
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
        setups = checkout_payments.claim_due_method_checks(uow, utcnow())
        for name, ids in (("payments.reconcile", due), ("refunds.reconcile", refunds),
                          ("checkout_sessions.reconcile_method", setups)):
            for object_id in ids:
                uow.send_after_commit(name, [object_id], task_id=f"{object_id}.check.{random_base62(8)}")
        uow.commit()
    if due or refunds or setups:
        log.info("payments: %d payments, %d refunds and %d saved cards due for a check with their processor",
                 len(due), len(refunds), len(setups))
    return len(due) + len(refunds) + len(setups)


@app.task(name="payments.reconcile", autoretry_for=DATABASE_AWAY, retry_backoff=True, max_retries=8)
def reconcile_payment(payment_id: str) -> str | None:
    """Ask the payment's processor what became of it, by our idempotency key, and record that."""
    attempt = checkout_payments.reconcile(unit_of_work, payment_id, processors().for_processor, utcnow)
    return _reconciled(attempt, "payment %s reconciled: %s", payment_id)


@app.task(name="checkout_sessions.reconcile_method", autoretry_for=DATABASE_AWAY, retry_backoff=True, max_retries=8)
def reconcile_saved_method(session_id: str) -> str | None:
    """Ask the processor what became of a setup checkout's card whose answer was lost, and record that."""
    attempt = checkout_payments.reconcile_saved_method(unit_of_work, session_id, processors().for_owner, utcnow)
    return _reconciled(attempt, "checkout session %s card reconciled: %s", session_id)


def _reconciled(attempt: checkout_payments.Attempt | None, message: str, object_id: str) -> str | None:
    """A reconcile job's result: the step reached (None: nothing to do), a completion counted."""
    if attempt is None:
        return None
    if attempt.completed:
        metrics.SESSIONS_COMPLETED.inc()
    log.info(message, object_id, attempt.step.value)
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
    if outcome == processor_events.COMPLETED:
        metrics.SESSIONS_COMPLETED.inc()
    log.info("%s notification %s: %s", processor, event_id, outcome or "applied before")
    return outcome


# ---- events and webhooks --------------------------------------------------------------------

@app.task(name="webhooks.deliver", autoretry_for=DATABASE_AWAY, retry_backoff=True, max_retries=8)
def deliver_webhook(delivery_id: str, attempt: int) -> int | None:
    """One attempt of one delivery: claimed in one transaction, sent with no transaction open
    (10 s at most), recorded in another. A repeated job, or one for an attempt made already, does
    nothing; a worker killed mid-attempt leaves the delivery leased, and the sweep hands it out
    again when the lease is over. The status code the endpoint answered, if any."""
    box = SecretBox(settings().encryption_key)
    with unit_of_work() as uow:
        begun = webhooks.begin_attempt(uow, delivery_id, attempt, box, utcnow())
        uow.commit()
    if begun is None:
        return None
    first_status = None
    budget = time.monotonic() + DRAIN_SECONDS
    for made in range(DRAIN_DELIVERIES):
        outcome = send_webhook(begun)
        log.info("webhook delivery %s attempt %d: %s in %d ms", begun.delivery_id, begun.attempt + 1,
                 outcome.status_code or outcome.error, outcome.duration_ms)
        first_status = first_status or outcome.status_code or 0
        # Delivered and the endpoint answering: go on with its next due delivery in this job (no
        # round trip through the broker), within a budget, so one endpoint's backlog is not a
        # worker's whole day; otherwise free the endpoint and hand its next one to a job.
        go_on = outcome.succeeded and made + 1 < DRAIN_DELIVERIES and time.monotonic() < budget
        with unit_of_work() as uow:
            webhooks.record_attempt(uow, begun, outcome, utcnow(), hand_out_next=not go_on)
            begun = webhooks.begin_next(uow, begun.endpoint_id, box, utcnow()) if go_on else None
            uow.commit()
        if begun is None:
            break
    return first_status or None


DRAIN_DELIVERIES = 200
DRAIN_SECONDS = 5.0


def send_webhook(begun: webhooks.Begun) -> webhooks.Outcome:
    """The event, signed with the endpoint's secrets, POSTed to it through the SSRF guard."""
    body = msgspec.json.encode(begun.body)
    headers = webhook_http.signed_headers(begun.event_id, body, begun.secrets, utcnow())
    answer = webhook_http.post(begun.url, body, headers, allow_private=settings().webhook_allow_private_urls)
    return webhooks.Outcome(answer.status, answer.duration_ms, answer.body, answer.error, answer.retry_after)


def hand_out_due_webhooks(now) -> int:
    """Every endpoint that is free gets its longest-waiting due delivery (the beat's sweep; tests
    call it with a later `now` to travel to a retry's time)."""
    with unit_of_work() as uow:
        handed = webhooks.hand_out_due(uow, now)
        uow.commit()
    return handed


@app.task(name="webhooks.deliver_due")
def deliver_due_webhooks() -> int:
    """Beat, every 2 s: retries that are due, and first attempts whose job was lost."""
    handed = hand_out_due_webhooks(utcnow())
    if handed:
        log.info("webhooks: %d due deliveries handed out", handed)
    return handed


@app.task(name="events.purge_expired")
def purge_expired_events() -> int:
    """Beat, hourly: events are kept 30 days (their deliveries and emails go with them)."""
    removed = 0
    while True:
        with unit_of_work() as uow:
            batch = events.purge_expired(uow, utcnow())
            uow.commit()
        removed += batch
        if batch < 5000:
            return removed


# ---- emails ---------------------------------------------------------------------------------

@app.task(name="emails.send", autoretry_for=DATABASE_AWAY, retry_backoff=True, max_retries=8)
def send_email(email_id: str, attempt: int) -> bool | None:
    """One attempt to send a receipt or notice: claimed by number (a repeated job sends nothing),
    sent over SMTP with no transaction open, recorded sent or due again."""
    config = settings()
    if not config.smtp_url:
        return None
    with unit_of_work() as uow:
        item = email_records.begin_send(uow, email_id, attempt, utcnow())
        uow.commit()
    if item is None:
        return None
    try:
        emails.send(config.smtp_url, emails.message(item, config.email_from, utcnow()))
    except (OSError, smtplib.SMTPException) as failure:
        log.warning("email %s not sent (attempt %d): %s", email_id, attempt + 1, type(failure).__name__)
        with unit_of_work() as uow:
            email_records.record_failed(uow, email_id, utcnow())
            uow.commit()
        return False
    with unit_of_work() as uow:
        email_records.record_sent(uow, email_id, utcnow())
        uow.commit()
    log.info("email %s (%s) sent", email_id, item.kind)
    return True


@app.task(name="emails.send_due")
def send_due_emails() -> int:
    """Beat, every 30 s: emails due again after a failure, or whose first job was lost."""
    if not settings().smtp_url:
        return 0
    with unit_of_work() as uow:
        handed = email_records.hand_out_due(uow, utcnow())
        uow.commit()
    return handed


# ---- link funnels ---------------------------------------------------------------------------

@app.task(name="link_opens.rollup", autoretry_for=DATABASE_AWAY, retry_backoff=True, max_retries=3)
def rollup_link_opens() -> int:
    """Beat, every minute: copy today's and yesterday's share-URL open counters from Redis into
    link_daily_opens (runtime/link_opens.py says what a Redis restart does)."""
    reader, now, stored = opens_reader(), utcnow(), 0
    for day in rollup_days(now):
        with unit_of_work() as uow:
            counts = reader.read(day, funnel.stored_opens(uow, day))
            stored += funnel.store_opens(uow, day, counts, now)
            uow.commit()
    return stored


from workers import billing as _billing  # noqa: E402,F401  (registers the billing tasks)
