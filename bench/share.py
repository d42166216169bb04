"""The share URL under load: the real `GET /api/pay/share/{token}` (JSON) against two baselines.

    python -m bench share [--connections 32] [--duration 5] [--rounds 3] [--matrix [LABELS]]

Each app runs under gunicorn with gunicorn.conf.py (the production settings) on a private port:
the real app (`api.wsgi:app`), a bare Falcon app doing only the same I/O (bench/bare_apps.py:
one EVALSHA, one indexed SELECT, one LPUSH of a message the size of the real Celery message)
and a bare Falcon app answering a constant. `wrk` (bench/share.lua) loads each one, every
request from another client address (X-Forwarded-For, TRUSTED_PROXY_COUNT=1), so the limiter
does its real work and allows everything. No Celery worker runs: what is enqueued is deleted.

The machine is shared, so the apps take turns: every round loads each app once (the order
rotates), and the table shows medians. Beside requests/s and latency it shows the CPU each
request cost the web workers and the app's PostgreSQL backends (from /proc): that figure
hardly moves with the machine's load. `--matrix` also runs the real app under other worker
classes and counts (how gunicorn.conf.py's default was chosen).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.common import (BIN, ROOT, Row, child, children_of, cpu_seconds, delete_redis_keys, free_port, mib,
                          peak_rss_kib, prepare_environment, scratch_database, seed_link, wait_until)

WARMUP_SECONDS = 2
BUFFERED = ["-k", "api.gunicorn_worker.Worker"]
# (label, gunicorn arguments, environment): WEB_THREADS is the buffered worker's threads per process.
MATRIX = [
    ("sync 2", ["-k", "sync", "-w", "2"], {}),
    ("sync 4", ["-k", "sync", "-w", "4"], {}),
    ("sync 8", ["-k", "sync", "-w", "8"], {}),
    ("gthread 2x4", ["-k", "gthread", "-w", "2", "--threads", "4"], {}),
    ("gthread 4x2", ["-k", "gthread", "-w", "4", "--threads", "2"], {}),
    ("buffered 2x2", [*BUFFERED, "-w", "2"], {"WEB_THREADS": "2"}),
    ("buffered 2x4", [*BUFFERED, "-w", "2"], {"WEB_THREADS": "4"}),
    ("buffered 4x1", [*BUFFERED, "-w", "4"], {"WEB_THREADS": "1"}),
    ("buffered 4x2", [*BUFFERED, "-w", "4"], {"WEB_THREADS": "2"}),
]


@dataclass
class Server:
    name: str
    label: str
    port: int
    app_name: str  # PostgreSQL application_name of its connections
    process: object  # bench.common.Child

    def workers(self) -> list[int]:
        return children_of(self.process.pid)

    def peak_rss_kib(self) -> int:
        return max((peak_rss_kib(pid) for pid in self.workers()), default=0)


@dataclass
class Load:
    app: str
    workers: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    web_cpu_ms: float
    db_cpu_ms: float | None
    peak_rss_kib: int

    def line(self) -> str:
        db = "n/a" if self.db_cpu_ms is None else f"{self.db_cpu_ms:.2f}"
        return (f"| {self.app:<8} | {self.workers:<16} | {self.rps:>7,.0f} | {self.p50_ms:>6.1f} | {self.p99_ms:>6.1f} "
                f"| {self.errors:>6} | {self.web_cpu_ms:>14.2f} | {db:>13} | {mib(self.peak_rss_kib):>7} |")


HEADER = ("| app      | gunicorn         |   req/s | p50 ms | p99 ms | errors | web CPU ms/req "
          "| PG CPU ms/req | web RSS |\n"
          "|----------|------------------|---------|--------|--------|--------|----------------"
          "|---------------|---------|")


def generate_load(port: int, path: str, connections: int, duration: float) -> tuple[dict, str]:
    """Keep `connections` connections busy for `duration` seconds; wrk if there is one."""
    offset = random.randrange(0, 1 << 23)
    wrk = shutil.which("wrk")
    if wrk is None:
        from bench import loadgen

        return loadgen.run("127.0.0.1", port, path, connections, duration, offset), "python"
    out = subprocess.run([wrk, "-t", str(min(2, connections)), "-c", str(connections), "-d",
                          f"{max(1, round(duration))}s", "--timeout", "5s", "-s", str(ROOT / "bench" / "share.lua"),
                          f"http://127.0.0.1:{port}", "--", path, str(offset)],
                         capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH "))
    return json.loads(line[len("BENCH "):]), "wrk"


def errors_of(result: dict) -> int:
    return sum(result[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def with_application_name(url: str, name: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


def start_server(stack: ExitStack, name: str, wsgi: str, label: str, worker_args: list[str], env: dict[str, str],
                 workdir: Path) -> Server:
    """gunicorn with gunicorn.conf.py (plus `worker_args`) on a private port, answering /healthz."""
    port = free_port()
    app_name = f"pkbench_{port}"
    metrics_dir = workdir / f"metrics-{port}"
    metrics_dir.mkdir()
    app_env = dict(env, PORT=str(port), HOST="127.0.0.1", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
                   PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
                   DATABASE_URL=with_application_name(env["DATABASE_URL"], app_name))
    # No control socket: gunicorn's default is one path per user, shared with any other gunicorn.
    args = [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "--no-control-socket", *worker_args, wsgi]
    process = stack.enter_context(child(args, app_env, workdir / f"gunicorn-{port}.log"))
    wait_until(lambda: answers(port) or not process.alive(), 60, f"{name} on port {port}")
    if not process.alive():
        raise RuntimeError(f"{name} did not start:\n{process.tail()}")
    return Server(name, label, port, app_name, process)


class Accounting:
    """CPU time of a server's workers and of its PostgreSQL backends (found by application_name;
    only when PostgreSQL runs on this machine, where /proc shows its processes)."""

    def __init__(self, database_url: str):
        import psycopg

        self._conn = psycopg.connect(database_url, autocommit=True)

    def close(self) -> None:
        self._conn.close()

    def snapshot(self, server: Server) -> tuple[dict[int, float], dict[int, float]]:
        backends = [pid for (pid,) in self._conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (server.app_name,))]
        return ({pid: cpu_seconds(pid) for pid in server.workers()},
                {pid: cpu_seconds(pid) for pid in backends if Path(f"/proc/{pid}").exists()})

    @staticmethod
    def used(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def measure(server: Server, path: str, connections: int, duration: float, accounting: Accounting,
            redis_client, prefix: str) -> dict:
    generate_load(server.port, path, connections, WARMUP_SECONDS)
    web_before, db_before = accounting.snapshot(server)
    result, generator = generate_load(server.port, path, connections, duration)
    web_after, db_after = accounting.snapshot(server)
    if not server.process.alive():
        raise RuntimeError(f"{server.name} died under load:\n{server.process.tail()}")
    for key in ("sessions", "bare:sessions"):  # no worker runs: drop what was enqueued
        redis_client.delete(prefix + key)
    requests = max(1, result["requests"])
    return dict(result, generator=generator, rps=result["requests"] / (result["duration_us"] / 1_000_000),
                web_cpu_ms=Accounting.used(web_before, web_after) * 1000 / requests,
                db_cpu_ms=Accounting.used(db_before, db_after) * 1000 / requests if db_after else None)


def summarize(server: Server, results: list[dict]) -> Load:
    """Medians over the rounds."""
    def median(key: str) -> float | None:
        values = [r[key] for r in results if r[key] is not None]
        return statistics.median(values) if values else None

    return Load(server.name, server.label, median("rps"), median("p50_us") / 1000, median("p99_us") / 1000,
                sum(errors_of(r) for r in results), median("web_cpu_ms"), median("db_cpu_ms"),
                server.peak_rss_kib())


def configured_workers(env: dict[str, str]) -> str:
    """What gunicorn.conf.py chooses by default (WEB_CONCURRENCY may change the count)."""
    config: dict = {}
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        exec(compile((ROOT / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), config)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    worker_class, threads = config.get("worker_class", "sync"), config.get("threads", 1)
    if worker_class == BUFFERED[1]:
        from runtime.settings import Settings

        worker_class, threads = "buffered", Settings.from_env(env).web_threads
    label = f"{worker_class} {config.get('workers', 1)}"
    return label + (f"x{threads}" if threads > 1 else "") + " (conf)"


def measure_message_bytes(settings, seeded) -> int:
    """The size of the Celery message the share path LPUSHes, made by the real sender."""
    from api.enqueue import CelerySender
    from domain import checkout_sessions
    from domain.checkout_tokens import new_checkout_token
    from domain.db import make_engine, utcnow
    from domain.ids import new_id
    from domain.link_reader import LinkReader
    from runtime import logs

    engine = make_engine(settings.database_url, 1)
    try:
        reader = LinkReader(engine)
        link = reader.find(seeded.secure_token)
        reader.close()
    finally:
        engine.dispose()
    now = utcnow()
    session_id = new_id("cs", True)
    snapshot = checkout_sessions.new_session(link, session_id=session_id,
                                             checkout_token=new_checkout_token(settings.secret_key, now), now=now)
    logs.request_id.set("req_" + "0" * 20)  # a web request's id rides in every message
    return len(CelerySender().message("checkout_sessions.create", [snapshot], task_id=session_id))


def run(connections: int = 32, duration: float = 5, rounds: int = 3, matrix: list[str] | None = None) -> tuple[list[Row], str]:
    import redis

    from runtime.settings import Settings

    env = prepare_environment()
    prefix = env["REDIS_KEY_PREFIX"]
    redis_client = redis.Redis.from_url(env["REDIS_URL"])
    lines: list[str] = []
    with ExitStack() as stack:
        stack.callback(delete_redis_keys, redis_client, prefix)
        url = stack.enter_context(scratch_database("share"))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pk-bench-share-")))
        env = dict(env, DATABASE_URL=url, TRUSTED_PROXY_COUNT="1")
        settings = Settings.from_env(env)
        seeded = seed_link(settings)
        message_bytes = measure_message_bytes(settings, seeded)
        path = f"/api/pay/share/{seeded.secure_token}"
        bare_env = dict(env, BENCH_MESSAGE_BYTES=str(message_bytes))
        default = configured_workers(env)
        servers = [start_server(stack, "real", "api.wsgi:app", default, [], env, workdir),
                   start_server(stack, "bare I/O", "bench.bare_apps:io_app", default, [], bare_env, workdir),
                   start_server(stack, "constant", "bench.bare_apps:constant_app", default, [], bare_env, workdir)]
        if matrix:
            servers += [start_server(stack, "real", "api.wsgi:app", label, worker_args, dict(env, **extra_env), workdir)
                        for label, worker_args, extra_env in MATRIX if label in matrix]
        accounting = Accounting(url)
        stack.callback(accounting.close)
        results: list[list[dict]] = [[] for _ in servers]
        for round_number in range(rounds):
            shift = round_number % len(servers)
            for i in [*range(shift, len(servers)), *range(shift)]:
                result = measure(servers[i], path, connections, duration, accounting, redis_client, prefix)
                results[i].append(result)
                print(f"  round {round_number + 1}: {servers[i].name:<8} {servers[i].label:<16} {result['rps']:>7,.0f} "
                      f"req/s  p99 {result['p99_us'] / 1000:6.1f} ms  web CPU {result['web_cpu_ms']:.2f} ms/req",
                      flush=True)
        loads = [summarize(server, results[i]) for i, server in enumerate(servers)]
    generator = results[0][0]["generator"]
    real, bare, constant = loads[:3]
    io_ratios = [a["rps"] / b["rps"] for a, b in zip(results[0], results[1])]
    io_ratio, constant_ratio = statistics.median(io_ratios), real.rps / constant.rps
    cpu_ratio = bare.web_cpu_ms / real.web_cpu_ms
    lines += [f"share: {connections} connections ({generator}), {rounds} rounds of {duration:.0f} s per app after "
              f"{WARMUP_SECONDS} s of warm-up, medians; the Celery message is {message_bytes} bytes",
              HEADER, *(load.line() for load in loads),
              f"real/bare-I/O {io_ratio:.2f} (rounds: {', '.join(f'{r:.2f}' for r in io_ratios)}; target >= 1.0); "
              f"real/constant {constant_ratio:.2f}; web CPU per request bare-I/O/real {cpu_ratio:.2f}"]
    if generator == "python":
        lines.append("(wrk not installed: Python load generator; compare these figures only with each other)")
    rows = [
        Row("share", f"req/s at {connections} conns", f"real {real.rps:,.0f}", f"bare I/O {bare.rps:,.0f}",
            io_ratio, ">= 1.0", io_ratio >= 1.0),
        Row("share", "req/s vs constant app", f"real {real.rps:,.0f}", f"constant {constant.rps:,.0f}",
            constant_ratio),
        Row("share", "web CPU per request (inverse)", f"real {real.web_cpu_ms:.2f} ms",
            f"bare I/O {bare.web_cpu_ms:.2f} ms", cpu_ratio),
        Row("share", "p50 / p99 ms", f"real {real.p50_ms:.1f} / {real.p99_ms:.1f}",
            f"bare I/O {bare.p50_ms:.1f} / {bare.p99_ms:.1f}", None, "p99 <= bare's", real.p99_ms <= bare.p99_ms),
        Row("share", "error responses, all apps", str(sum(load.errors for load in loads)), "", None, "0",
            all(load.errors == 0 for load in loads)),
        Row("memory", "web worker peak RSS (share)", mib(real.peak_rss_kib), f"bare I/O {mib(bare.peak_rss_kib)}"),
    ]
    return rows, "\n".join(lines)


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(prog="python -m bench share", description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5, help="seconds of load per app and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--matrix", nargs="?", const=",".join(label for label, _, _ in MATRIX), default="",
                        help="also run the real app under other worker settings (all, or the labels given, "
                             "comma-separated: 'sync 4,buffered 4x1')")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    labels = [label.strip() for label in args.matrix.split(",") if label.strip()]
    unknown = set(labels) - {label for label, _, _ in MATRIX}
    if unknown:
        parser.error(f"unknown --matrix labels: {', '.join(sorted(unknown))}")
    rows, text = run(args.connections, args.duration, args.rounds, labels)
    print(text)
    print(f"(share bench: {time.perf_counter() - started:.0f} s)")
    return rows
