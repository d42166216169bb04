"""Task bodies: a few lines each, named `<feature>.<verb>`, idempotent, taking JSON primitives."""
from __future__ import annotations

import logging

from domain import checkout_sessions, idempotency
from paymentkit import metrics
from workers import app
from workers.context import unit_of_work

log = logging.getLogger("paymentkit.workers")


@app.task(name="checkout_sessions.create", autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=60,
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
