"""Many sessions per job: how a worker takes `checkout_sessions.create` messages off the queue.

The share endpoint sends one `checkout_sessions.create` message per open (Celery's protocol 2,
api/enqueue.py). Run as one job each, every session cost Celery's whole per-job work in the
worker's main process (a request object, task events, log lines, a trip to a pool child and
back) and a transaction of its own: the worker stored sessions at under half the rate a minimal
Celery app drains no-op jobs (bench/README.md, "The worker tier").

So the worker's main process does not run these messages: it collects them as they arrive (the
`Strategy` Celery calls for each message of the task) and, when `BATCH_MAX` have come or
`FLUSH_AFTER` seconds have passed since the first, publishes them as one
`checkout_sessions.store` job and only then acknowledges the messages. That job is an ordinary
Celery job (acks_late, retried with backoff while the database is away, task events, so Flower
and `celery events` show it with the ids it stores), and it stores its sessions in one INSERT
and one commit.

Nothing is lost or stored twice: a message is acknowledged only after the job holding it is on
the broker; a worker that dies before that leaves the messages unacknowledged, and the broker
delivers them again (visibility timeout); one that dies between the publish and the
acknowledgements stores them twice in two jobs, and the second INSERT stores nothing
(`ON CONFLICT (id) DO NOTHING`: the session's id is the message's id). When the broker does not
take the store job, the messages run one by one, each as the job Celery would have made of it.

A message this cannot read as a session (another protocol, a countdown of a retry sent by an
older release) goes to Celery's own strategy and runs as a job of its own, as before.
"""
from __future__ import annotations

import logging
import threading

log = logging.getLogger("paymentkit.workers")

# bench/sessions.py (6,000 messages, 2 rounds, vs the minimal app's no-op drain): at most 20 a
# job 0.90, 50 0.96, 200 1.00, 1,000 0.99. Past ~50 the main process's fetch of each message is
# the limit; 200 bounds what one retried job holds and what a crash hands back at once.
BATCH_MAX = 200
# The first session of a quiet moment waits at most this long before its job is sent: well
# inside the hosted page's first poll (it shows "preparing" until the session is stored).
FLUSH_AFTER = 0.02


class SessionBatcher:
    """The strategy of `checkout_sessions.create` in one worker: collect, publish, acknowledge."""

    def __init__(self, consumer, store_job, one_by_one):
        self._consumer = consumer
        self._store_job = store_job  # the `checkout_sessions.store` task
        self._one_by_one = one_by_one  # Celery's own strategy for the task, for what this cannot read
        self._pending: list[tuple[list, tuple]] = []  # ([snapshot, request id], the strategy's arguments)
        self._flush_entry = None
        # The timer fires in the consumer's event loop (prefork), or in a thread of its own
        # (the threads and solo pools): a message must never join a list already being sent.
        self._lock = threading.Lock()

    def __call__(self, message, body, ack, reject, callbacks) -> None:
        handed = _session_of(message)
        if handed is None:
            return self._one_by_one(message, body, ack, reject, callbacks)
        # A collected message is not running in the pool: like a job waiting for its ETA, it
        # must not use up the prefetch window the pool's jobs are fetched with.
        self._consumer.qos.increment_eventually()
        with self._lock:
            self._pending.append((handed, (message, body, ack, reject, callbacks)))
            full = len(self._pending) >= BATCH_MAX
            if not full and self._flush_entry is None:
                self._flush_entry = self._consumer.timer.call_after(FLUSH_AFTER, self.flush)
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            if self._flush_entry is not None:
                self._flush_entry.cancel()
                self._flush_entry = None
            pending, self._pending = self._pending, []
        if not pending:
            return
        qos = self._consumer.qos
        ids = [handed[0]["id"] for handed, _ in pending]
        try:
            job = self._store_job.apply_async(args=[[handed for handed, _ in pending]], argsrepr=_ids_repr(ids))
        except Exception:  # connection, timeout, encoding: all mean "not on the broker"
            # The broker did not take the job: each message runs as a job of its own instead, as
            # Celery runs any message (stored from the pool, acknowledged after, retried while the
            # database is away). Left unacknowledged here, they would hold the prefetch window
            # until the broker's visibility timeout.
            log.exception("could not hand %d checkout sessions to a store job; storing them one by one", len(ids))
            for _, arguments in pending:
                qos.decrement_eventually()
                self._one_by_one(*arguments)
            return
        # Which job holds a session, for whoever follows one through the logs.
        log.info("%d checkout sessions handed to checkout_sessions.store[%s]: %s", len(ids), job.id, " ".join(ids))
        errors = self._consumer.connection_errors
        for _, (message, *_rest) in pending:
            message.ack_log_error(log, errors)
            qos.decrement_eventually()


def _session_of(message) -> list | None:
    """[snapshot, request id] of a plain `checkout_sessions.create` message, else None."""
    headers = message.headers or {}
    if headers.get("eta"):  # a countdown is sent as an eta
        return None
    try:
        args, _kwargs, _embed = message.decode()
        snapshot = args[0]
    except Exception:  # noqa: BLE001 (whatever this cannot read, Celery's own strategy reads or refuses)
        return None
    if not isinstance(snapshot, dict) or snapshot.get("id") != headers.get("id"):
        return None
    return [snapshot, headers.get("request_id") or ""]


def _ids_repr(ids: list[str]) -> str:
    """What Flower and `celery events` show as the store job's arguments: the ids, not the snapshots
    (a snapshot carries the checkout token)."""
    return f"[{len(ids)} sessions: {', '.join(ids)}]"
