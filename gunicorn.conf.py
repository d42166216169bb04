"""gunicorn settings (the web process of the Procfile)."""
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = "sync"
timeout = 30
graceful_timeout = 10
keepalive = 2
# No server version in responses.
proc_name = "paymentkit-web"
accesslog = None


def child_exit(server, worker):
    """Let /metrics forget the live gauges of a worker that has gone."""
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
