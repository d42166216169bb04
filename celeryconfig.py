"""Every Celery setting in one place. Values come from the environment through Settings."""
from kombu import Queue

from runtime.jobs import JOBS, QUEUES
from runtime.settings import Settings

_settings = Settings.from_env()


def broker_url_for(redis_url: str) -> str:
    """redis-py speaks `unix:///path`; kombu wants `redis+socket:///path` for the same socket."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url[len("unix://"):]
    return redis_url


broker_url = broker_url_for(_settings.redis_url)
broker_connection_retry_on_startup = True
broker_transport_options = {
    # Each test run (and each deployment sharing a Redis) gets its own key space.
    "global_keyprefix": _settings.redis_key_prefix,
    # A message not acked within this many seconds is delivered again (acks_late + a crash). When
    # a whole worker dies (SIGKILL, OOM), the sessions it held wait this long (plus kombu's restore
    # period, 100 s) to be stored: well inside the hosted page's 10-minute "preparing" window.
    # Longer than any countdown (creation retries back off to 60 s); a sweep outliving it is
    # delivered again and steps aside (advisory lock); tests/faults/test_worker_killed.py.
    "visibility_timeout": 300,
    "socket_timeout": 2,
    "socket_connect_timeout": 2,
    # How soon a worker whose prefetch window was full (acks_late: a running job holds its slot)
    # looks for messages again: kombu's 1 s default put a 2 s tail on webhook deliveries (p99 of
    # commit-to-delivery 1,957 ms at 25 events/s; 64 ms with 0.1 s, bench/webhooks.py).
    "polling_interval": 0.1,
}
# Publishing must fail fast (the share endpoint answers 503 within 2 s), not retry for long.
broker_connection_timeout = 2
task_publish_retry = True
task_publish_retry_policy = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
timezone = "UTC"
enable_utc = True
task_ignore_result = True
result_backend = None

task_acks_late = True
task_reject_on_worker_lost = True
# One message per pool process at a time (acknowledged only after its task commits). 4 drained
# sessions at most 1.2x faster in the benches of this machine (level in another run), and with 4
# tests/faults/test_broker_down.py failed one run in two: after Redis was killed and restarted
# empty, the sessions accepted afterwards were not stored within 40 s (Celery lowers the prefetch
# on a lost connection and raises it again as reserved tasks finish). bench/README.md, sessions.
worker_prefetch_multiplier = 1
task_time_limit = 300
task_soft_time_limit = 240

# Events on, so Flower and `celery events` see every job.
worker_send_task_events = True
task_send_sent_event = True

task_default_queue = "default"
task_queues = tuple(Queue(name) for name in QUEUES)
task_routes = {name: {"queue": job.queue, **({"priority": job.priority} if job.priority else {})}
               for name, job in JOBS.items()}

beat_schedule = {
    "idempotency_keys.purge_expired": {"task": "idempotency_keys.purge_expired", "schedule": 3600.0},
    # Records expiries (reads derive them already). Nothing per session is scheduled ahead.
    "checkout_sessions.expire_due": {"task": "checkout_sessions.expire_due", "schedule": 30.0},
    # Asks processors about payments whose outcome nobody told us (timeouts, abandoned challenges).
    "payments.reconcile_due": {"task": "payments.reconcile_due", "schedule": 30.0},
    # Webhook retries are due rows (webhook_deliveries.next_attempt_at, a partial index): every
    # 2 s, so the first retry (5 s) comes within a few seconds of its time. A lost first job is
    # found here too, once its hand-out lease (30 s) has passed.
    "webhooks.deliver_due": {"task": "webhooks.deliver_due", "schedule": 2.0},
    "emails.send_due": {"task": "emails.send_due", "schedule": 30.0},
    # Renewals, trial ends, cancellations at period end and dunning retries are due rows
    # (subscriptions.next_billing_at, invoices.next_attempt_at: partial indexes), found here.
    "billing.run_due": {"task": "billing.run_due", "schedule": 30.0},
    # Events are kept 30 days.
    "events.purge_expired": {"task": "events.purge_expired", "schedule": 3600.0},
    # Share-URL opens counted in Redis -> link_daily_opens (the dashboard's funnels), today and yesterday.
    "link_opens.rollup": {"task": "link_opens.rollup", "schedule": 60.0},
}
