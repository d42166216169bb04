"""gunicorn settings (the web process of the Procfile)."""
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# Chosen by measurement (bench/README.md, "gunicorn workers"): sync workers, two per core of the
# 2-core machine kind. gthread (2x4, 4x2) served about as many share opens, with 1.4-2.5x the p99
# in the quietest runs; 8 sync workers cost more CPU per request and served fewer. One per core
# served 4-35% more on the all-in-one bench box, where PostgreSQL and Redis use the cores while
# a worker waits on them; deployed they run elsewhere, and the second worker covers those waits.
# On bigger machines set WEB_CONCURRENCY to twice the cores.
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = "sync"
timeout = 30
graceful_timeout = 10
keepalive = 2
# No server version in responses.
proc_name = "paymentkit-web"
# gunicorn's access log would write raw paths (share and checkout tokens); the app writes its own
# JSON line per request with the route template instead (api.middleware.AccessLog).
accesslog = None


def child_exit(server, worker):
    """Let /metrics forget the live gauges of a worker that has gone."""
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
