"""The Celery app of the sessions bench (`celery -A bench.worker_app worker`): the real one, plus a
task that does nothing, drained by the same workers as the baseline."""
from workers import app


@app.task(name="bench.noop")
def noop(snapshot: dict) -> None:
    """Takes the message checkout_sessions.create takes and does nothing with it."""




@app.task(name="bench.noop_charge")
def noop_charge(invoice_id: str, attempt: int) -> None:
    """Takes the message billing.charge takes and does nothing with it."""


__all__ = ["app", "noop", "noop_charge"]
