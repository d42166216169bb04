"""How fast the workers persist share opens, against a no-op task drained by the same workers.

    python -m bench sessions [--count 20000]

`--count` share opens are enqueued exactly as the share endpoint does (the domain's snapshot of a
real link, sent through api.enqueue.CelerySender), with no worker running. Then the worker of the
Procfile (same command, queues and concurrency; `-A bench.worker_app`, the real app plus a no-op
task) starts, and the clock runs from the first message taken off the queue until the last one is
acknowledged (acks_late: after its commit) and every session is in the database. The baseline is
the same number of messages of the same size for `bench.noop`, drained by the same worker command.
"""
from __future__ import annotations

import argparse
import shlex
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.common import (BIN, ROOT, Row, child, children_of, delete_redis_keys, mib, peak_rss_kib,
                          prepare_environment, scratch_database, seed_link, wait_until)

QUEUE = "sessions"


@dataclass
class Drain:
    task: str
    count: int
    enqueue_seconds: float
    seconds: float
    peak_rss_kib: int

    @property
    def rate(self) -> float:
        return self.count / self.seconds


def worker_command() -> list[str]:
    """The Procfile's worker, with the bench's app (the real one plus `bench.noop`)."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("worker:"))
    args = shlex.split(line.partition(":")[2])
    args[args.index("-A") + 1] = "bench.worker_app"
    return [str(BIN / args[0]), *args[1:]]


def enqueue(settings, seeded, task: str, count: int) -> float:
    """`count` share opens' snapshots, each sent as the share endpoint sends it."""
    from api.enqueue import CelerySender
    from runtime.jobs import JOBS, Job
    from domain import checkout_sessions
    from domain.checkout_tokens import new_checkout_token
    from domain.db import make_engine, utcnow
    from domain.ids import new_id
    from domain.link_reader import LinkReader

    engine = make_engine(settings.database_url, 1)
    try:
        reader = LinkReader(engine)
        link = reader.find(seeded.secure_token)
        reader.close()
    finally:
        engine.dispose()
    sender = CelerySender(jobs={**JOBS, "bench.noop": Job(QUEUE)})
    started = time.perf_counter()
    for _ in range(count):
        now = utcnow()
        session_id = new_id("cs", True)
        snapshot = checkout_sessions.new_session(link, session_id=session_id, now=now,
                                                 checkout_token=new_checkout_token(settings.secret_key, now))
        sender.send(task, [snapshot], task_id=session_id)
    return time.perf_counter() - started


def stored_sessions(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM checkout_sessions").fetchone()[0]


def drain(task: str, count: int, settings, seeded, env: dict[str, str], workdir: Path, redis_client) -> Drain:
    prefix = settings.redis_key_prefix
    queue_key, unacked_key = prefix + QUEUE, prefix + "unacked"
    enqueue_seconds = enqueue(settings, seeded, task, count)
    assert redis_client.llen(queue_key) == count, "the queue should hold exactly what was sent"
    metrics_dir = workdir / f"metrics-{task}"
    metrics_dir.mkdir()
    worker_env = dict(env, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    with child(worker_command(), worker_env, workdir / f"worker-{task}.log") as worker:
        # Poll often: the clock starts when the first message leaves the queue.
        wait_until(lambda: redis_client.llen(queue_key) < count or not worker.alive(), 120, "worker start", 0.002)
        if not worker.alive():
            raise RuntimeError(f"the worker did not start:\n{worker.tail()}")
        started = time.perf_counter()

        def done() -> bool:
            if not worker.alive():
                raise RuntimeError(f"the worker died:\n{worker.tail()}")
            return redis_client.llen(queue_key) == 0 and redis_client.hlen(unacked_key) == 0

        wait_until(done, 600, f"draining {count} {task} messages", 0.01)
        seconds = time.perf_counter() - started
        rss = max([peak_rss_kib(worker.pid)] + [peak_rss_kib(pid) for pid in children_of(worker.pid)])
    if task == "checkout_sessions.create":
        stored = stored_sessions(settings.database_url)
        if stored != count:
            raise RuntimeError(f"{stored} sessions stored, {count} expected; see {worker.log_path}")
    return Drain(task, count, enqueue_seconds, seconds, rss)


def run(count: int = 20_000) -> tuple[list[Row], str]:
    import redis

    from runtime.settings import Settings

    env = prepare_environment()
    redis_client = redis.Redis.from_url(env["REDIS_URL"])
    with ExitStack() as stack:
        stack.callback(delete_redis_keys, redis_client, env["REDIS_KEY_PREFIX"])
        url = stack.enter_context(scratch_database("sessions"))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pk-bench-sessions-")))
        env = dict(env, DATABASE_URL=url)
        settings = Settings.from_env(env)
        seeded = seed_link(settings, extra_links=0)
        noop = drain("bench.noop", count, settings, seeded, env, workdir, redis_client)
        real = drain("checkout_sessions.create", count, settings, seeded, env, workdir, redis_client)
    ratio = real.rate / noop.rate
    command = " ".join(worker_command()[1:])
    lines = [f"sessions: {count:,} messages each, enqueued first (the share path's sender: "
             f"{count / real.enqueue_seconds:,.0f}/s from one process), then drained by `{command}`",
             "| task                      |  seconds |  per second | worker RSS |",
             "|---------------------------|----------|-------------|------------|"]
    for d in (real, noop):
        lines.append(f"| {d.task:<25} | {d.seconds:>8.1f} | {d.rate:>11,.0f} | {mib(d.peak_rss_kib):>10} |")
    lines.append(f"persisted/no-op {ratio:.2f} (target >= 0.5)")
    rows = [
        Row("sessions", f"persisted per s ({count:,})", f"{real.rate:,.0f}", f"no-op {noop.rate:,.0f}", ratio,
            ">= 0.5", ratio >= 0.5),
        Row("memory", "worker peak RSS (sessions)", mib(real.peak_rss_kib), f"no-op {mib(noop.peak_rss_kib)}"),
    ]
    return rows, "\n".join(lines)


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(prog="python -m bench sessions", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows, text = run(args.count)
    print(text)
    print(f"(sessions bench: {time.perf_counter() - started:.0f} s)")
    return rows
