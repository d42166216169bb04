"""The Celery app of the sessions bench (`celery -A bench.worker_app worker`): the real one, plus a
task that does nothing, drained by the same workers as the baseline.

BENCH_PREFETCH and BENCH_EVENTS (0/1) override celeryconfig's prefetch multiplier and task
events, so that the bench can measure what each setting costs (`python -m bench sessions --explore`).
"""
import os

from workers import app

if os.environ.get("BENCH_PREFETCH"):
    app.conf.worker_prefetch_multiplier = int(os.environ["BENCH_PREFETCH"])
if os.environ.get("BENCH_EVENTS"):
    app.conf.worker_send_task_events = os.environ["BENCH_EVENTS"] == "1"


@app.task(name="bench.noop")
def noop(snapshot: dict) -> None:
    """Takes the message checkout_sessions.create takes and does nothing with it."""




@app.task(name="bench.noop_charge")
def noop_charge(invoice_id: str, attempt: int) -> None:
    """Takes the message billing.charge takes and does nothing with it."""


__all__ = ["app", "noop", "noop_charge"]
