"""How fast the workers persist share opens, against Celery's best no-op drain on this machine.

    python -m bench sessions [--count 3000] [--rounds 2] [--explore [LABELS]] [--explore-noop] [--memory N]

`--count` share opens are enqueued exactly as the share endpoint does (the domain's snapshot of a
real link, sent through api.enqueue.CelerySender), with no worker running. Then a worker starts,
and the clock runs from the first message taken off the queue until the last one is acknowledged
(acks_late: after its commit) and, for the real task, every session is in the database. Each of
`--rounds` rounds makes these drains, each of the same number of messages of the same size, and
every rate is reported over the minimal app's of the same round (medians over the rounds):

- **minimal**: the baseline, Celery at its engine's speed: a minimal app (bench/minimal_app.py:
  prefork 2, prefetch 4, acks_late, no events, no gossip/mingle/heartbeat, WARNING logs) and a
  task that does nothing;
- **ours, no-op**: the Procfile's worker command (`-A bench.worker_app`: the real app plus
  `bench.noop`), so the difference from the minimal app is what our settings cost;
- **ours, stored**: the same worker storing the `checkout_sessions.create` messages (collected
  into `checkout_sessions.store` jobs, workers/session_batches.py).

`--explore` also drains the real task (`--explore-noop`: the no-op) under other settings
(prefetch, events, log lines, pool, ...: EXPLORE below), one at a time, in every round. `--memory N` feeds N sessions through one worker
(the queue kept under 20,000 messages) and reads the worker's resident memory (VmRSS, main
process plus children) after 10,000, 100,000, ... and at the end.
"""
from __future__ import annotations

import argparse
import shlex
import statistics
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import (BIN, ROOT, Row, child, children_of, delete_redis_keys, mib, peak_rss_kib,
                          prepare_environment, scratch_database, seed_link, wait_until)

QUEUE = "sessions"


MINIMAL = ["-A", "bench.minimal_app", "worker", "-P", "prefork", "-c", "2", "--without-gossip", "--without-mingle",
           "--without-heartbeat", "--loglevel", "WARNING", "-Q", QUEUE]
# (label, what replaces the Procfile's arguments, environment): one setting changed at a time.
EXPLORE = [
    ("prefetch 1", {}, {"BENCH_PREFETCH": "1"}),
    ("prefetch 4", {}, {"BENCH_PREFETCH": "4"}),
    ("prefetch 16", {}, {"BENCH_PREFETCH": "16"}),
    ("events off", {}, {"BENCH_EVENTS": "0"}),
    ("loglevel WARNING", {"--loglevel": "WARNING"}, {}),
    ("concurrency 3", {"--concurrency": "3"}, {}),
    ("concurrency 4", {"--concurrency": "4"}, {}),
    ("threads 4", {"--pool": "threads", "--concurrency": "4"}, {}),
    ("solo", {"--pool": "solo", "--concurrency": "1"}, {}),
    ("received line off", {}, {"BENCH_QUIET": "celery.worker.strategy"}),
    ("received+succeeded off", {}, {"BENCH_QUIET": "celery.worker.strategy,celery.app.trace"}),
    ("rate limits off", {}, {"BENCH_CONF": '{"worker_disable_rate_limits": true}'}),
    ("no gossip/mingle/heartbeat", {"--without-gossip": "", "--without-mingle": "", "--without-heartbeat": ""}, {}),
    ("events off + prefetch 4", {}, {"BENCH_EVENTS": "0", "BENCH_PREFETCH": "4"}),
    ("time limits off", {}, {"BENCH_CONF": '{"task_time_limit": null, "task_soft_time_limit": null}'}),
    ("-Q sessions only", {"-Q": "sessions"}, {}),
    ("all of the above off", {"--without-gossip": "", "--without-mingle": "", "--without-heartbeat": ""},
     {"BENCH_EVENTS": "0", "BENCH_PREFETCH": "4", "BENCH_QUIET": "celery.worker.strategy,celery.app.trace",
      "BENCH_CONF": '{"worker_disable_rate_limits": true}'}),
    # A worker of its own for the sessions queue, events on (Flower sees every job).
    ("sessions worker", {"-Q": "sessions", "--without-gossip": "", "--without-mingle": "", "--without-heartbeat": ""}, {}),
    ("sessions worker + prefetch 4", {"-Q": "sessions", "--without-gossip": "", "--without-mingle": "",
                                     "--without-heartbeat": ""}, {"BENCH_PREFETCH": "4"}),
    ("sessions worker + prefetch 16", {"-Q": "sessions", "--without-gossip": "", "--without-mingle": "",
                                      "--without-heartbeat": ""}, {"BENCH_PREFETCH": "16"}),
    ("sessions worker + prefetch 4 + WARNING", {"-Q": "sessions", "--without-gossip": "", "--without-mingle": "",
                                              "--without-heartbeat": "", "--loglevel": "WARNING"},
     {"BENCH_PREFETCH": "4"}),
    ("sessions worker + events off", {"-Q": "sessions", "--without-gossip": "", "--without-mingle": "",
                                     "--without-heartbeat": ""}, {"BENCH_EVENTS": "0"}),
    ("as minimal as ours goes", {"--without-gossip": "", "--without-mingle": "", "--without-heartbeat": "",
                                 "-Q": "sessions", "--loglevel": "WARNING"},
     {"BENCH_EVENTS": "0", "BENCH_PREFETCH": "4", "BENCH_CONF": '{"task_time_limit": null, "task_soft_time_limit": null}'}),
]


@dataclass
class Drain:
    task: str
    count: int
    enqueue_seconds: float
    seconds: float
    peak_rss_kib: int
    label: str = "ours"

    @property
    def rate(self) -> float:
        return self.count / self.seconds


def worker_command(replace: dict[str, str] | None = None) -> list[str]:
    """The Procfile's worker, with the bench's app (the real one plus `bench.noop`), and options
    of `replace` changed or added."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("worker:"))
    args = shlex.split(line.partition(":")[2])
    args[args.index("-A") + 1] = "bench.worker_app"
    for option, value in (replace or {}).items():
        if not value:  # a flag
            args += [option] if option not in args else []
        elif option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
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


def clear_sessions(url: str) -> None:
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE checkout_sessions")


def drain(task: str, count: int, settings, seeded, env: dict[str, str], workdir: Path, redis_client,
          command: list[str] | None = None, label: str = "ours") -> Drain:
    prefix = settings.redis_key_prefix
    queue_key, unacked_key = prefix + QUEUE, prefix + "unacked"
    if task == "checkout_sessions.create":
        clear_sessions(settings.database_url)
    enqueue_seconds = enqueue(settings, seeded, task, count)
    held = redis_client.llen(queue_key)
    assert held == count, f"the queue should hold exactly what was sent: {held} of {count}"
    metrics_dir = Path(tempfile.mkdtemp(prefix="metrics-", dir=workdir))
    worker_env = dict(env, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    with child(command or worker_command(), worker_env, metrics_dir / "worker.log") as worker:
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
    return Drain(task, count, enqueue_seconds, seconds, rss, label)


def resident_kib(pid: int) -> int:
    """VmRSS now (not the peak)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory_curve(total: int, settings, seeded, env: dict[str, str], workdir: Path, redis_client) -> list[tuple[int, int, int]]:
    """Feed `total` sessions through one worker; (stored, main VmRSS, largest child VmRSS) at
    10,000, 100,000, 250,000, 500,000, 750,000, 1,000,000 ... and at the end."""
    prefix = settings.redis_key_prefix
    queue_key = prefix + QUEUE
    clear_sessions(settings.database_url)
    marks = [n for n in (10_000, 100_000, 250_000, 500_000, 750_000, 1_000_000, 10_000_000) if n < total] + [total]
    points: list[tuple[int, int, int]] = []
    sent = 0
    worker_env = dict(env, PROMETHEUS_MULTIPROC_DIR=str(Path(tempfile.mkdtemp(prefix="metrics-", dir=workdir))))
    with child(worker_command(), worker_env, workdir / "worker-memory.log") as worker:
        while marks:
            if not worker.alive():
                raise RuntimeError(f"the worker died:\n{worker.tail()}")
            backlog = redis_client.llen(queue_key)
            if backlog < 10_000 and sent < total:
                batch = min(10_000, total - sent)
                enqueue(settings, seeded, "checkout_sessions.create", batch)
                sent += batch
            stored = stored_sessions(settings.database_url)
            if stored >= marks[0]:
                children = children_of(worker.pid)
                points.append((stored, resident_kib(worker.pid), max((resident_kib(p) for p in children), default=0)))
                print(f"  memory: {stored:,} stored: worker {mib(points[-1][1])}, largest child {mib(points[-1][2])}",
                      flush=True)
                marks.pop(0)
            else:
                time.sleep(0.5)
    return points


def run(count: int = 3_000, explore: list[str] | None = None, memory: int = 0,
        explore_task: str = "checkout_sessions.create", rounds: int = 2) -> tuple[list[Row], str]:
    import redis

    env = prepare_environment()  # before celeryconfig is imported: it reads the key prefix
    from celeryconfig import broker_url_for
    from runtime.settings import Settings

    redis_client = redis.Redis.from_url(env["REDIS_URL"])
    points: list[tuple[int, int, int]] = []
    with ExitStack() as stack:
        stack.callback(delete_redis_keys, redis_client, env["REDIS_KEY_PREFIX"])
        url = stack.enter_context(scratch_database("sessions"))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pk-bench-sessions-")))
        env = dict(env, DATABASE_URL=url, BROKER_URL=broker_url_for(env["REDIS_URL"]))
        settings = Settings.from_env(env)
        seeded = seed_link(settings, extra_links=0)
        # Rounds: each setting's rate over the minimal app's in the same round (drained just
        # before it), so that a load change between rounds moves both; medians over the rounds.
        runs: dict[str, list[tuple[Drain, float]]] = {}
        for _ in range(rounds):
            minimal = drain("bench.noop", count, settings, seeded, env, workdir, redis_client,
                            [str(BIN / "celery"), *MINIMAL], "minimal")
            plan = [("ours no-op", "bench.noop", env, None), ("ours stored", "checkout_sessions.create", env, None)]
            plan += [(label, explore_task, dict(env, **extra_env), worker_command(replace))
                     for label, replace, extra_env in EXPLORE if label in (explore or [])]
            runs.setdefault("minimal", []).append((minimal, 1.0))
            for label, task, drain_env, command in plan:
                done = drain(task, count, settings, seeded, drain_env, workdir, redis_client, command, label)
                runs.setdefault(label, []).append((done, done.rate / minimal.rate))
                print(f"  round {len(runs['minimal'])}: {label:<28} {done.rate:>6,.0f}/s, minimal {minimal.rate:,.0f}/s: "
                      f"{done.rate / minimal.rate:.2f}", flush=True)
        if memory:
            points = memory_curve(memory, settings, seeded, env, workdir, redis_client)

    def median_of(label: str) -> tuple[Drain, float, float, list[float]]:
        drains = runs[label]
        ratios = [r for _, r in drains]
        return drains[0][0], statistics.median(d.rate for d, _ in drains), statistics.median(ratios), ratios

    minimal_rate = median_of("minimal")[1]
    noop, noop_rate, _, _ = median_of("ours no-op")
    real, real_rate, ratio, real_ratios = median_of("ours stored")
    own_ratio = statistics.median(r / n for (_, r), (_, n) in zip(runs["ours stored"], runs["ours no-op"]))
    command = " ".join(worker_command()[1:])
    lines = [f"sessions: {count:,} messages each, enqueued first (the share path's sender: "
             f"{count / real.enqueue_seconds:,.0f}/s from one process), {rounds} round(s), medians; ours: `{command}`; "
             f"minimal: `celery {' '.join(MINIMAL)}`",
             "| worker                       | task                      |  per second | vs minimal (rounds)      | worker RSS |",
             "|------------------------------|---------------------------|-------------|--------------------------|------------|"]
    for label in runs:
        d, rate, r, rs = median_of(label)
        lines.append(f"| {label:<28} | {d.task:<25} | {rate:>11,.0f} | {r:.2f} ({', '.join(f'{x:.2f}' for x in rs)})"
                     f"{'':<{max(0, 17 - 6 * len(rs))}} | {mib(d.peak_rss_kib):>10} |")
    lines.append(f"persisted/minimal no-op {ratio:.2f} (rounds: {', '.join(f'{x:.2f}' for x in real_ratios)}; "
                 f"target >= 0.6); persisted/our no-op {own_ratio:.2f}")
    real = Drain(real.task, real.count, real.enqueue_seconds, count / real_rate, real.peak_rss_kib)
    minimal = Drain("bench.noop", count, 0, count / minimal_rate, 0)
    noop = Drain(noop.task, noop.count, noop.enqueue_seconds, count / noop_rate, noop.peak_rss_kib)
    rows = [
        Row("sessions", f"persisted per s ({count:,})", f"{real.rate:,.0f}", f"minimal no-op {minimal.rate:,.0f}",
            ratio, ">= 0.6", ratio >= 0.6),
        Row("sessions", "persisted vs our own no-op", f"{real.rate:,.0f}", f"our no-op {noop.rate:,.0f}", own_ratio),
        Row("memory", "worker peak RSS (sessions)", mib(real.peak_rss_kib), f"no-op {mib(noop.peak_rss_kib)}"),
    ]
    if points:
        first, last = points[0], points[-1]
        growth = (last[1] + last[2]) / max(1, first[1] + first[2])
        lines.append("memory curve (stored: worker main / largest child VmRSS): " +
                     "; ".join(f"{n:,}: {mib(a)} / {mib(b)}" for n, a, b in points))
        rows.append(Row("memory", f"worker RSS after {last[0]:,} vs {first[0]:,}", f"{mib(last[1] + last[2])}",
                        f"{mib(first[1] + first[2])}", growth, "<= 1.1", growth <= 1.1))
    return rows, "\n".join(lines)


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(prog="python -m bench sessions", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3_000,
                        help="messages per drain (3,000: each drain 4-40 s here; 10,000 x 1 round made make bench miss 15 min)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of [minimal, ours no-op, ours stored, explored...], ratios within each round, medians")
    parser.add_argument("--explore", nargs="?", const=",".join(label for label, _, _ in EXPLORE), default="",
                        help="also drain the real task under other settings (all, or the labels given, comma-separated)")
    parser.add_argument("--explore-noop", action="store_true",
                        help="explore with bench.noop instead of the real task (Celery's own cost, no database)")
    parser.add_argument("--memory", type=int, default=0, help="feed this many sessions through one worker, reading its RSS")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    labels = [label.strip() for label in args.explore.split(",") if label.strip()]
    unknown = set(labels) - {label for label, _, _ in EXPLORE}
    if unknown:
        parser.error(f"unknown --explore labels: {', '.join(sorted(unknown))}")
    rows, text = run(args.count, labels, args.memory,
                     "bench.noop" if args.explore_noop else "checkout_sessions.create", args.rounds)
    print(text)
    print(f"(sessions bench: {time.perf_counter() - started:.0f} s)")
    return rows
