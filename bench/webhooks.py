"""Webhook delivery: deliveries per second to a local receiver, against a bare loop of HTTP POSTs
from one process to the same receiver in the same run; and the delay from commit to delivery.

    python -m bench webhooks [--events 500] [--endpoints 1 4] [--paced 300] [--rate 25]

The receiver is a threaded HTTP server in a process of its own on loopback, answering 200 at
once and noting when each `webhook-id` arrived. The workers are the Procfile's worker command
(same queues, concurrency and pool) on a scratch database, with WEBHOOK_ALLOW_PRIVATE_URLS=1.

- baseline: `http.client`, one new connection per POST (as each delivery opens its own), the
  event-sized body, in a loop from this process, as fast as it goes.
- throughput: `--events` customers made in one transaction each (each writes a
  `customer.created` event and one delivery per endpoint), as fast as the bench can commit,
  then the time until every delivery has succeeded. With one endpoint deliveries go one at a
  time (one attempt in flight per endpoint); with several, in parallel.
- delay: `--paced` events committed at `--rate` per second (a quiet shop), each delay the
  receiver's arrival time minus the moment the commit returned (one clock, one machine).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, child, free_port, prepare_environment, scratch_database, sigterm_as_interrupt

RECEIVER = r'''
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
arrived, lock = {}, threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        at = time.time()
        message = self.headers.get("webhook-id")
        if message:
            with lock:
                arrived[message] = at
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def do_GET(self):
        with lock:
            body = json.dumps(arrived).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
server.daemon_threads = True
server.request_queue_size = 512
print("ready", flush=True)
server.serve_forever()
'''


def worker_command() -> list[str]:
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("worker:"))
    return [str(Path(sys.executable).parent / "celery"), *line.split(":", 1)[1].split()[1:]]


def arrivals(port: int) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/")
    return json.loads(conn.getresponse().read())


def bare_loop(port: int, body: bytes, count: int) -> float:
    """POSTs per second from one process, a new connection each."""
    started = time.perf_counter()
    for _ in range(count):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/bare", body=body, headers={"Content-Type": "application/json"})
        conn.getresponse().read()
        conn.close()
    return count / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500,
                        help="events per throughput run (each goes to every endpoint); 500 keeps make bench short, 2,000 was the old default")
    parser.add_argument("--endpoints", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--paced", type=int, default=300)
    parser.add_argument("--rate", type=float, default=25.0)
    args = parser.parse_args(argv)
    sigterm_as_interrupt()
    env = prepare_environment()
    env["WEBHOOK_ALLOW_PRIVATE_URLS"] = "1"
    os.environ["WEBHOOK_ALLOW_PRIVATE_URLS"] = "1"
    workdir = ROOT / ".data" / "bench-webhooks"
    workdir.mkdir(parents=True, exist_ok=True)
    with scratch_database("webhooks") as url:
        env["DATABASE_URL"] = os.environ["DATABASE_URL"] = url
        port = free_port()
        receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)], stdout=subprocess.PIPE, text=True,
                                    start_new_session=True)
        try:
            assert receiver.stdout.readline().strip() == "ready"
            run(args, env, port, workdir)
        finally:
            receiver.kill()
            receiver.wait()


def run(args, env: dict[str, str], port: int, workdir: Path) -> None:
    from sqlalchemy import func, select

    from api.enqueue import CelerySender
    from domain import catalog
    from domain.accounts import create_account
    from domain.db import UnitOfWork, make_engine, session_factory
    from domain import webhooks
    from domain.models import Event, WebhookDelivery
    from domain.processors import SecretBox
    from domain.queries import Owner, PageQuery
    from runtime.settings import Settings

    settings = Settings.from_env(env)
    engine = make_engine(settings.database_url, 4)
    factory, sender = session_factory(engine), CelerySender()
    units = lambda: UnitOfWork(factory, sender, outbox=settings.outbox())  # noqa: E731
    with units() as uow:
        made = create_account(uow, "Bench shop")
        uow.commit()
    owner = Owner(made.account_id, False)
    box = SecretBox(settings.encryption_key)
    body = json.dumps({"id": "evt_test_" + "x" * 20, "object": "event", "type": "customer.created",
                       "data": {"object": {"id": "cus_test_" + "x" * 20, "email": "bench@example.com"}}}).encode()

    def make_endpoints(count: int) -> None:
        with units() as uow:
            for endpoint in webhooks.page(uow, owner, PageQuery(limit=100)).data:
                webhooks.delete_endpoint(uow, owner, endpoint.id)
            for n in range(count):
                webhooks.create(uow, owner, webhooks.NewEndpoint(f"http://127.0.0.1:{port}/hook{n}",
                                                                 ["customer.created"]), box, lambda url: None)
            uow.commit()

    def customers(count: int, pace: float | None = None) -> dict[str, float]:
        committed = {}
        for n in range(count):
            with units() as uow:
                catalog.create_customer(uow, owner, catalog.NewCustomer(email=f"c{n}@example.com"))
                event_id = uow.session.scalar(select(Event.id).where(  # this transaction's, the newest
                    Event.account_id == owner.account_id, Event.livemode.is_(False))
                    .order_by(Event.created_at.desc(), Event.id.desc()).limit(1))
                uow.commit()
            if pace:
                committed[event_id] = time.time()
                time.sleep(max(0.0, pace - 0.002))
        return committed

    def succeeded() -> int:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(WebhookDelivery)
                                .where(WebhookDelivery.status == "succeeded")).scalar_one()

    print("bare loop: one new connection per POST, from this process", flush=True)
    bare_loop(port, body, 200)  # warm-up
    bare = statistics.median(bare_loop(port, body, 2000) for _ in range(3))
    print(f"  {bare:,.0f} POSTs/s (median of 3 runs of 2,000)", flush=True)
    command = worker_command()
    print(f"worker: {' '.join(command[1:])}", flush=True)
    results = []
    # Throughput: the events (and their jobs) are made first, with no worker running, so the
    # figure is the workers' alone, not how fast this process commits; then a worker drains them.
    for endpoints in args.endpoints:
        make_endpoints(endpoints)
        before = succeeded()
        customers(args.events)
        target = before + args.events * endpoints
        log_path = workdir / f"worker-{endpoints}.log"
        with child(command, env, log_path) as worker:
            while " ready." not in log_path.read_text(errors="replace"):
                if not worker.alive():
                    raise RuntimeError(f"the worker did not start:\n{worker.tail()}")
                time.sleep(0.02)
            started = time.perf_counter()
            while succeeded() < target:
                if not worker.alive():
                    raise RuntimeError(f"the worker died:\n{worker.tail()}")
                time.sleep(0.02)
            seconds = time.perf_counter() - started
        rate = args.events * endpoints / seconds
        results.append((endpoints, rate))
        print(f"  {endpoints} endpoint(s): {args.events * endpoints:,} deliveries in {seconds:.1f} s = "
              f"{rate:,.0f}/s ({rate / bare:.2f}x the bare loop)", flush=True)
    with child(command, env, workdir / "worker.log") as worker:
        while " ready." not in (workdir / "worker.log").read_text(errors="replace"):
            time.sleep(0.02)
        make_endpoints(1)
        committed = customers(args.paced, pace=1 / args.rate)
        deadline = time.monotonic() + 60
        while True:
            seen = arrivals(port)
            if all(event_id in seen for event_id in committed) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    delays = sorted((seen[event_id] - at) * 1000 for event_id, at in committed.items() if event_id in seen)
    lost = len(committed) - len(delays)
    p50 = statistics.median(delays)
    p99 = delays[min(len(delays) - 1, int(round(0.99 * len(delays))) - 1)]
    print(f"\ncommit to delivery, {len(delays)} events at {args.rate:g}/s: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
          f"max {delays[-1]:.1f} ms{f'; {lost} not arrived' if lost else ''}")
    best = max(rate for _, rate in results)
    print(f"best: {best:,.0f} deliveries/s at {best / bare:.2f}x the bare loop of POSTs ({bare:,.0f}/s)")
    engine.dispose()


if __name__ == "__main__":
    main()
