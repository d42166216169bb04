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
# Chosen by measurement (bench/README.md, "gunicorn workers"; share bench, 32 connections, three
# back-to-back runs on the 2-core machine kind, req/s against sync 4 in the same run):
# buffered 2 workers x 4 threads 0.99-1.32 with the least web CPU per request (0.57-0.58 ms
# against 0.60-0.68); 2 x 2 0.86-1.06; 4 x 1 and 4 x 2 0.73-0.76 with 2-3x the p99 (four event
# loops accept greedily, so one process's queue grows while another's empties). One process per
# core, threads to cover the waits on PostgreSQL and Redis. On bigger machines set
# WEB_CONCURRENCY to the cores. Behind a buffering proxy (nginx, a load balancer) this is still
# the right worker; the proxy then also absorbs slow clients before they reach this host.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "api.gunicorn_worker.Worker"
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
