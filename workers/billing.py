"""Billing jobs (SPEC 8): the beat's sweep, one charge per invoice attempt, a test clock's advance.
Thin: each calls domain/billing.py and commits."""
from __future__ import annotations

import logging
import time

from domain import billing, billing_stats
from domain.db import utcnow
from domain.ids import random_base62
from runtime import metrics
from workers import app
from workers.context import processors, unit_of_work

log = logging.getLogger("paymentkit.workers")


def sweep(now, batch_size: int = billing.BATCH_SIZE) -> tuple[int, int]:
    """Make every invoice due by `now` and hand out every open invoice due to be charged, batch
    after batch (each batch its own short transaction; the jobs go out after its commit).
    (invoices made, charges handed out)."""
    made = handed = 0
    with unit_of_work() as uow:
        stats = billing_stats.stats(uow, now)
    metrics.BILLING_DUE.labels("renewals").set(stats.renewals_due)
    metrics.BILLING_DUE.labels("retries").set(stats.charges_due)
    metrics.BILLING_OVERDUE_SECONDS.set(stats.oldest_overdue_seconds)
    while True:
        with unit_of_work() as uow:
            ids = billing.make_due_invoices(uow, now, limit=batch_size)
            for invoice_id in ids:
                uow.send_after_commit("billing.charge", [invoice_id, 0], task_id=f"{invoice_id}.0")
            uow.commit()
        made += len(ids)
        if len(ids) < batch_size:
            break
    while True:
        with unit_of_work() as uow:
            due = billing.claim_due_invoices(uow, now, limit=batch_size)
            for invoice_id, attempt in due:
                uow.send_after_commit("billing.charge", [invoice_id, attempt],
                                      task_id=f"{invoice_id}.{attempt}.{random_base62(8)}")
            uow.commit()
        handed += len(due)
        if len(due) < batch_size:
            break
    return made, handed


@app.task(name="billing.run_due", soft_time_limit=240, time_limit=300)
def run_due() -> int:
    """Beat, every 30 s: period and trial ends become invoices (or cancellations), and due invoices
    (retries, first attempts whose job was lost) go to `billing.charge`. A second beat at once
    takes other rows (SKIP LOCKED), and each invoice exists once (its unique key)."""
    made, handed = sweep(utcnow())
    if made or handed:
        log.info("billing: %d invoices made, %d charges handed out", made, handed)
    return made + handed


@app.task(name="billing.charge", acks_late=True)
def charge(invoice_id: str, attempt: int) -> str | None:
    """Charge attempt `attempt` of an invoice off-session with its subscription's saved card. A
    repeated job, or one whose attempt was made already, does nothing."""
    status = billing.charge(unit_of_work, invoice_id, attempt, processors().for_processor, utcnow)
    if status is not None:
        metrics.BILLING_CHARGES.labels(status).inc()
        log.info("invoice %s attempt %d: %s", invoice_id, attempt + 1, status)
    return status


@app.task(name="test_clocks.advance", soft_time_limit=240, time_limit=300)
def advance_clock(clock_id: str) -> int:
    """Run what fell due on a test clock up to its new time, in order, then set it ready. A long
    advance (years of many subscriptions) goes on in a fresh job before this one nears its time
    limit; the clock reads `advancing` meanwhile."""
    steps, finished = billing.advance_clock(unit_of_work, clock_id, processors().for_processor, utcnow,
                                            deadline=time.monotonic() + ADVANCE_BUDGET_SECONDS)
    if not finished:
        advance_clock.apply_async((clock_id,), task_id=f"{clock_id}.advance.{random_base62(8)}")
    log.info("test clock %s advanced %d steps%s", clock_id, steps, "" if finished else "; going on in a new job")
    return steps


ADVANCE_BUDGET_SECONDS = 180
