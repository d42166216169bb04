"""Celery at its engine's speed: the sessions bench's baseline (`celery -A bench.minimal_app worker`).

A minimal app on the same broker and key space as ours, nothing of ours imported: prefetch 4 with
acks_late, no events, a task that does nothing with the message checkout_sessions.create takes.
The bench runs it with `-P prefork -c 2 --without-gossip --without-mingle --without-heartbeat
--loglevel WARNING`, the fastest plain no-op drain measured on this machine (bench/README.md).
"""
import os

from celery import Celery

app = Celery("minimal")
app.conf.update(
    broker_url=os.environ["BROKER_URL"],
    broker_transport_options={"global_keyprefix": os.environ.get("REDIS_KEY_PREFIX", ""), "visibility_timeout": 300},
    task_acks_late=True,
    worker_prefetch_multiplier=4,
    task_ignore_result=True,
    worker_send_task_events=False,
    task_default_queue="sessions",
    accept_content=["json"],
)


@app.task(name="bench.noop")
def noop(snapshot: dict) -> None:
    """Does nothing."""
