"""The Celery app of the sessions bench (`celery -A bench.worker_app worker`): the real one, plus a
task that does nothing, drained by the same workers as the baseline.

BENCH_PREFETCH and BENCH_EVENTS (0/1) override celeryconfig's prefetch multiplier and task
events; BENCH_CONF is a JSON object of other Celery settings to override; BENCH_QUIET names
loggers (comma-separated) set to WARNING. So the bench can measure what each setting costs
(`python -m bench sessions --explore`).
"""
import json
import logging
import os

from workers import app

if os.environ.get("BENCH_PREFETCH"):
    app.conf.worker_prefetch_multiplier = int(os.environ["BENCH_PREFETCH"])
if os.environ.get("BENCH_EVENTS"):
    app.conf.worker_send_task_events = os.environ["BENCH_EVENTS"] == "1"
if os.environ.get("BENCH_CONF"):
    app.conf.update(json.loads(os.environ["BENCH_CONF"]))
for _name in filter(None, os.environ.get("BENCH_QUIET", "").split(",")):
    logging.getLogger(_name).setLevel(logging.WARNING)


@app.task(name="bench.noop")
def noop(snapshot: dict) -> None:
    """Takes the message checkout_sessions.create takes and does nothing with it."""




@app.task(name="bench.noop_charge")
def noop_charge(invoice_id: str, attempt: int) -> None:
    """Takes the message billing.charge takes and does nothing with it."""


__all__ = ["app", "noop", "noop_charge"]
