"""The one small door through which the web process sends jobs to the workers, by job name.

The app is handed a sender, so tests can use the real one against their own Redis key space
(and the fault tests a broker that is down). Where a job goes comes from runtime/jobs.py, the
table celeryconfig routes by; every message carries the request id of the request that sent it."""
from __future__ import annotations

import uuid
from base64 import b64encode
from typing import Any, Protocol

import msgspec
import redis
from celery import Celery
from redis.backoff import NoBackoff
from redis.retry import Retry

from runtime import logs
from runtime.held_redis import HeldRedis
from runtime.jobs import JOBS, Job

_json = msgspec.json.Encoder()


class TaskSender(Protocol):
    def send(self, name: str, args: list[Any], *, task_id: str) -> None: ...


# The share endpoint answers 503 within 2 s when the broker is down. A broker that keeps its port
# open but never answers (frozen, overloaded) costs at least one socket timeout per publish (three
# through kombu's send_task: 6 s with celeryconfig's 2 s, tests/faults/test_broker_down.py), so the
# web process talks to the broker with 0.5 s timeouts. Workers keep celeryconfig's.
WEB_SOCKET_TIMEOUTS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}


class EnqueueFailed(Exception):
    """The broker did not take the job; nothing was handed out."""


class CelerySender:
    """Publishes Celery protocol-2 messages without importing the workers' code: configured from
    celeryconfig alone.

    Each job is one `LPUSH` of exactly the message Celery's producer writes to its Redis transport
    (headers and body from Celery's own `as_task_v2`, kombu's envelope), onto the queue's key.
    `send_task` costs ~7x the CPU and two round trips (the LPUSH and a `task-sent` event PUBLISH);
    on the share path that was the largest cost (bench/README.md). The `task-sent` event is the
    one thing left out: the worker's own events (received, started, succeeded) still show every
    job in Flower and `celery events`.
    """

    def __init__(self, celery_app: Celery | None = None, jobs: dict[str, Job] = JOBS):
        if celery_app is None:
            celery_app = Celery("paymentkit-web")
            celery_app.config_from_object("celeryconfig")
            celery_app.conf.broker_transport_options = {**celery_app.conf.broker_transport_options,
                                                        **WEB_SOCKET_TIMEOUTS}
        self._app = celery_app
        self._jobs = jobs
        options = celery_app.conf.broker_transport_options or {}
        self._key_prefix = options.get("global_keyprefix", "")
        # One retry, at once, on a broken connection (a pooled socket Redis has closed); none on
        # a timeout, so a frozen broker costs one socket timeout.
        self._redis = redis.Redis.from_url(
            _redis_py_url(celery_app.conf.broker_url), socket_timeout=options.get("socket_timeout", 2),
            socket_connect_timeout=options.get("socket_connect_timeout", 2),
            retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)))
        # One connection per thread, spoken to directly (runtime/held_redis.py: the client's
        # per-command pool checkout cost 3x the LPUSH); the same single retry on a broken one.
        self._held = HeldRedis(self._redis)
        # Celery's own headers and body options for a job sent from this process; per job only
        # the task, its id and argsrepr change (as_task_v2 per job cost a tenth of a share open).
        template = celery_app.amqp.as_task_v2("", "", args=[], kwargs={}, argsrepr="", kwargsrepr="{}",
                                              ignore_result=None)
        self._headers, self._options = template.headers, template.body[2]

    def send(self, name: str, args: list[Any], *, task_id: str) -> None:
        job = self._jobs[name]
        try:
            self._held.call("LPUSH", self._key_prefix + queue_key(job), self.message(name, args, task_id=task_id))
        except Exception as error:  # connection, timeout, encoding: all mean "not enqueued"
            raise EnqueueFailed(type(error).__name__) from error

    def message(self, name: str, args: list[Any], *, task_id: str) -> bytes:
        """What `send_task(name, args, task_id=..., headers={"request_id": ...})` puts on the queue
        celeryconfig routes the job to (tests/integration/test_enqueue.py compares the two)."""
        job = self._jobs[name]
        # argsrepr: logs, `celery events` and Flower show the task id, never the arguments
        # (a snapshot carries the checkout token).
        job_headers = {**self._headers, "task": name, "id": task_id, "root_id": task_id, "argsrepr": f"[{task_id}]",
                       "request_id": logs.request_id.get() or ""}
        return _json.encode({
            "body": b64encode(_json.encode([args, {}, self._options])).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": job_headers,
            "properties": {"correlation_id": task_id, "reply_to": self._app.thread_oid, "delivery_mode": 2,
                           "delivery_info": {"exchange": "", "routing_key": job.queue}, "priority": job.priority,
                           "body_encoding": "base64", "delivery_tag": str(uuid.uuid4())},
        })


def queue_key(job: Job) -> str:
    """The Redis list kombu's Redis transport reads for this job's queue and priority: each
    priority step above 0 has a list of its own (`expiry` + "\\x06\\x16" + `9`)."""
    return f"{job.queue}\x06\x16{job.priority}" if job.priority else job.queue


def _redis_py_url(broker_url: str) -> str:
    """kombu's `redis+socket:///path` is redis-py's `unix:///path` (celeryconfig turns one into the other)."""
    if broker_url.startswith("redis+socket://"):
        return "unix://" + broker_url[len("redis+socket://"):]
    return broker_url
