"""Prometheus metrics, shared by the web and worker processes, and the loopback server that shows them.

Under gunicorn and Celery's prefork pool every process counts on its own; with
PROMETHEUS_MULTIPROC_DIR set (`make run` sets it) they write to files there and the metrics
server (`paymentkit metrics serve`, the Procfile's `metrics`) adds them up. Without it (tests, a
single process) the default registry is used. The counts are business volumes, so they are not
on the public port: the server binds METRICS_HOST:METRICS_PORT, 127.0.0.1:9100 by default.
"""
from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, start_wsgi_server
from prometheus_client.multiprocess import MultiProcessCollector

SHARE_OPENS = Counter("paymentkit_share_opens_total", "Share URL opens that made a checkout session")
SHARE_NOT_AVAILABLE = Counter("paymentkit_share_not_available_total", "Share URL opens answered with the generic 404")
SHARE_RATE_LIMITED = Counter("paymentkit_share_rate_limited_total", "Share URL opens refused by the rate limiter (429)")
ENQUEUE_FAILURES = Counter("paymentkit_enqueue_failures_total", "Jobs the broker did not take (answered 503)")
SESSIONS_CREATED = Counter("paymentkit_checkout_sessions_created_total", "Checkout sessions stored by the workers")
SESSIONS_COMPLETED = Counter("paymentkit_checkout_sessions_completed_total", "Checkout sessions paid")
SESSIONS_EXPIRED = Counter("paymentkit_checkout_sessions_expired_total", "Checkout sessions expired by the sweep or by hand")
EXPIRY_LAG = Gauge("paymentkit_expiry_lag_seconds",
                   "How long past expires_at the oldest session expired by the last sweep had waited",
                   multiprocess_mode="mostrecent")

BILLING_DUE = Gauge("paymentkit_billing_due", "Billing work due now (kind: renewals = period or trial ends, "
                    "retries = open invoices to charge), as the last sweep found it", ["kind"],
                    multiprocess_mode="mostrecent")
BILLING_OVERDUE_SECONDS = Gauge("paymentkit_billing_overdue_seconds",
                                "How long past its due time the oldest billing work was at the last sweep",
                                multiprocess_mode="mostrecent")
BILLING_CHARGES = Counter("paymentkit_billing_charges_total", "Off-session invoice charges by outcome", ["outcome"])


def registry() -> CollectorRegistry:
    """The metrics of every process of this host (or of this process alone)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        summed = CollectorRegistry()
        MultiProcessCollector(summed)
        return summed
    return REGISTRY


def start_server(host: str, port: int):
    """`GET /metrics` on host:port in a thread of this process; (server, thread)."""
    return start_wsgi_server(port, addr=host, registry=registry())
