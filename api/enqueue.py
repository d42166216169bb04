"""The one small door through which the web process sends jobs to the workers, by task name.

The app is handed a sender, so tests can use the real one against their own Redis key space
(and the fault tests a broker that is down)."""
from __future__ import annotations

from typing import Any, Protocol

from celery import Celery


class TaskSender(Protocol):
    def send(self, name: str, args: list[Any], *, task_id: str, queue: str, headers: dict[str, str] | None = None) -> None: ...


# The share endpoint answers 503 within 2 s when the broker is down. A broker that keeps its port
# open but never answers (frozen, overloaded) costs at least one socket timeout per publish (three
# through kombu's send_task: 6 s with celeryconfig's 2 s, tests/faults/test_broker_down.py), so the
# web process talks to the broker with 0.5 s timeouts. Workers keep celeryconfig's.
WEB_SOCKET_TIMEOUTS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}


class EnqueueFailed(Exception):
    """The broker did not take the job; nothing was handed out."""


class CelerySender:
    """Publishes with Celery's own protocol (so Flower and `celery events` see the jobs), without
    importing the workers' code: the producer is configured from celeryconfig alone."""

    def __init__(self, celery_app: Celery | None = None):
        if celery_app is None:
            celery_app = Celery("paymentkit-web")
            celery_app.config_from_object("celeryconfig")
            celery_app.conf.broker_transport_options = {**celery_app.conf.broker_transport_options,
                                                        **WEB_SOCKET_TIMEOUTS}
        self._app = celery_app

    def send(self, name: str, args: list[Any], *, task_id: str, queue: str, headers: dict[str, str] | None = None) -> None:
        try:
            # argsrepr: logs, `celery events` and Flower show the task id, never the arguments
            # (a snapshot carries the checkout token).
            self._app.send_task(name, args=args, task_id=task_id, queue=queue, headers=headers or {},
                                argsrepr=f"[{task_id}]", kwargsrepr="{}")
        except Exception as error:  # kombu raises many kinds: all mean "not enqueued"
            raise EnqueueFailed(type(error).__name__) from error
