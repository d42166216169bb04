"""gunicorn settings (the web process of the Procfile)."""
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# Slow clients: the sync workers gave a process to a connection before its request had arrived,
# so four clients sending a request line, a Host header and then nothing stalled all four workers
# (a normal request waited 32.7 s, until gunicorn killed them). api/gunicorn_worker.py is
# gunicorn's asyncio worker reading each request whole (headers and body) before one of
# WEB_THREADS threads runs it: with 8 clients trickling headers or a body, normal requests are
# answered in milliseconds (tests/faults/test_slow_clients.py). gthread does not do this: it waits
# for a connection's first bytes off-thread, then reads the rest of the request on a thread.
#
# Chosen by measurement (bench/README.md, "gunicorn workers"): the share bench at 32 connections,
# six runs on the shared 2-core machine kind, req/s of each setting over sync 4's in the same run.
# Buffered 2 workers x 4 threads: median 1.00 (0.52-1.51, the machine's noise); 2 x 2: 1.05
# (0.86-1.43); 4 x 1: 0.73 and 4 x 2: 0.76-1.09, with the highest p99 (70-136 ms against 32-58:
# four event loops accept greedily, so one process's queue grows while another's empties). So the
# slow-client defence costs no throughput. One process per core, and 4 threads rather than 2 to
# cover the waits on PostgreSQL and Redis when they run on other machines (here they share the
# cores, and 2 and 4 measured alike). On bigger machines set WEB_CONCURRENCY to the cores.
# Behind a buffering proxy (nginx, a load balancer) this is still the right worker; the proxy then
# also absorbs slow clients before they reach this host.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "api.gunicorn_worker.Worker"
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
