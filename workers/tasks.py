"""Task bodies: a few lines each, named `<feature>.<verb>`."""
from __future__ import annotations

from domain import idempotency
from workers import app
from workers.context import unit_of_work


@app.task(name="idempotency_keys.purge_expired")
def purge_expired_idempotency_keys() -> int:
    """Forget idempotency keys older than 24 hours."""
    with unit_of_work() as uow:
        removed = idempotency.purge_expired(uow)
        uow.commit()
    return removed
