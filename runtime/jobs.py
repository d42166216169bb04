"""Every job by name, and where it goes: the one table that celeryconfig (routes, queues) and the
web process's sender both read. Call sites name a job; nobody names a queue."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    queue: str
    # On the Redis broker a lower number is served first (kombu's priority steps 0, 3, 6, 9).
    priority: int = 0


JOBS: dict[str, Job] = {
    "checkout_sessions.create": Job("sessions"),
    # Many creations per job (workers/session_batches.py), on the queue the creations come from.
    "checkout_sessions.store": Job("sessions"),
    "checkout_sessions.expire_due": Job("expiry"),
    # Follow-ups wait behind sweeps on the shared queue: a sweep must not queue behind the
    # thousands of follow-ups a backlog fans out to.
    "checkout_sessions.expired": Job("expiry", priority=9),
    "idempotency_keys.purge_expired": Job("default"),
    "payments.reconcile_due": Job("payments"),
    "payments.reconcile": Job("payments"),
    "refunds.reconcile": Job("payments"),
    "checkout_sessions.reconcile_method": Job("payments"),
    "processor_events.apply": Job("payments"),
    # Outbound HTTP to merchants' endpoints on a queue of its own, so that a slow endpoint's
    # attempts (up to 10 s each) never wait in line before session creation or expiry.
    "webhooks.deliver": Job("webhooks"),
    "webhooks.deliver_due": Job("webhooks"),
    "events.purge_expired": Job("default"),
    # Billing on a queue of its own: a backlog of renewals never waits before session creation, and
    # the sweep is served before the charges it fans out to.
    "billing.run_due": Job("billing"),
    "billing.charge": Job("billing", priority=9),
    "test_clocks.advance": Job("billing"),
    "emails.send": Job("emails"),
    "emails.send_due": Job("emails"),
    "link_opens.rollup": Job("default"),
}

QUEUES: tuple[str, ...] = tuple(sorted({job.queue for job in JOBS.values()}))


def job(name: str) -> Job:
    try:
        return JOBS[name]
    except KeyError:
        raise LookupError(f"no job named {name!r} in runtime/jobs.py") from None
